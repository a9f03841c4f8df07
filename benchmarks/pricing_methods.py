"""The methods of the pricing benchmark next to the engine's ``price_lines``, and the
check that they agree with it (see ``benchmarks/pricing.py``).

* ``engine_stages``: ``price_lines`` step by step from its own pieces (``keyed_catalog``,
  ``probe_keys``, ``line_keys``, ``row_numbers``, ``price_output``), timed per step and
  checked equal to the engine (``--stages``);
* ``price_by_asof``: the previous engine (until 2026-12-03): per table a backward
  ``join_asof`` on the facility rows, then on the national rows for the lines left,
  re-joined to the lines by row index; timed per step;
* ``DUCKDB_SQL``, ``DUCKDB_PRICE_SQL``: plain DuckDB range joins building the engine's
  output, and the bare join (the catalog price only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from benchmarks.common import Laps
from catalogs.resolve import VERSION
from claims.bench.baselines_sql import price_sql
from claims.errors import ReasonCode as R
from claims.price import (
    HASHED_FROM,
    PRICE_SCHEMA,
    PriceCatalogs,
    _unified,
    keyed_catalog,
    line_keys,
    price_output,
    probe_keys,
    probe_lines,
    row_numbers,
)
from claims.price import TABLES as ENGINE_TABLES

CATALOGS = ("drugs", "services", "supplies")
KEY = ["table", "line_no"]

# ---------------------------------------------------------------- methods


SUPPLY = pl.col("ma_vat_tu").is_not_null()
TABLES = (
    # table, catalog name, catalog index in CATALOGS, code, claimed price column
    ("XML2", pl.lit("drugs"), pl.lit(0), pl.col("ma_thuoc"), "don_gia"),
    (
        "XML3",
        pl.when(SUPPLY).then(pl.lit("supplies")).otherwise(pl.lit("services")),
        pl.when(SUPPLY).then(2).otherwise(1),
        pl.coalesce("ma_vat_tu", "ma_dich_vu"),
        "don_gia_bh",
    ),
)
ATTACHED = ["don_gia", "tyle_tt_bh", "tran_tt", "max_per_day", VERSION]


def engine_stages(
    xml2: pl.DataFrame, xml3: pl.DataFrame, prices: PriceCatalogs, lap: Laps
) -> pl.DataFrame:
    """``price_lines`` from its own pieces, step by step, timed."""
    keyed = keyed_catalog(prices, hashed=xml2.height + xml3.height >= HASHED_FROM)
    lap("catalogs: integer keys, row index, output columns")
    parts = []
    for table, lines in zip(ENGINE_TABLES, (xml2, xml3), strict=True):
        probe = probe_keys(lines, table)
        lap("probe columns")
        keys = line_keys(probe, keyed)
        lap("line keys (strings to Enum numbers)")
        rows = row_numbers(keys, keyed)
        lap("row numbers (facility rows, then national)")
        parts.append(price_output(probe, rows, keyed, table.name))
        lap("gather catalog columns, output columns")
    out = pl.concat(parts)
    lap("concat tables")
    return out


def price_by_asof(
    xml2: pl.DataFrame, xml3: pl.DataFrame, prices: PriceCatalogs, lap: Laps
) -> pl.DataFrame:
    """The previous engine (``catalogs.resolve.as_of`` inlined), step by step, timed."""
    drugs = _unified(prices.drugs, "drugs", "ma_thuoc")
    xml3_catalog = pl.concat(
        [
            _unified(prices.services, "services", "ma_dich_vu"),
            _unified(prices.supplies, "supplies", "ma_vat_tu"),
        ]
    )
    lap("catalogs: unified shape")
    parts = []
    for (table, catalog, _, code, claimed), lines, resolved in zip(
        TABLES, (xml2, xml3), (drugs, xml3_catalog), strict=True
    ):
        probe = probe_lines(lines, catalog, code, claimed)
        lap("probe columns")
        indexed = probe.with_row_index("_i")
        left = indexed.select("_i", "code", "line_date", "ma_cskcb", "catalog").filter(
            pl.col("line_date").is_not_null() & pl.col("code").is_not_null()
        )
        lap("row index")
        left = left.sort("line_date")
        lap("sort lines by date")
        found: list[pl.DataFrame] = []
        passes = (
            (
                ["ma_cskcb", "code", "catalog"],
                pl.col("ma_cskcb").is_not_null(),
                "facility",
            ),
            (["code", "catalog"], pl.col("ma_cskcb").is_null(), "national"),
        )
        for by, subset, scope in passes:
            right = (
                resolved.filter(subset)
                .select(*by, "valid_from", "valid_to", *ATTACHED)
                .sort("valid_from")
            )
            lap("sort catalog by valid_from")
            if found:
                left = left.join(found[-1].select("_i"), on="_i", how="anti")
                lap("anti join: lines left for national")
            hit = left.join_asof(
                right,
                left_on="line_date",
                right_on="valid_from",
                by=by,
                strategy="backward",
                check_sortedness=False,
            )
            lap(f"join_asof {scope}")
            hit = hit.filter(
                pl.col(VERSION).is_not_null()
                & (
                    pl.col("valid_to").is_null()
                    | (pl.col("line_date") <= pl.col("valid_to"))
                )
            )
            found.append(
                hit.select("_i", *ATTACHED, pl.lit(scope).alias("catalog_scope"))
            )
            lap("valid_to filter")
        matched = pl.concat(found)
        lap("concat passes")
        joined = indexed.join(matched, on="_i", how="left", maintain_order="left")
        lap("re-join to lines by row index")
        parts.append(_priced_lines(joined.drop("_i"), table))
        lap("output columns")
    out = pl.concat(parts)
    lap("concat tables")
    return out


def _priced_lines(found: pl.DataFrame, table: str) -> pl.DataFrame:
    """The previous engine's output: probe rows with their catalog row's columns."""
    priced = pl.col("don_gia").is_not_null()
    claimed, catalog = pl.col("claimed_price"), pl.col("don_gia")
    return found.select(
        "file_id",
        "hoso_idx",
        pl.lit(table).alias("table"),
        *("line_no", "ma_cskcb", "catalog", "code", "line_date"),
        *("claimed_price", "claimed_ratio"),
        catalog.alias("catalog_price"),
        pl.when(priced)
        .then(pl.col("tyle_tt_bh").fill_null(100))
        .alias("catalog_ratio"),
        pl.col("tran_tt").alias("catalog_ceiling"),
        pl.col("max_per_day").alias("catalog_max_per_day"),
        "catalog_scope",
        VERSION,
        pl.when(catalog.is_null() | claimed.is_null())
        .then(0)
        .otherwise(pl.min_horizontal(claimed, catalog))
        .alias("payable_price"),
        pl.when(~priced).then(pl.lit(R.NOT_IN_CATALOG.value)).alias("reason_code"),
    ).cast(pl.Schema(PRICE_SCHEMA))


DUCKDB_SQL = price_sql()
"""The range joins building the engine's 18 output columns (``claims.bench.baselines_sql``,
which ``giamdinh bench national-day`` runs too)."""


DUCKDB_PRICE_SQL = """
WITH lines AS (
    SELECT 'XML2' AS "table", line_no, ma_cskcb, 'drugs' AS catalog, ma_thuoc AS code,
           CAST(coalesce(ngay_th_yl, ngay_yl) AS DATE) AS line_date
    FROM xml2
    UNION ALL
    SELECT 'XML3', line_no, ma_cskcb,
           CASE WHEN ma_vat_tu IS NULL THEN 'services' ELSE 'supplies' END,
           coalesce(ma_vat_tu, ma_dich_vu), CAST(coalesce(ngay_th_yl, ngay_yl) AS DATE)
    FROM xml3
), catalog AS (
    SELECT 'drugs' AS catalog, ma_cskcb, ma_thuoc AS code, valid_from,
           coalesce(valid_to, DATE '9999-12-31') AS valid_to, don_gia FROM drugs
    UNION ALL
    SELECT 'services', ma_cskcb, ma_dich_vu, valid_from,
           coalesce(valid_to, DATE '9999-12-31'), don_gia FROM services
    UNION ALL
    SELECT 'supplies', ma_cskcb, ma_vat_tu, valid_from,
           coalesce(valid_to, DATE '9999-12-31'), don_gia FROM supplies
)
SELECT l."table", l.line_no, coalesce(f.don_gia, n.don_gia) AS catalog_price
FROM lines l
LEFT JOIN catalog f
    ON f.catalog = l.catalog AND f.ma_cskcb = l.ma_cskcb AND f.code = l.code
    AND l.line_date BETWEEN f.valid_from AND f.valid_to
