"""The settlement ledger's entries, computed: postings, reversals, advances, recoveries.

The ledger is double-entry: every posting is a transaction whose debits equal its
credits. A settlement posts, per facility, fund expense against facility payable per
cost group and treatment, and offsets the advances against the payable. Settling the
same period again after claims changed (re-assessed, resubmitted, withdrawn) reverses
the facility's previous posting and posts the new one; nothing is overwritten. A
facility whose entries did not change posts nothing.

This module is pure: it builds the entries (``claims.schema.LEDGER_SCHEMA`` rows) from frames and
plain values. The store (``claims.store.ledger``) reads the entries already posted and
writes the new ones, and the caller reads the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import polars as pl

from claims.ids import content_id
from claims.schema import LEDGER_SCHEMA
from claims.settle.compute import ZERO, Settlement

ACCOUNTS = (
    "fund_expense",
    "facility_payable",
    "facility_advance",
    "facility_receivable",
    "fund_cash",
)
"""Ledger accounts: the fund's expense, what it owes each facility, advances paid to a
facility (an asset until settled), what a facility owes back after a post-audit, the
fund's cash."""
NO_TEXT = pl.lit(None, pl.String)


def postings(settlement: Settlement) -> pl.DataFrame:
    """The ledger lines a settlement posts (before reversals), per facility.

    Per facility one transaction: debit ``fund_expense`` per treatment and cost group,
    credit ``facility_payable`` with the total; then, when advances exist, a second
    transaction moving min(advances, payable) from ``facility_payable`` to
    ``facility_advance``.
    """
    sid, period = settlement.settlement_id, settlement.period
    every = pl.concat(
        [*_expense_entries(settlement), _advance_offsets(settlement)],
        how="vertical_relaxed",
    )
    return (
        every.select(
            "txn_id",
            pl.lit(sid).alias("settlement_id"),
            pl.lit(period).alias("period"),
            *[
                c
                for c in LEDGER_SCHEMA
                if c not in ("txn_id", "settlement_id", "period")
            ],
        )
        .cast(pl.Schema(LEDGER_SCHEMA))
        .sort("txn_id", "account", "treatment", "cost_group", nulls_last=True)
    )


def _expense_entries(settlement: Settlement) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per facility, ``fund_expense`` debits per treatment and cost group and the
    ``facility_payable`` credit of their total (``txn_id`` … ``memo``, no ids)."""
    groups = settlement.frames["groups"].filter(pl.col("accepted_bhtt") != 0)
    txn = pl.format(
        "{}:{}:settle", pl.lit(settlement.settlement_id), pl.col("ma_cskcb")
    )
    expense = groups.select(
        txn.alias("txn_id"),
        "ma_cskcb",
        pl.lit("settlement").alias("kind"),
        pl.lit("fund_expense").alias("account"),
        "treatment",
        "cost_group",
        pl.col("accepted_bhtt").alias("debit"),
        ZERO.alias("credit"),
        pl.lit("chi phí KCB BHYT được chấp nhận").alias("memo"),
    )
    payable = (
        groups.group_by("ma_cskcb")
        .agg(pl.col("accepted_bhtt").sum().alias("credit"))
        .select(
            txn.alias("txn_id"),
            "ma_cskcb",
            pl.lit("settlement").alias("kind"),
            pl.lit("facility_payable").alias("account"),
            NO_TEXT.alias("treatment"),
            NO_TEXT.alias("cost_group"),
            ZERO.alias("debit"),
            "credit",
            pl.lit("phải trả cơ sở KCB").alias("memo"),
        )
    )
    return expense, payable


def _advance_offsets(settlement: Settlement) -> pl.DataFrame:
    """Per facility with advances, min(advances, payable) moved from
    ``facility_payable`` to ``facility_advance``."""
    facilities = settlement.frames["facilities"]
    offset = pl.min_horizontal("advances", pl.max_horizontal("accepted", ZERO))
    with_advance = facilities.filter(offset > 0).with_columns(offset.alias("_offset"))
    adv_txn = pl.format(
        "{}:{}:advance-offset", pl.lit(settlement.settlement_id), pl.col("ma_cskcb")
    )
    return pl.concat(
        [
            with_advance.select(
                adv_txn.alias("txn_id"),
                "ma_cskcb",
                pl.lit("advance_offset").alias("kind"),
                pl.lit(account).alias("account"),
                NO_TEXT.alias("treatment"),
                NO_TEXT.alias("cost_group"),
                (pl.col("_offset") if side == "debit" else ZERO).alias("debit"),
                (pl.col("_offset") if side == "credit" else ZERO).alias("credit"),
                pl.lit("bù trừ tạm ứng").alias("memo"),
            )
            for account, side in (
                ("facility_payable", "debit"),
                ("facility_advance", "credit"),
            )
        ]
    )


def reversal(entries: pl.DataFrame, settlement_id: str) -> pl.DataFrame:
    """Entries that undo ``entries``: debits and credits swapped, new transaction ids."""
    return entries.with_columns(
        (pl.col("txn_id") + pl.lit(f":reversed-by:{settlement_id}")).alias("txn_id"),
        pl.lit(settlement_id).alias("settlement_id"),
        pl.lit("reversal").alias("kind"),
        pl.col("credit").alias("debit"),
        pl.col("debit").alias("credit"),
        pl.format("đảo bút toán: {}", "memo").alias("memo"),
    )


def fingerprint(entries: pl.DataFrame) -> pl.DataFrame:
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


@dataclass(frozen=True)
class Reposting:
    """What posting a settlement writes: the facilities whose entries changed (their
    active posting becomes this settlement) and the ledger rows (reversals, then the
    new entries); both empty when nothing changed."""

    facilities: list[str]
    entries: pl.DataFrame


def repost(settlement: Settlement, posted: pl.DataFrame) -> Reposting:
    """Compare, per facility of ``settlement``, its entries with ``posted``, the entries
    of the facility's active posting of the period: an unchanged facility posts
    nothing; a changed one gets a reversal of ``posted`` and the new entries."""
    new = postings(settlement)
    facilities = settlement.frames["facilities"]["ma_cskcb"]
    compared = (
        pl.DataFrame({"ma_cskcb": facilities})
        .join(fingerprint(posted).rename({"content": "old"}), on="ma_cskcb", how="left")
        .join(fingerprint(new).rename({"content": "new"}), on="ma_cskcb", how="left")
    )
    changed = compared.filter(
        pl.col("old").fill_null("") != pl.col("new").fill_null("")
    )["ma_cskcb"]
    if changed.len() == 0:
        return Reposting([], pl.DataFrame(schema=LEDGER_SCHEMA))
    undo = reversal(
        posted.filter(pl.col("ma_cskcb").is_in(changed.implode())),
        settlement.settlement_id,
    )
    fresh = new.filter(pl.col("ma_cskcb").is_in(changed.implode()))
    written = pl.concat([undo, fresh]).cast(pl.Schema(LEDGER_SCHEMA))
    return Reposting(changed.to_list(), written)


def advance_id(facility: str, period: str, amount: Decimal, recorded_at: str) -> str:
    """The id of an advance: its facility, period, amount and when it was recorded."""
    return content_id(
        "advance",
        facility=facility,
        period=period,
        amount=str(amount),
        recorded_at=recorded_at,
    )


def advance_entries(
    facility: str, period: str, amount: Decimal, advance_id: str
) -> pl.DataFrame:
    """The transaction recording an advance paid to a facility."""
    return _advance_transaction(
        f"{advance_id}:advance",
        advance_id,
        period,
        facility,
        amount,
        kind="advance",
        memo="tạm ứng cho cơ sở KCB",
    )


def advance_reversal_id(advance_id: str, recorded_at: str) -> str:
    """The id of an advance's reversal: the advance and when the reversal was recorded."""
    return content_id("advance_reversal", advance=advance_id, recorded_at=recorded_at)


