"""The settlement ledger in the DuckDB store: advances, postings, reversals.

Tables: ``ledger`` (:data:`claims.settle.compute.LEDGER_SCHEMA`, append-only), ``advances``
(one row per advance) and ``postings`` (which settlement is the active posting of a
facility and period). Posting a settlement compares, per facility, its entries with the
active posting's: an unchanged facility posts nothing; a changed one gets a reversal of
the active posting and the new entries. Everything is one transaction.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal

import duckdb
import polars as pl

from claims.errors import ConfigError
from claims.money import MONEY
from claims.settle.compute import (
    LEDGER_SCHEMA,
    Settlement,
    advance_entries,
    months_of,
    postings,
    reversal,
)
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
    return frame.cast(schema)  # type: ignore[arg-type]


def record_advance(
    con: duckdb.DuckDBPyConnection, facility: str, period: str, amount: Decimal
) -> str:
    """Record an advance paid to ``facility`` for ``period`` and post it; its id."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    count = _table(con, "advances", ADVANCES_SCHEMA).height
    advance_id = hashlib.sha256(
        f"{facility}|{period}|{amount}|{count}".encode()
    ).hexdigest()[:16]
    row = pl.DataFrame(
        [(advance_id, facility, period, amount, now)],
        schema=ADVANCES_SCHEMA,
        orient="row",
    )
    sql(con, "BEGIN TRANSACTION")
    try:
        append_table(con, "advances", row)
        append_table(
            con, "ledger", advance_entries(facility, period, amount, advance_id)
        )
        sql(con, "COMMIT")
    except Exception:
        sql(con, "ROLLBACK")
        raise
    return advance_id


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


def _fingerprint(entries: pl.DataFrame) -> pl.DataFrame:
    """Per facility, a text of its entries' content (ids left out), for comparison."""
    row = pl.concat_str(
        "kind",
        "account",
        pl.col("treatment").fill_null(""),
        pl.col("cost_group").fill_null(""),
        pl.col("debit").cast(pl.String),
        pl.col("credit").cast(pl.String),
        separator="|",
    )
    return entries.group_by("ma_cskcb").agg(row.sort().str.join("\n").alias("content"))


def post(con: duckdb.DuckDBPyConnection, settlement: Settlement) -> pl.DataFrame:
    """Post a settlement: reverse the changed facilities' active postings, post theirs.

    Returns:
        The ledger rows written (empty when nothing changed).

    Raises:
        ConfigError: a facility of the settlement has an active posting for an
            overlapping period of the other cadence (a month inside a settled quarter,
            or a quarter one of whose months was settled): posting both would pay the
            same claims twice.
    """
    new = postings(settlement)
    period = settlement.period
    refuse_overlaps(con, settlement)
    active = _table(con, "postings", POSTINGS_SCHEMA, "period = ? AND active", [period])
    facilities = settlement.frames["facilities"]["ma_cskcb"]
    active = active.filter(pl.col("ma_cskcb").is_in(facilities.implode()))
    ledger = _table(
        con,
        "ledger",
        LEDGER_SCHEMA,
        "period = ? AND kind IN ('settlement', 'advance_offset')",
        [period],
    )
    old = ledger.join(
        active.select("ma_cskcb", "settlement_id"),
        on=["ma_cskcb", "settlement_id"],
        how="inner",
    )
    old_print = _fingerprint(old).rename({"content": "old"})
    new_print = _fingerprint(new).rename({"content": "new"})
    compared = (
        pl.DataFrame({"ma_cskcb": facilities})
        .join(old_print, on="ma_cskcb", how="left")
        .join(new_print, on="ma_cskcb", how="left")
        .join(
            active.select("ma_cskcb", pl.lit(True).alias("_had")),
            on="ma_cskcb",
            how="left",
        )
    )
    changed = compared.filter(
        pl.col("old").fill_null("") != pl.col("new").fill_null("")
    )["ma_cskcb"]
    if changed.len() == 0:
        return pl.DataFrame(schema=LEDGER_SCHEMA)
    undo = reversal(
        old.filter(pl.col("ma_cskcb").is_in(changed.implode())),
        settlement.settlement_id,
    )
    fresh = new.filter(pl.col("ma_cskcb").is_in(changed.implode()))
    written = pl.concat([undo, fresh]).cast(LEDGER_SCHEMA)  # type: ignore[arg-type]
    now = datetime.now(UTC).isoformat(timespec="seconds")
    marks = pl.DataFrame({"ma_cskcb": changed}).select(
        pl.lit(period).alias("period"),
        "ma_cskcb",
        pl.lit(settlement.settlement_id).alias("settlement_id"),
        pl.lit(True).alias("active"),
        pl.lit(now).alias("posted_at"),
    )
    sql(con, "BEGIN TRANSACTION")
    try:
        if has_table(con, "postings"):
            con.register("_changed", pl.DataFrame({"ma_cskcb": changed}).to_arrow())
            sql(
                con,
                "UPDATE postings SET active = false WHERE period = ? AND active "
                "AND ma_cskcb IN (SELECT ma_cskcb FROM _changed)",
                [period],
            )
            con.unregister("_changed")
        append_table(con, "postings", marks)
        if written.height:
            append_table(con, "ledger", written)
        sql(con, "COMMIT")
    except Exception:
        sql(con, "ROLLBACK")
        raise
    return written


