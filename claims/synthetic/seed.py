"""Seed the built-in price catalogs from the generator's price list (synthetic data).

No facility's registered catalog is public, so the built-in ``drugs``, ``services`` and
``supplies`` catalogs are written from the same deterministic price list the claim
generator bills with (:func:`claims.synthetic.items.price_list`): generated claims price
cleanly except where a fault is injected. Drugs and supplies are facility rows (tender
prices differ by facility); exams and bed-days are facility rows (their price follows the
facility's tier); other services are national rows (one regulated price). The
``practitioners``, ``departments`` and ``equipment`` catalogs hold every doctor,
department (with beds) and machine the generator names (:mod:`claims.synthetic.registry`).

Rewrite them with ``python -m claims.synthetic.seed`` after changing the generator's items.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from catalogs.loader import BUILTIN_ROOT, CatalogVersion, load_versions, write_version
from claims.synthetic.items import drug_items, price_list, xml3_items
from claims.synthetic.registry import (
    department_rows,
    equipment_rows,
    practitioner_rows,
)
from claims.synthetic.sign import certificate_rows

VERSION = "2019-01-01"
RECORDED_AT = "2026-11-28T00:00:00"
SOURCE = (
    "synthetic (seeded from the claim generator's price list); structure per §3.2–§3.4"
)


REGISTRIES = ("practitioners", "departments", "equipment")
CERTIFICATES_SOURCE = (
    "synthetic: the generator's fixed TEST certificate (claims.synthetic.sign) for "
    "every facility, so generated days pass with signatures mandatory; never real"
)
REGISTRY_SOURCE = (
    "synthetic (the generator's registries, claims.synthetic.registry); "
    "structure per §3.6–§3.8"
)


def _manifest(catalog_id: str, source: str = SOURCE) -> dict[str, object]:
    return {
        "id": catalog_id,
        "version": VERSION,
        "effective_from": VERSION,
        "effective_to": None,
        "recorded_at": RECORDED_AT,
        "source": source,
    }


def _prices(facilities: pl.DataFrame) -> pl.DataFrame:
    return price_list(facilities.select("ma_cskcb", "tier")).rename(
        {"unit_price": "don_gia"}
    )


def build_drugs(facilities: pl.DataFrame) -> pl.DataFrame:
    """One row per facility and drug, at the facility's tender price."""
    items = drug_items().select(
        pl.col("ma_thuoc").alias("code"),
        pl.col("ma_thuoc"),
        pl.col("ten").alias("ten_hoat_chat"),
        pl.col("ten").alias("ten_thuoc"),
        "duong_dung",
        "ham_luong",
        "don_vi_tinh",
        "so_dang_ky",
        pl.col("nhom_thau").alias("tt_thau"),
        "tyle_tt_bh",
    )
    prices = _prices(facilities).filter(pl.col("table") == "XML2")
    return (
        prices.join(items, on="code", how="inner")
        .select("ma_cskcb", *[c for c in items.columns if c != "code"], "don_gia")
        .with_columns(valid_from=pl.lit(None, pl.Date), valid_to=pl.lit(None, pl.Date))
        .sort("ma_cskcb", "ma_thuoc")
    )


def build_services(facilities: pl.DataFrame) -> pl.DataFrame:
    """Exam and bed-day prices per facility (tier prices); other services national."""
    items = xml3_items().filter(pl.col("kind") != "supply")
    by_facility = items.filter(pl.col("kind").is_in(["exam", "bed"]))
    columns = ("ma_cskcb", "ma_dich_vu", "ten_dich_vu", "ma_nhom", "don_gia")
    prices = _prices(facilities).filter(pl.col("table") == "XML3")
    facility_rows = prices.join(
        by_facility.select(
            pl.col("ma_dich_vu").alias("code"),
            "ma_dich_vu",
            pl.col("ten").alias("ten_dich_vu"),
            "ma_nhom",
        ),
        on="code",
        how="inner",
    ).select(columns)
    national = items.filter(~pl.col("kind").is_in(["exam", "bed"])).select(
        pl.lit(None, pl.String).alias("ma_cskcb"),
        "ma_dich_vu",
        pl.col("ten").alias("ten_dich_vu"),
        "ma_nhom",
        _text(pl.col("base_milli")).alias("don_gia"),
    )
    return (
        pl.concat([national, facility_rows])
        .with_columns(
            max_per_day=pl.lit(None, pl.Int64),
            valid_from=pl.lit(None, pl.Date),
            valid_to=pl.lit(None, pl.Date),
        )
        .sort("ma_cskcb", "ma_dich_vu", nulls_last=False)
    )


def build_supplies(facilities: pl.DataFrame) -> pl.DataFrame:
    """One row per facility and supply, at the facility's tender price."""
    items = xml3_items().filter(pl.col("kind") == "supply")
    prices = _prices(facilities).filter(pl.col("table") == "XML3")
    return (
        prices.join(
            items.select(
                pl.col("ma_vat_tu").alias("code"),
                "ma_vat_tu",
                pl.col("ten").alias("ten_vat_tu"),
                "ma_nhom",
                "don_vi_tinh",
                "tyle_tt_bh",
            ),
            on="code",
            how="inner",
        )
        .select(
            "ma_cskcb",
            "ma_vat_tu",
            "ten_vat_tu",
            "ma_nhom",
            "don_vi_tinh",
            "don_gia",
            "tyle_tt_bh",
        )
        .with_columns(
            tran_tt=pl.lit(None, pl.String),
            valid_from=pl.lit(None, pl.Date),
            valid_to=pl.lit(None, pl.Date),
        )
        .sort("ma_cskcb", "ma_vat_tu")
    )


def build_practitioners(facilities: pl.DataFrame) -> pl.DataFrame:
    """Every doctor the generator names, with departments (:mod:`.registry`)."""
    return practitioner_rows(facilities)


def _text(milli: pl.Expr) -> pl.Expr:
    """Thousandths of a đồng as price text with 3 decimals."""
    fraction = (milli % 1000 + 1000).cast(pl.String).str.slice(1)
    return pl.concat_str((milli // 1000).cast(pl.String), pl.lit("."), fraction)


def write_seed(
    root: Path = BUILTIN_ROOT, ids: tuple[str, ...] | None = None
) -> list[CatalogVersion]:
    """Write the synthetic catalogs under ``root`` (facilities read from it).

    Args:
        root: the catalog root.
        ids: only these catalogs (None: all of them).
    """
    facilities = load_versions("facilities", root if root != BUILTIN_ROOT else None)[
        -1
    ].rows
    builders = {
        "drugs": build_drugs,
        "services": build_services,
        "supplies": build_supplies,
        "practitioners": build_practitioners,
        "departments": department_rows,
        "equipment": equipment_rows,
        "certificates": certificate_rows,
    }
    out = []
    for catalog_id, build in builders.items():
        if ids is not None and catalog_id not in ids:
            continue
        source = REGISTRY_SOURCE if catalog_id in REGISTRIES else SOURCE
        source = CERTIFICATES_SOURCE if catalog_id == "certificates" else source
        out.append(
            write_version(
                root / catalog_id / VERSION,
                _manifest(catalog_id, source),
                build(facilities),
                parquet=True,
            )
        )
    return out


if __name__ == "__main__":
    for version in write_seed():
        print(version.path, version.rows.height, version.label)