LEFT JOIN catalog n
    ON n.catalog = l.catalog AND n.ma_cskcb IS NULL AND n.code = l.code
    AND l.line_date BETWEEN n.valid_from AND n.valid_to
"""
"""The bare range joins: the catalog price of each line and nothing else."""


# ---------------------------------------------------------------- check


def compare(work: Path, method: str) -> dict[str, Any]:
    """Lines on which ``method``'s output differs from the engine's, per column."""
    theirs = pl.read_parquet(work / f"out-{method}.parquet")
    ours = pl.read_parquet(work / "out-engine.parquet", columns=theirs.columns)
    theirs = theirs.cast(ours.schema)  # type: ignore[arg-type]
    if ours.height != theirs.height:
        return {"rows": theirs.height, "engine_rows": ours.height, "mismatches": -1}
    ours = ours.sort(KEY)
    theirs = theirs.sort(KEY)
    differs = {c: ~ours[c].eq_missing(theirs[c]) for c in ours.columns}
    any_column = pl.select(pl.any_horizontal(list(differs.values()))).to_series()
    return {
        "mismatches": int(differs["catalog_price"].sum()),
        "lines_differing_in_any_column": int(any_column.sum()),
        "columns_differing": {c: int(d.sum()) for c, d in differs.items() if d.any()},
    }


def priced_by(work: Path) -> dict[str, int]:
    """How the engine priced the lines: by facility row, national row, or not at all."""
    scope = pl.read_parquet(work / "out-engine.parquet", columns=["catalog_scope"])
    counts = scope["catalog_scope"].fill_null("not_in_catalog").value_counts()
    return dict(zip(counts["catalog_scope"], counts["count"], strict=True))
