"""The pricing baseline: DuckDB range joins building ``claims.price``'s 18 columns.

The engine's ``price_lines`` is re-run on the batch's lines (timed) and the SQL of
:func:`claims.bench.baselines_sql.price_sql` runs on the same lines and resolved
catalogs; every line's 18 columns must agree. The built-in catalogs have no end dates
and no facility row for a national code, so the wrong variants (``date < valid_to``,
the national row preferred) could not differ on them: they run on a sample of the lines
against :func:`edge_catalogs`, the same catalogs with those cases made at the sampled
lines' own keys and dates, where the engine and the right SQL must still agree.
"""

from __future__ import annotations

import time

import duckdb
import polars as pl

from catalogs.resolve import VERSION
from claims.bench.baselines_rules import Timed
from claims.bench.baselines_sql import PRICE_INPUTS, PRICE_VARIANTS, price_sql
from claims.pipeline.stages import Frames
from claims.price import PRICE_SCHEMA, PriceCatalogs, price_lines
from claims.schema import CLAIM_KEYS

PRICE_KEYS = ["table", *CLAIM_KEYS, "line_no"]
CODES = {"drugs": "ma_thuoc", "services": "ma_dich_vu", "supplies": "ma_vat_tu"}
"""Each price catalog's code column."""


def differing(
    ours: pl.DataFrame,
    theirs: pl.DataFrame,
    keys: list[str],
    columns: list[str],
    *,
    every: bool,
) -> int:
    """Rows whose ``columns`` differ between ``ours`` and ``theirs`` (joined on
    ``keys``). ``every``: a row on one side only differs; otherwise only the rows of
    ``ours`` count (one missing from ``theirs`` differs). A key twice differs too."""
    theirs = theirs.select(*keys, *columns).cast(
        {c: ours.schema[c] for c in (*keys, *columns)}
    )
    joined = ours.select(*keys, *columns).join(
        theirs,
        on=keys,
        how="full" if every else "left",
        suffix="_sql",
        nulls_equal=True,
        coalesce=True,
    )
    differs = pl.any_horizontal(
        [~pl.col(c).eq_missing(pl.col(f"{c}_sql")) for c in columns]
    )
    doubled = theirs.height - theirs.select(keys).unique().height
    return int(joined.select(differs.sum()).item()) + doubled


def differing_sql(
    con: duckdb.DuckDBPyConnection,
    ours: pl.DataFrame,
    theirs: str,
    keys: list[str],
    columns: list[str],
    *,
    every: bool,
) -> int:
    """:func:`differing` inside DuckDB, against the table ``theirs`` (a day's lines
    without a second copy of them in polars). ``keys`` are never null."""
    con.register("_ours", ours.select(*keys, *columns))
    on = " AND ".join(f'o."{k}" = t."{k}"' for k in keys)
    differ = " OR ".join(f'o."{c}" IS DISTINCT FROM t."{c}"' for c in [*keys, *columns])
    how = "FULL" if every else "LEFT"
    query = f"SELECT count(*) FILTER (WHERE {differ}) FROM _ours o {how} JOIN {theirs} t ON {on}"
    found = con.execute(query).fetchall()
    names = ", ".join(f'"{k}"' for k in keys)
    doubled = con.execute(
        f"SELECT count(*) - (SELECT count(*) FROM (SELECT DISTINCT {names} FROM {theirs})) "
        f"FROM {theirs}"
    ).fetchall()
    con.unregister("_ours")
    return int(found[0][0]) + int(doubled[0][0])


def price_inputs(done: Frames) -> tuple[pl.DataFrame, pl.DataFrame]:
    """XML2 and XML3 with the claim's facility, as the price stage joins them."""
    facility = done.tables["XML1"].select(*CLAIM_KEYS, "ma_cskcb")
    xml2, xml3 = (
        done.tables[t].join(facility, on=list(CLAIM_KEYS), how="left")
        for t in ("XML2", "XML3")
    )
    return xml2, xml3


