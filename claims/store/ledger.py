"""The settlement ledger in the DuckDB store: advances, postings, ledger entries.

Tables: ``ledger`` (``claims.schema.LEDGER_SCHEMA``, append-only), ``advances``
(one row per advance) and ``postings`` (which settlement is the active posting of a
facility and period). This module reads and writes them; the entries it writes are
computed by ``claims.settle.ledger`` and every time stamp is given by the caller. Each
write is one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import duckdb
import polars as pl

from claims.money import MONEY
from claims.schema import LEDGER_SCHEMA
from claims.store.runs import append_table, has_table, sql

POSTINGS_SCHEMA: dict[str, pl.DataType] = {
    "period": pl.String(),
    "ma_cskcb": pl.String(),
    "settlement_id": pl.String(),
    "active": pl.Boolean(),
    "posted_at": pl.String(),
}
ADVANCES_SCHEMA: dict[str, pl.DataType] = {
    "advance_id": pl.String(),
    "ma_cskcb": pl.String(),
    "period": pl.String(),
    "amount": MONEY,
    "recorded_at": pl.String(),
}


def _table(
    con: duckdb.DuckDBPyConnection,
    name: str,
    schema: dict[str, pl.DataType],
    where: str = "TRUE",
    params: list[object] | None = None,
) -> pl.DataFrame:
    if not has_table(con, name):
        return pl.DataFrame(schema=schema)
    frame: pl.DataFrame = con.sql(
        f'SELECT * FROM "{name}" WHERE {where}', params=params or []
    ).pl()
    return frame.cast(pl.Schema(schema))


def _in_transaction(
    con: duckdb.DuckDBPyConnection, tables: Sequence[tuple[str, pl.DataFrame]]
) -> None:
    """Append each frame to its table, all or nothing."""
    sql(con, "BEGIN TRANSACTION")
    try:
        for name, frame in tables:
            append_table(con, name, frame)
        sql(con, "COMMIT")
    except Exception:
        sql(con, "ROLLBACK")
        raise


def advance_count(con: duckdb.DuckDBPyConnection) -> int:
    """How many advances are recorded (``claims.settle.ledger.advance_id`` hashes it)."""
    return _table(con, "advances", ADVANCES_SCHEMA).height


def append_advance(
    con: duckdb.DuckDBPyConnection,
    entries: pl.DataFrame,
    *,
    advance_id: str,
    facility: str,
    period: str,
    amount: Decimal,
    recorded_at: str,
) -> None:
    """Record an advance paid to ``facility`` for ``period`` and its ledger ``entries``."""
    row = pl.DataFrame(
        [(advance_id, facility, period, amount, recorded_at)],
        schema=ADVANCES_SCHEMA,
        orient="row",
    )
    _in_transaction(con, [("advances", row), ("ledger", entries)])


def advances_for(
    con: duckdb.DuckDBPyConnection, periods: list[str], facility: str | None
) -> pl.DataFrame:
    """``ma_cskcb, amount`` of the advances recorded for any of ``periods``."""
    frame = _table(con, "advances", ADVANCES_SCHEMA).filter(
        pl.col("period").is_in(periods)
    )
    if facility is not None:
        frame = frame.filter(pl.col("ma_cskcb") == facility)
    return frame.select("ma_cskcb", "amount")


def posted_periods(
    con: duckdb.DuckDBPyConnection, facilities: Sequence[str], *, other_than: str
) -> list[str]:
    """The periods but ``other_than`` with an active posting for any of ``facilities``."""
    active = _table(
        con, "postings", POSTINGS_SCHEMA, "active AND period <> ?", [other_than]
    )
    if active.height == 0:
        return []
    mine = active.filter(pl.col("ma_cskcb").is_in(list(facilities)))
    return list(mine["period"].unique().to_list())


def posted_entries(
    con: duckdb.DuckDBPyConnection, period: str, facilities: Sequence[str]
) -> pl.DataFrame:
    """The settlement and advance-offset entries of the active postings of ``period``
    for ``facilities``."""
    active = _table(con, "postings", POSTINGS_SCHEMA, "period = ? AND active", [period])
    active = active.filter(pl.col("ma_cskcb").is_in(list(facilities)))
    ledger = _table(
        con,
        "ledger",
        LEDGER_SCHEMA,
        "period = ? AND kind IN ('settlement', 'advance_offset')",
        [period],
    )
    return ledger.join(
        active.select("ma_cskcb", "settlement_id"),
        on=["ma_cskcb", "settlement_id"],
        how="inner",
    )


def append_posting(
    con: duckdb.DuckDBPyConnection,
    entries: pl.DataFrame,
    *,
    period: str,
    settlement_id: str,
    facilities: Sequence[str],
    posted_at: str,
) -> None:
    """Make ``settlement_id`` the active posting of ``facilities`` for ``period`` (the
    previous one stops being active) and append its ledger ``entries``."""
    changed = pl.DataFrame(
        {"ma_cskcb": list(facilities)}, schema={"ma_cskcb": pl.String}
    )
    marks = changed.select(
        pl.lit(period).alias("period"),
        "ma_cskcb",
        pl.lit(settlement_id).alias("settlement_id"),
        pl.lit(True).alias("active"),
        pl.lit(posted_at).alias("posted_at"),
    )
    sql(con, "BEGIN TRANSACTION")
    try:
        if has_table(con, "postings"):
            con.register("_changed", changed.to_arrow())
            sql(
                con,
                "UPDATE postings SET active = false WHERE period = ? AND active "
                "AND ma_cskcb IN (SELECT ma_cskcb FROM _changed)",
                [period],
            )
            con.unregister("_changed")
        append_table(con, "postings", marks)
        if entries.height:
            append_table(con, "ledger", entries)
        sql(con, "COMMIT")
    except Exception:
        sql(con, "ROLLBACK")
        raise


def ledger_of(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every ledger row."""
    return _table(con, "ledger", LEDGER_SCHEMA)


def has_entries(con: duckdb.DuckDBPyConnection, settlement_id: str) -> bool:
    """Whether the ledger holds entries of ``settlement_id`` (a settlement, an advance
    or an audit)."""
    posted = _table(con, "ledger", LEDGER_SCHEMA, "settlement_id = ?", [settlement_id])
    return posted.height > 0


def append_entries(con: duckdb.DuckDBPyConnection, entries: pl.DataFrame) -> None:
    """Append ledger ``entries`` (none: nothing is written)."""
    if entries.height:
        append_table(con, "ledger", entries)
