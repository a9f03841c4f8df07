"""The methods of the pricing benchmark next to the engine's ``price_lines``, and the
check that they agree with it (see ``benchmarks/pricing.py``).

* ``engine_stages``: a step-by-step copy of ``price_lines`` (the as-of joins inlined),
  timed per step and checked equal to the engine (``--stages``);
* ``price_by_rows``: the ``rows`` prototype (integer keys, equi-join with a date filter,
  row numbers scattered, one gather);
* ``DUCKDB_SQL``, ``DUCKDB_PRICE_SQL``: plain DuckDB range joins building the engine's
  output, and the bare join (the catalog price only).

The step-by-step copy and the prototype reuse ``price_lines``' own pieces
(``probe_lines``, ``priced_lines`` and the private ``_unified``, the catalogs in one
shape), so they cannot drift from the engine's output columns.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl

from benchmarks.common import Laps
from catalogs.resolve import VERSION
from claims.bench.baselines_sql import price_sql
from claims.dates import line_date
from claims.price import PriceCatalogs, _unified, priced_lines, probe_lines

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
    """``price_lines`` with ``catalogs.resolve.as_of`` inlined, step by step, timed."""
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
        parts.append(priced_lines(joined.drop("_i"), table))
        lap("output columns")
    out = pl.concat(parts)
    lap("concat tables")
    return out


class _Keyed(NamedTuple):
    """The prototype's catalog: row numbers under integer keys, and its columns."""

    keys: Callable[[pl.Expr, pl.Expr, pl.Expr], list[pl.Expr]]
    """(facility, code, catalog index) → the ``fk`` and ``ck`` key expressions."""
    by_facility: pl.DataFrame
    national: pl.DataFrame
    attached: pl.DataFrame


def _keyed(prices: PriceCatalogs) -> _Keyed:
    """Facility, code and catalog as small integers through Enums of the catalog's own
    values (a value not in the catalog becomes null and matches nothing); ``fk`` keys
    the facility rows, ``ck`` the national ones."""
    catalog = pl.concat(
        [
            _unified(prices.drugs, "drugs", "ma_thuoc"),
            _unified(prices.services, "services", "ma_dich_vu"),
            _unified(prices.supplies, "supplies", "ma_vat_tu"),
        ]
    )
    facility = pl.Enum(catalog["ma_cskcb"].drop_nulls().unique().sort())
    codes = pl.Enum(catalog["code"].drop_nulls().unique().sort())
    width = len(CATALOGS) * codes.categories.len()

    def keys(fac: pl.Expr, code: pl.Expr, index: pl.Expr) -> list[pl.Expr]:
        ck = code.cast(codes, strict=False).to_physical().cast(pl.UInt64) * len(
            CATALOGS
        ) + index.cast(pl.UInt64)
        fk = fac.cast(facility, strict=False).to_physical().cast(pl.UInt64) * width + ck
        return [fk.alias("fk"), ck.alias("ck")]

    index = pl.col("catalog").replace_strict(
        {name: i for i, name in enumerate(CATALOGS)}, return_dtype=pl.UInt64
    )
    rows = catalog.with_row_index("_r").select(
        "_r", *keys(pl.col("ma_cskcb"), pl.col("code"), index), "valid_from", "valid_to"
    )
    attached = catalog.select(
        *ATTACHED,
        pl.when(pl.col("ma_cskcb").is_null())
        .then(pl.lit("national"))
        .otherwise(pl.lit("facility"))
        .alias("catalog_scope"),
    )
    return _Keyed(
        keys,
        rows.filter(pl.col("fk").is_not_null()).drop("ck"),
        rows.filter(pl.col("fk").is_null()).drop("fk"),
        attached,
    )


def price_by_rows(
    xml2: pl.DataFrame, xml3: pl.DataFrame, prices: PriceCatalogs, lap: Laps
) -> pl.DataFrame:
    """Prototype: each line's catalog row number by integer-key equi-join, then a gather.

    A catalog key's rows never overlap, so at most one row per line survives the date
    filter; its number is scattered into one array per table, the national pass only
    runs over lines still without a row, and the catalog's columns are gathered once by
    that array.
    """
    keyed = _keyed(prices)
    lap("catalogs: unified shape, integer keys")
    parts = [
        _rows_of_table(spec, lines, keyed, lap)
        for spec, lines in zip(TABLES, (xml2, xml3), strict=True)
    ]
    out = pl.concat(parts)
    lap("concat tables")
    return out


def _rows_of_table(
    spec: tuple[Any, ...], lines: pl.DataFrame, keyed: _Keyed, lap: Laps
) -> pl.DataFrame:
    """One table's lines priced by the prototype (:func:`price_by_rows`)."""
    table, catalog_name, catalog_index, code, claimed = spec
    valid = (pl.col("line_date") >= pl.col("valid_from")) & (
        pl.col("valid_to").is_null() | (pl.col("line_date") <= pl.col("valid_to"))
    )
    probe = probe_lines(lines, catalog_name, code, claimed)
    lap("probe columns")
    lines_keyed = lines.select(
        *keyed.keys(pl.col("ma_cskcb"), code, catalog_index),
        line_date().alias("line_date"),
    ).with_row_index("_i")
    lap("line keys (strings to Enum)")
    row = pl.repeat(None, probe.height, dtype=pl.UInt32, eager=True)
    dated = pl.col("line_date").is_not_null()
    hit = (
        lines_keyed.filter(pl.col("fk").is_not_null() & dated)
        .join(keyed.by_facility, on="fk", how="inner")
        .filter(valid)
    )
    lap("equi-join + date filter: facility")
    row.scatter(hit["_i"], hit["_r"])
    lap("scatter row numbers")
    rest = lines_keyed.filter(row.is_null() & pl.col("ck").is_not_null() & dated)
    hit = rest.join(keyed.national, on="ck", how="inner").filter(valid)
    lap("equi-join + date filter: national")
    row.scatter(hit["_i"], hit["_r"])
    lap("scatter row numbers")
    found = pl.concat([probe, keyed.attached[row]], how="horizontal")
    lap("gather catalog columns")
    out = priced_lines(found, table)
    lap("output columns")
    return out


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
