"""Anomaly scores in the store: one row per scored claim and per facility and period.

Tables ``anomaly_scores`` (:data:`SCORES_SCHEMA`) and ``anomaly_facilities``
(:data:`FACILITIES_SCHEMA`), both written per period: scoring a period again replaces
its rows of both tables in one transaction. Each row carries the scoring's id and the
pack and catalog labels of the reference it was scored with, as decisions do. The
review queue reads :func:`scores_of`.
"""

from __future__ import annotations

import duckdb
import polars as pl

from claims.money import MONEY
from claims.schema import table_schema
from claims.store.runs import append_table, has_table, sql

SCORES = "anomaly_scores"
FACILITIES = "anomaly_facilities"
SCORES_SCHEMA: dict[str, pl.DataType] = {
    "period": pl.String(),
    "ma_cskcb": pl.String(),
    "ma_lk": pl.String(),
    "file_id": pl.String(),
    "hoso_idx": pl.UInt32(),
    "t_bhtt": MONEY,
    "risk": pl.Float64(),
    "statistic": pl.Float64(),
    "peer_group": pl.String(),
    "peer_n": pl.Int64(),
    "top_features": pl.String(),
    "explanation": pl.String(),
    "scoring_id": pl.String(),
    "pack": pl.String(),
    "catalogs": pl.String(),
}
"""``t_bhtt``: the claim's claimed T_BHTT (what an evaluation weighs recall by);
``top_features``: the explained features' names, ``;``-joined, largest first."""
FACILITIES_SCHEMA: dict[str, pl.DataType] = {
    "period": pl.String(),
    "ma_cskcb": pl.String(),
    "level": pl.String(),
    "claims": pl.Int64(),
    "mean_risk": pl.Float64(),
    "claims_z": pl.Float64(),
    "median_cost": pl.Float64(),
    "earlier_median_cost": pl.Float64(),
    "trend_z": pl.Float64(),
    "statistic": pl.Float64(),
    "risk": pl.Float64(),
    "scoring_id": pl.String(),
}


def write_scores(
    con: duckdb.DuckDBPyConnection,
    period: str,
    scores: pl.DataFrame,
    facilities: pl.DataFrame,
) -> None:
    """Replace ``period``'s rows of both tables with these, in one transaction.

    Raises:
        ValueError: a row of ``scores`` or ``facilities`` is of another period.
    """
    for name, frame in ((SCORES, scores), (FACILITIES, facilities)):
        other = frame.filter(pl.col("period") != period).height
        if other:
            msg = f"{other} row(s) of {name} are not of period {period}"
            raise ValueError(msg)
    sql(con, "BEGIN TRANSACTION")
    try:
        for name, frame, schema in (
            (SCORES, scores, SCORES_SCHEMA),
            (FACILITIES, facilities, FACILITIES_SCHEMA),
        ):
            if has_table(con, name):
                sql(con, f'DELETE FROM "{name}" WHERE period = ?', [period])
            append_table(con, name, frame.select(list(schema)).cast(pl.Schema(schema)))
        sql(con, "COMMIT")
    except Exception:
        sql(con, "ROLLBACK")
        raise


def scores_of(
    con: duckdb.DuckDBPyConnection, period: str, facility: str | None = None
) -> pl.DataFrame:
    """The stored scores of ``period`` (one facility, or all), riskiest first (ties by
    MA_CSKCB, MA_LK); empty when the period was not scored."""
    return _read(
        con, SCORES, SCORES_SCHEMA, period, facility, "risk DESC, statistic DESC"
    )


def facility_scores_of(
    con: duckdb.DuckDBPyConnection, period: str, facility: str | None = None
) -> pl.DataFrame:
    """The stored facility risks of ``period``, riskiest first."""
    return _read(con, FACILITIES, FACILITIES_SCHEMA, period, facility, "risk DESC")


