"""The settlement ledger in the DuckDB store: advances, postings, ledger entries.

Tables: ``ledger`` (``claims.schema.LEDGER_SCHEMA``, append-only), ``advances``
(one row per advance), ``advance_reversals`` (one row per reversed advance) and
``postings`` (which settlement is the active posting of a facility and period). This
module reads and writes them; the entries it writes are computed by
``claims.settle.ledger`` and every time stamp is given by the caller. Each write is one
transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
ADVANCE_REVERSALS_SCHEMA: dict[str, pl.DataType] = {
    "reversal_id": pl.String(),
    "advance_id": pl.String(),
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
    con: duckdb.DuckDBPyConnection,
    tables: Sequence[tuple[str, pl.DataFrame]],
    also: Callable[[duckdb.DuckDBPyConnection], object] | None = None,
) -> None:
    """Append each frame to its table and run ``also`` (e.g. the audit-trail event),
    all or nothing."""
    sql(con, "BEGIN TRANSACTION")
    try:
        for name, frame in tables:
            append_table(con, name, frame)
        if also is not None:
            also(con)
        sql(con, "COMMIT")
    except Exception:
        sql(con, "ROLLBACK")
        raise


def advance_count(con: duckdb.DuckDBPyConnection) -> int:
    """How many advances are recorded (reversed ones included)."""
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
    also: Callable[[duckdb.DuckDBPyConnection], object] | None = None,
) -> None:
    """Record an advance paid to ``facility`` for ``period`` and its ledger ``entries``
    (and run ``also`` in the same transaction)."""
    row = pl.DataFrame(
        [(advance_id, facility, period, amount, recorded_at)],
        schema=ADVANCES_SCHEMA,
        orient="row",
    )
    _in_transaction(con, [("advances", row), ("ledger", entries)], also)


def advances_of(
    con: duckdb.DuckDBPyConnection,
    *,
    facility: str | None = None,
    periods: Sequence[str] | None = None,
) -> pl.DataFrame:
    """The advances recorded (of ``facility``, for any of ``periods``; None: all), each
    with ``reversal_id`` and ``reversed_at`` (null while it stands), in recording order."""
    frame = _table(con, "advances", ADVANCES_SCHEMA)
    if facility is not None:
        frame = frame.filter(pl.col("ma_cskcb") == facility)
    if periods is not None:
        frame = frame.filter(pl.col("period").is_in(list(periods)))
    reversals = _table(con, "advance_reversals", ADVANCE_REVERSALS_SCHEMA).rename(
        {"recorded_at": "reversed_at"}
    )
    return frame.join(reversals, on="advance_id", how="left").sort(
        "recorded_at", "advance_id"
    )


def advances_for(
    con: duckdb.DuckDBPyConnection, periods: list[str], facility: str | None
) -> pl.DataFrame:
    """``ma_cskcb, amount`` of the advances recorded for any of ``periods`` and not
    reversed."""
    standing = advances_of(con, facility=facility, periods=periods)
    return standing.filter(pl.col("reversal_id").is_null()).select("ma_cskcb", "amount")


def append_advance_reversal(
    con: duckdb.DuckDBPyConnection,
    entries: pl.DataFrame,
    *,
    reversal_id: str,
    advance_id: str,
    recorded_at: str,
    also: Callable[[duckdb.DuckDBPyConnection], object] | None = None,
) -> None:
    """Record that ``advance_id`` is reversed, with the ledger ``entries`` undoing it
    (and run ``also`` in the same transaction)."""
    row = pl.DataFrame(
        [(reversal_id, advance_id, recorded_at)],
        schema=ADVANCE_REVERSALS_SCHEMA,
        orient="row",
    )
    _in_transaction(con, [("advance_reversals", row), ("ledger", entries)], also)


def ledger_periods(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The periods the ledger holds entries of, sorted."""
    if not has_table(con, "ledger"):
        return []
    rows = sql(con, "SELECT DISTINCT period FROM ledger ORDER BY period")
    return [str(r[0]) for r in rows]


def advance_balances(
    con: duckdb.DuckDBPyConnection, periods: Sequence[str], facility: str | None
) -> pl.DataFrame:
    """``ma_cskcb, amount``: per facility, the ``facility_advance`` balance (debit −
    credit) of the ledger entries of ``periods``: the advances not netted yet."""
    entries = _table(
        con,
        "ledger",
        LEDGER_SCHEMA,
        "account = 'facility_advance' AND list_contains(?, period)",
        [list(periods)],
    )
    if facility is not None:
        entries = entries.filter(pl.col("ma_cskcb") == facility)
    return (
        entries.group_by("ma_cskcb")
        .agg((pl.col("debit").sum() - pl.col("credit").sum()).alias("amount"))
        .sort("ma_cskcb")
    )


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
    also: Callable[[duckdb.DuckDBPyConnection], object] | None = None,
) -> None:
    """Make ``settlement_id`` the active posting of ``facilities`` for ``period`` (the
    previous one stops being active) and append its ledger ``entries``; ``also`` (e.g.
    the posting's audit-trail event) runs in the same transaction."""
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
        if also is not None:
            also(con)
        sql(con, "COMMIT")
    except Exception:
        sql(con, "ROLLBACK")
        raise


def ledger_of(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every ledger row."""
    return _table(con, "ledger", LEDGER_SCHEMA)


def postings_of(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every ``postings`` row (``POSTINGS_SCHEMA``): which settlement posted which
    facility and period, when, and whether it is still the active posting."""
    return _table(con, "postings", POSTINGS_SCHEMA)


def has_entries(con: duckdb.DuckDBPyConnection, settlement_id: str) -> bool:
    """Whether the ledger holds entries of ``settlement_id`` (a settlement, an advance
    or an audit)."""
    posted = _table(con, "ledger", LEDGER_SCHEMA, "settlement_id = ?", [settlement_id])
    return posted.height > 0


def append_entries(
    con: duckdb.DuckDBPyConnection,
    entries: pl.DataFrame,
    also: Callable[[duckdb.DuckDBPyConnection], object] | None = None,
) -> None:
    """Append ledger ``entries`` (none: nothing is written) and run ``also`` (e.g. the
    posting's audit-trail event) in the same transaction."""
    if entries.height:
        _in_transaction(con, [("ledger", entries)], also)
