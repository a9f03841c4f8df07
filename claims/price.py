"""As-of pricing: every drug, service and supply line joined to its catalog row.

The catalog row is the facility's own (or the national one where the facility has none)
valid on the line's date: NGAY_TH_YL, or NGAY_YL where it is empty (``claims.dates``).
XML2 lines are drugs (MA_THUOC); XML3 lines with a MA_VAT_TU are supplies, the others
services (MA_DICH_VU). A line with no valid row is flagged ``NOT_IN_CATALOG``: it stays
with its claim and the payment stage pays nothing for it. The catalog price, payment
ratio and ceiling are carried beside the claimed figures, with ``payable_price`` (the
lower of claimed and catalog, 0 off-catalog): payment never pays a unit above it.
Two ``join_asof`` per catalog, no per-row Python.
"""

from __future__ import annotations

from typing import NamedTuple

import polars as pl

from catalogs.resolve import VERSION, Catalog, as_of
from claims.dates import line_date
from claims.errors import ReasonCode as R

PRICE_SCHEMA: dict[str, pl.DataType] = {
    "file_id": pl.String(),
    "hoso_idx": pl.UInt32(),
    "table": pl.String(),
    "line_no": pl.UInt32(),
    "ma_cskcb": pl.String(),
    "catalog": pl.String(),
    "code": pl.String(),
    "line_date": pl.Date(),
    "claimed_price": pl.Decimal(38, 3),
    "claimed_ratio": pl.Int64(),
    "catalog_price": pl.Decimal(38, 3),
    "catalog_ratio": pl.Int64(),
    "catalog_ceiling": pl.Decimal(38, 2),
    "catalog_max_per_day": pl.Int64(),
    "catalog_scope": pl.String(),
    VERSION: pl.String(),
    "payable_price": pl.Decimal(38, 3),
    "reason_code": pl.String(),
}
"""One row per priced line: what was claimed next to what the catalog says."""


class PriceCatalogs(NamedTuple):
    """The resolved price catalogs a run prices against."""

    drugs: pl.DataFrame
    services: pl.DataFrame
    supplies: pl.DataFrame

    @classmethod
    def of(cls, catalogs: dict[str, Catalog]) -> PriceCatalogs:
        """Resolve the three price catalogs (as currently recorded)."""
        return cls(
            catalogs["drugs"].resolve(),
            catalogs["services"].resolve(),
            catalogs["supplies"].resolve(),
        )


def price_lines(
    xml2: pl.DataFrame, xml3: pl.DataFrame, prices: PriceCatalogs
) -> pl.DataFrame:
    """Price the drug lines (XML2) and the service and supply lines (XML3).

    Args:
        xml2: drug lines with ``file_id, hoso_idx, line_no, ma_cskcb``, ``ma_thuoc``,
            ``don_gia``, ``tyle_tt_bh``, ``ngay_yl``, ``ngay_th_yl``.
        xml3: service and supply lines with the same keys, ``ma_dich_vu``,
            ``ma_vat_tu``, ``don_gia_bh``, ``tyle_tt_bh``, ``ngay_yl``, ``ngay_th_yl``.
        prices: the resolved catalogs.

    Returns:
        One row per input line, drugs first, each table in input order
        (:data:`PRICE_SCHEMA`).
    """
    drugs = _unified(prices.drugs, "drugs", "ma_thuoc")
    xml3_catalog = pl.concat(
        [
            _unified(prices.services, "services", "ma_dich_vu"),
            _unified(prices.supplies, "supplies", "ma_vat_tu"),
        ]
    )
    supply = pl.col("ma_vat_tu").is_not_null()
    parts = [
        _price(xml2, "XML2", pl.lit("drugs"), pl.col("ma_thuoc"), "don_gia", drugs),
        _price(
            xml3,
            "XML3",
            pl.when(supply).then(pl.lit("supplies")).otherwise(pl.lit("services")),
            pl.coalesce("ma_vat_tu", "ma_dich_vu"),
            "don_gia_bh",
            xml3_catalog,
        ),
    ]
    return pl.concat(parts)


def _unified(resolved: pl.DataFrame, catalog: str, code: str) -> pl.DataFrame:
    """A price catalog in the shape all three share (absent columns are null)."""

    def column(name: str, dtype: pl.DataType) -> pl.Expr:
        value = pl.col(name) if name in resolved.columns else pl.lit(None)
        return value.cast(dtype).alias(name)

    return resolved.select(
        "ma_cskcb",
        pl.lit(catalog).alias("catalog"),
        pl.col(code).alias("code"),
        "valid_from",
        "valid_to",
        "don_gia",
        column("tyle_tt_bh", pl.Int64()),
        column("tran_tt", pl.Decimal(38, 2)),
        column("max_per_day", pl.Int64()),
        VERSION,
    )