def _connect(
    xml2: pl.DataFrame, xml3: pl.DataFrame, prices: PriceCatalogs
) -> duckdb.DuckDBPyConnection:
    """A DuckDB with the lines and catalogs as tables (loaded, not timed)."""
    con = duckdb.connect()
    frames = {"xml2": xml2, "xml3": xml3}
    for name, frame in frames.items():
        con.register("_in", frame.select(PRICE_INPUTS[name]))
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM _in")
        con.unregister("_in")
    for name, catalog in zip(CODES, prices, strict=True):
        wanted = ["ma_cskcb", CODES[name], "valid_from", "valid_to", "don_gia", VERSION]
        wanted += [
            c for c in ("tyle_tt_bh", "tran_tt", "max_per_day") if c in catalog.columns
        ]
        missing = {
            "tyle_tt_bh": "BIGINT",
            "tran_tt": "DECIMAL(38, 2)",
            "max_per_day": "BIGINT",
        }
        con.register("_in", catalog.select(wanted))
        nulls = "".join(
            f", NULL::{t} AS {c}"
            for c, t in missing.items()
            if c not in catalog.columns
        )
        con.execute(f"CREATE TABLE {name} AS SELECT *{nulls} FROM _in")
        con.unregister("_in")
    return con


def pricing_baseline(done: Frames, prices: PriceCatalogs, sample: int) -> Timed:
    """The engine's ``price_lines`` and :func:`price_sql` on the batch's lines, timed,
    compared on every line and column; the wrong variants on :func:`edge_catalogs`."""
    xml2, xml3 = price_inputs(done)
    started = time.perf_counter()
    price_lines(xml2, xml3, prices)  # the engine's time on the same inputs
    engine_s = time.perf_counter() - started
    con = _connect(xml2, xml3, prices)
    started = time.perf_counter()
    con.execute(f"CREATE TABLE out AS {price_sql()}")
    seconds = time.perf_counter() - started
    columns = [c for c in PRICE_SCHEMA if c not in PRICE_KEYS]
    stage = done.need("prices", done.prices)  # the engine's output in the pipeline
    mismatches = differing_sql(con, stage, "out", PRICE_KEYS, columns, every=True)
    con.close()
    head2, head3 = xml2.head(sample), xml3.head(sample)
    edge = edge_catalogs(prices, price_lines(head2, head3, prices))
    want = price_lines(head2, head3, edge)
    con = _connect(head2, head3, edge)
    found = {
        v: differing(want, con.sql(price_sql(v)).pl(), PRICE_KEYS, columns, every=True)
        for v in PRICE_VARIANTS
    }
    con.close()
    right = found.pop(PRICE_VARIANTS[0])
    detail: dict[str, object] = {
        "edge_lines": want.height,
        "edge_right_sql": right,
        "wrong_variants": found,
    }
    total = mismatches + right
    return Timed(
        seconds, stage.height, total, next(iter(found.values())), detail, engine_s
    )


def edge_catalogs(prices: PriceCatalogs, priced: pl.DataFrame) -> PriceCatalogs:
    """``prices`` with the as-of edge cases at the keys of ``priced`` lines.

    Per (catalog, facility, code) priced by a facility row, that row ends on the key's
    first line date and a new row (price + 1) starts the next day, so ``date <
    valid_to`` misprices the line on the cut date. Per (facility, code) priced by a
    national row, the facility gets its own row at the national price + 2, so
    preferring the national row misprices it.
    """
    out = []
    for name, catalog in zip(CODES, prices, strict=True):
        code = CODES[name]
        mine = priced.filter(pl.col("catalog") == name).rename({"code": code})
        cuts = (
            mine.filter(pl.col("catalog_scope") == "facility")
            .group_by("ma_cskcb", code)
            .agg(pl.col("line_date").min().alias("_cut"))
        )
        rows = catalog.join(cuts, on=["ma_cskcb", code], how="left", nulls_equal=False)
        cut = (
            pl.col("_cut").is_not_null()
            & (pl.col("_cut") >= pl.col("valid_from"))
            & (pl.col("valid_to").is_null() | (pl.col("_cut") < pl.col("valid_to")))
        )
        old = rows.with_columns(
            pl.when(cut)
            .then(pl.col("_cut"))
            .otherwise(pl.col("valid_to"))
            .alias("valid_to")
        )
        new = rows.filter(cut).with_columns(
            (pl.col("_cut") + pl.duration(days=1)).alias("valid_from"),
            pl.col("don_gia") + 1,
        )
        national = (
            mine.filter(pl.col("catalog_scope") == "national")
            .select(pl.col("ma_cskcb").alias("_own"), code)
            .unique()
            .join(catalog.filter(pl.col("ma_cskcb").is_null()), on=code)
            .with_columns(pl.col("_own").alias("ma_cskcb"), pl.col("don_gia") + 2)
        )
        parts = [old.drop("_cut"), new.drop("_cut"), national.drop("_own")]
        out.append(
            pl.concat([p.select(catalog.columns).cast(catalog.schema) for p in parts])
        )
    return PriceCatalogs(*out)