def scored_periods(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The periods the store holds scores of, in order."""
    if not has_table(con, SCORES):
        return []
    return [
        str(r[0]) for r in sql(con, f"SELECT DISTINCT period FROM {SCORES} ORDER BY 1")
    ]


def score_of(con: duckdb.DuckDBPyConnection, ma_cskcb: str, ma_lk: str) -> pl.DataFrame:
    """The stored scores of one claim, newest period first (empty when never scored)."""
    if not has_table(con, SCORES):
        return pl.DataFrame(schema=SCORES_SCHEMA)
    frame: pl.DataFrame = con.sql(
        f"SELECT * FROM {SCORES} WHERE ma_cskcb = ? AND ma_lk = ? ORDER BY period DESC",
        params=[ma_cskcb, ma_lk],
    ).pl()
    return frame.select(list(SCORES_SCHEMA)).cast(pl.Schema(SCORES_SCHEMA))


def period_tables(
    con: duckdb.DuckDBPyConnection,
    year: int,
    month: int,
    columns: dict[str, tuple[str, ...]],
) -> dict[str, pl.DataFrame]:
    """``columns`` (table → its columns) of XML1, XML2 and XML3 of the current, not
    withdrawn claims declaring ``year``-``month`` (NAM_QT/THANG_QT), typed as validation
    types them: what a scoring reads, and no more (every column of every table, as
    ``claims.store.read.stored_claims`` reads them, would take gigabytes for a large
    month).

    Raises:
        LookupError: the store holds no claims yet.
    """
    if not has_table(con, "claims"):
        msg = "the store holds no claims yet; run `giamdinh run` first"
        raise LookupError(msg)

    def listed(table: str, alias: str) -> str:
        return ", ".join(f'{alias}."{c}"' for c in columns[table])

    xml1: pl.DataFrame = con.sql(
        f"SELECT {listed('XML1', 'c')} FROM claims c WHERE c.is_current "
        "AND NOT c.withdrawn AND c.nam_qt = ? AND c.thang_qt = ?",
        params=[year, month],
    ).pl()
    tables = {"XML1": xml1}
    con.register("_keys", xml1.select("file_id", "hoso_idx").to_arrow())
    try:
        for table in ("XML2", "XML3"):
            view = table.lower()
            tables[table] = (
                con.sql(
                    f"SELECT {listed(table, 'v')} FROM {view} v "
                    "JOIN _keys USING (file_id, hoso_idx)"
                ).pl()
                if has_table(con, view)
                else pl.DataFrame(schema={c: pl.String() for c in columns[table]})
            )
    finally:
        con.unregister("_keys")
    return {name: _typed(name, frame, columns[name]) for name, frame in tables.items()}


def _typed(table: str, frame: pl.DataFrame, columns: tuple[str, ...]) -> pl.DataFrame:
    schema = table_schema(table)
    return frame.select(columns).cast(pl.Schema({c: schema[c] for c in columns}))


def median_costs(con: duckdb.DuckDBPyConnection, year: int, month: int) -> pl.DataFrame:
    """``ma_cskcb, median_cost`` (T_TONGCHI_BV, as a float for a trend) of the current,
    not withdrawn claims declaring ``year``-``month``; empty when there are none."""
    schema = {"ma_cskcb": pl.String(), "median_cost": pl.Float64()}
    if not has_table(con, "claims"):
        return pl.DataFrame(schema=schema)
    frame: pl.DataFrame = con.sql(
        "SELECT ma_cskcb, median(CAST(t_tongchi_bv AS DOUBLE)) AS median_cost "
        "FROM claims WHERE is_current AND NOT withdrawn AND nam_qt = ? AND thang_qt = ? "
        "GROUP BY ma_cskcb ORDER BY ma_cskcb",
        params=[year, month],
    ).pl()
    return frame.cast(pl.Schema(schema))


def _read(
    con: duckdb.DuckDBPyConnection,
    table: str,
    schema: dict[str, pl.DataType],
    period: str,
    facility: str | None,
    order: str,
) -> pl.DataFrame:
    if not has_table(con, table):
        return pl.DataFrame(schema=schema)
    where, params = "period = ?", [period]
    if facility is not None:
        where += " AND ma_cskcb = ?"
        params.append(facility)
    frame: pl.DataFrame = con.sql(
        f"SELECT * FROM {table} WHERE {where} ORDER BY {order}, ma_cskcb"
        + (", ma_lk" if table == SCORES else ""),
        params=params,
    ).pl()
    return frame.select(list(schema)).cast(pl.Schema(schema))