def advance_reversal_entries(
    facility: str, period: str, amount: Decimal, advance_id: str, reversal_id: str
) -> pl.DataFrame:
    """The transaction undoing advance ``advance_id``: its amount back from
    ``facility_advance`` to ``fund_cash`` (debit and credit swapped), same period."""
    return _advance_transaction(
        f"{reversal_id}:advance-reversal",
        reversal_id,
        period,
        facility,
        -amount,
        kind="advance_reversal",
        memo=f"đảo tạm ứng {advance_id}",
    )


def _advance_transaction(
    txn_id: str,
    settlement_id: str,
    period: str,
    facility: str,
    amount: Decimal,
    *,
    kind: str,
    memo: str,
) -> pl.DataFrame:
    """``facility_advance`` debited and ``fund_cash`` credited with ``amount`` (a
    negative amount: the other way round)."""
    to_advance, to_cash = max(amount, Decimal(0)), max(-amount, Decimal(0))
    head = (txn_id, settlement_id, period, facility, kind)
    rows = [
        (*head, account, None, None, debit, credit, memo)
        for account, debit, credit in (
            ("facility_advance", to_advance, to_cash),
            ("fund_cash", to_cash, to_advance),
        )
    ]
    return pl.DataFrame(rows, schema=LEDGER_SCHEMA, orient="row")


def audit_entries(audit_id: str, period: str, proposal: pl.DataFrame) -> pl.DataFrame:
    """The entries of an audit's proposal (``ma_cskcb, debit_account, credit_account,
    amount``): one balanced ``recovery`` transaction per facility."""
    txn = pl.format("{}:{}:audit", pl.lit(audit_id), pl.col("ma_cskcb"))
    sides = [
        proposal.select(
            txn.alias("txn_id"),
            pl.lit(audit_id).alias("settlement_id"),
            pl.lit(period).alias("period"),
            "ma_cskcb",
            pl.lit("recovery").alias("kind"),
            pl.col(f"{side}_account").alias("account"),
            NO_TEXT.alias("treatment"),
            NO_TEXT.alias("cost_group"),
            (pl.col("amount") if side == "debit" else ZERO).alias("debit"),
            (pl.col("amount") if side == "credit" else ZERO).alias("credit"),
            pl.lit("hậu kiểm: thu hồi / thanh toán bổ sung").alias("memo"),
        )
        for side in ("debit", "credit")
    ]
    return pl.concat(sides).cast(LEDGER_SCHEMA).sort("txn_id", "account")  # type: ignore[arg-type]


def balances(ledger: pl.DataFrame) -> pl.DataFrame:
    """Balance (debit − credit) per account and facility."""
    return (
        ledger.group_by("account", "ma_cskcb")
        .agg((pl.col("debit").sum() - pl.col("credit").sum()).alias("balance"))
        .sort("account", "ma_cskcb")
    )