def refuse_overlaps(con: duckdb.DuckDBPyConnection, settlement: Settlement) -> None:
    """Raise ConfigError when a facility of ``settlement`` was posted for an overlapping
    period of the other cadence (see :func:`post`)."""
    months = set(months_of(settlement.period))
    active = _table(
        con, "postings", POSTINGS_SCHEMA, "active AND period <> ?", [settlement.period]
    )
    if active.height == 0:
        return
    facilities = settlement.frames["facilities"]["ma_cskcb"].implode()
    mine = active.filter(pl.col("ma_cskcb").is_in(facilities))
    clash = sorted(
        {p for p in mine["period"].unique().to_list() if months & set(months_of(p))}
    )
    if clash:
        msg = (
            f"period {settlement.period} overlaps {', '.join(clash)}, already posted for "
            "some of its facilities; settle each facility by month or by quarter, not both"
        )
        raise ConfigError(msg)


def ledger_of(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every ledger row."""
    return _table(con, "ledger", LEDGER_SCHEMA)


def balances(ledger: pl.DataFrame) -> pl.DataFrame:
    """Balance (debit − credit) per account and facility."""
    return (
        ledger.group_by("account", "ma_cskcb")
        .agg((pl.col("debit").sum() - pl.col("credit").sum()).alias("balance"))
        .sort("account", "ma_cskcb")
    )


def post_audit(
    con: duckdb.DuckDBPyConnection, audit_id: str, period: str, proposal: pl.DataFrame
) -> pl.DataFrame:
    """Post an audit's proposal (``ma_cskcb, debit_account, credit_account, amount``):
    one balanced ``recovery`` transaction per facility. An audit already posted posts
    nothing again. Returns the rows written."""
    txn = pl.format("{}:{}:audit", pl.lit(audit_id), pl.col("ma_cskcb"))
    posted = _table(con, "ledger", LEDGER_SCHEMA, "settlement_id = ?", [audit_id])
    if posted.height:
        return pl.DataFrame(schema=LEDGER_SCHEMA)
    zero = pl.lit(0).cast(MONEY)
    sides = [
        proposal.select(
            txn.alias("txn_id"),
            pl.lit(audit_id).alias("settlement_id"),
            pl.lit(period).alias("period"),
            "ma_cskcb",
            pl.lit("recovery").alias("kind"),
            pl.col(f"{side}_account").alias("account"),
            pl.lit(None, pl.String).alias("treatment"),
            pl.lit(None, pl.String).alias("cost_group"),
            (pl.col("amount") if side == "debit" else zero).alias("debit"),
            (pl.col("amount") if side == "credit" else zero).alias("credit"),
            pl.lit("hậu kiểm: thu hồi / thanh toán bổ sung").alias("memo"),
        )
        for side in ("debit", "credit")
    ]
    written = pl.concat(sides).cast(LEDGER_SCHEMA).sort("txn_id", "account")  # type: ignore[arg-type]
    if written.height:
        append_table(con, "ledger", written)
    return written