def payable_price(claimed: pl.Expr, catalog: pl.Expr) -> pl.Expr:
    """The most a unit can be paid at: the lower of claimed and catalog; 0 off-catalog.

    A null claimed price (a line the validator let through without one) pays nothing.
    """
    lower = pl.min_horizontal(claimed, catalog)
    return (
        pl.when(catalog.is_null() | claimed.is_null())
        .then(0)
        .otherwise(lower)
        .cast(pl.Decimal(38, 3))
    )


def _price(
    lines: pl.DataFrame,
    table: str,
    catalog: pl.Expr,
    code: pl.Expr,
    claimed: str,
    resolved: pl.DataFrame,
) -> pl.DataFrame:
    found = as_of(
        probe_lines(lines, catalog, code, claimed),
        resolved,
        code=("code", "code"),
        on="line_date",
        columns=["don_gia", "tyle_tt_bh", "tran_tt", "max_per_day"],
        by=["catalog"],
    )
    return priced_lines(found, table)


def probe_lines(
    lines: pl.DataFrame, catalog: pl.Expr, code: pl.Expr, claimed: str
) -> pl.DataFrame:
    """What pricing looks up per line: keys, catalog, code, date, the claimed figures."""
    return lines.select(
        "file_id",
        "hoso_idx",
        "line_no",
        "ma_cskcb",
        catalog.alias("catalog"),
        code.alias("code"),
        line_date().alias("line_date"),
        pl.col(claimed).alias("claimed_price"),
        pl.col("tyle_tt_bh").alias("claimed_ratio"),
    )


def priced_lines(found: pl.DataFrame, table: str) -> pl.DataFrame:
    """Probe rows with their catalog row's columns as :data:`PRICE_SCHEMA`."""
    priced = pl.col("don_gia").is_not_null()
    return found.select(
        "file_id",
        "hoso_idx",
        pl.lit(table).alias("table"),
        "line_no",
        "ma_cskcb",
        "catalog",
        "code",
        "line_date",
        "claimed_price",
        "claimed_ratio",
        pl.col("don_gia").alias("catalog_price"),
        # a catalog without ratios (services) pays 100 % of its price
        pl.when(priced)
        .then(pl.col("tyle_tt_bh").fill_null(100))
        .alias("catalog_ratio"),
        pl.col("tran_tt").alias("catalog_ceiling"),
        pl.col("max_per_day").alias("catalog_max_per_day"),
        "catalog_scope",
        VERSION,
        payable_price(pl.col("claimed_price"), pl.col("don_gia")).alias(
            "payable_price"
        ),
        pl.when(~priced).then(pl.lit(R.NOT_IN_CATALOG.value)).alias("reason_code"),
    ).cast(pl.Schema(PRICE_SCHEMA))


PRICE_CATALOGS = ("drugs", "services", "supplies")
"""The catalogs that price lines, in the order warnings name them."""


def unpriced_warnings(prices: pl.DataFrame, limit: float) -> list[str]:
    """One warning per price catalog that leaves more than ``limit`` of its lines unpriced.

    A share of ``NOT_IN_CATALOG`` lines that high is rarely the claims' fault: a
    ``--catalog-dir`` or catalog version that does not cover the facilities and dates
    claimed prices most lines at 0 without any row being wrong.

    Args:
        prices: the priced lines (:data:`PRICE_SCHEMA`: ``catalog``, ``reason_code``).
        limit: the share (0 to 1) above which a catalog is named
            (``Settings.max_unpriced_share``).

    Returns:
        The warnings, drugs, services then supplies; empty when every share is within
        ``limit`` (and for a run without lines).

    Example:
        >>> unpriced_warnings(done.prices, settings.max_unpriced_share)
        ['drugs: 57 of 60 lines (95.0%) are NOT_IN_CATALOG and paid 0 (…']
    """
    counts = prices.group_by("catalog").agg(
        pl.len().alias("lines"),
        pl.col("reason_code")
        .eq_missing(R.NOT_IN_CATALOG.value)
        .sum()
        .alias("unpriced"),
    )
    found = {row["catalog"]: row for row in counts.iter_rows(named=True)}
    warnings = []
    for catalog in PRICE_CATALOGS:
        row = found.get(catalog)
        if row is None or row["lines"] == 0:
            continue
        share = row["unpriced"] / row["lines"]
        if share > limit:
            warnings.append(
                f"{catalog}: {row['unpriced']:,} of {row['lines']:,} lines ({share:.1%}) "
                f"are NOT_IN_CATALOG and paid 0 (no {catalog} row valid for their "
                f"facility and date), above the limit of {limit:.1%} "
                f"(GIAMDINH_MAX_UNPRICED_SHARE); check --catalog-dir and the "
                f"{catalog} catalog's versions (giamdinh catalogs list)"
            )
    return warnings
