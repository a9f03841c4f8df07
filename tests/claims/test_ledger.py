"""Ledger entries on literal settlement frames: every transaction balances, a reversal
negates what it reverses, a reposting touches only the facilities that changed."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest

from claims.money import MONEY
from claims.schema import LEDGER_SCHEMA
from claims.settle import (
    ACCOUNTS,
    Settlement,
    advance_entries,
    audit_entries,
    balances,
    postings,
    repost,
    reversal,
)

D = Decimal
A, B = "01001", "01002"


def _settlement(
    sid: str,
    groups: list[tuple[str, str, str, str]],
    advances: dict[str, str] | None = None,
) -> Settlement:
    """Settlement ``sid`` of 2026-10: ``groups`` are (facility, treatment, cost group,
    accepted T_BHTT); ``advances`` per facility."""
    frame = pl.DataFrame(
        [(f, t, g, D(v)) for f, t, g, v in groups],
        schema={
            "ma_cskcb": pl.String,
            "treatment": pl.String,
            "cost_group": pl.String,
            "accepted_bhtt": MONEY,
        },
        orient="row",
    )
    accepted = frame.group_by("ma_cskcb").agg(pl.col("accepted_bhtt").sum())
    facilities = accepted.select(
        "ma_cskcb",
        pl.col("accepted_bhtt").alias("accepted"),
        pl.col("ma_cskcb")
        .replace_strict(
            {k: D(v) for k, v in (advances or {}).items()},
            default=D(0),
            return_dtype=MONEY,
        )
        .alias("advances"),
    ).sort("ma_cskcb")
    return Settlement(sid, "2026-10", {"groups": frame, "facilities": facilities})


def _unbalanced(entries: pl.DataFrame) -> pl.DataFrame:
    """Transactions whose debits differ from their credits."""
    return (
        entries.group_by("txn_id")
        .agg((pl.col("debit").sum() - pl.col("credit").sum()).alias("off"))
        .filter(pl.col("off") != 0)
    )


def _balance(entries: pl.DataFrame, account: str, facility: str) -> Decimal:
    found = balances(entries).filter(
        (pl.col("account") == account) & (pl.col("ma_cskcb") == facility)
    )
    return found["balance"].sum() if found.height else D(0)


SETTLEMENT = _settlement(
    "s1",
    [
        (A, "outpatient", "exam", "30000.00"),
        (A, "outpatient", "drugs", "120000.50"),
        (A, "inpatient", "beds", "0.00"),
        (B, "inpatient", "surgery", "2500000.00"),
    ],
    advances={B: "1000000.00"},
)


def test_every_settlement_transaction_balances_and_pays_what_was_accepted() -> None:
    entries = postings(SETTLEMENT)
    assert entries.schema == pl.Schema(LEDGER_SCHEMA)
    assert _unbalanced(entries).height == 0
    assert set(entries["account"]) <= set(ACCOUNTS)
    assert set(entries["settlement_id"]) == {"s1"}
    assert set(entries["period"]) == {"2026-10"}
    expense = entries.filter(pl.col("account") == "fund_expense")
    # one debit per non-zero treatment and cost group
    assert sorted(expense.select("ma_cskcb", "cost_group").rows()) == [
        (A, "drugs"),
        (A, "exam"),
        (B, "surgery"),
    ]
    assert _balance(entries, "fund_expense", A) == D("150000.50")
    assert _balance(entries, "fund_expense", B) == D("2500000.00")
    # the fund owes A all it accepted; B's advance is offset against its payable
    assert _balance(entries, "facility_payable", A) == D("-150000.50")
    assert _balance(entries, "facility_payable", B) == D("-1500000.00")
    assert _balance(entries, "facility_advance", B) == D("-1000000.00")
    offsets = entries.filter(pl.col("kind") == "advance_offset")
    assert set(offsets["ma_cskcb"]) == {B}
    assert offsets["txn_id"].n_unique() == 1


def test_an_advance_above_the_payable_offsets_only_the_payable() -> None:
    small = _settlement("s2", [(A, "outpatient", "exam", "30000.00")], {A: "50000.00"})
    entries = postings(small)
    assert _unbalanced(entries).height == 0
    offset = entries.filter(pl.col("kind") == "advance_offset")
    assert offset["debit"].sum() == D("30000.00")
    assert _balance(entries, "facility_payable", A) == 0


def test_a_reversal_negates_its_entries() -> None:
    entries = postings(SETTLEMENT)
    undo = reversal(entries, "s9")
    assert undo.height == entries.height
    assert _unbalanced(undo).height == 0
    assert undo["debit"].to_list() == entries["credit"].to_list()
    assert undo["credit"].to_list() == entries["debit"].to_list()
    assert set(undo["kind"]) == {"reversal"}
    assert set(undo["settlement_id"]) == {"s9"}
    assert not set(undo["txn_id"]) & set(entries["txn_id"])
    both = pl.concat([entries, undo])
    assert (balances(both)["balance"] == 0).all()


def test_reposting_touches_only_the_facilities_whose_entries_changed() -> None:
    first = repost(SETTLEMENT, pl.DataFrame(schema=LEDGER_SCHEMA))
    assert sorted(first.facilities) == [A, B]
    assert first.entries.sort("txn_id", "account", "cost_group").equals(
        postings(SETTLEMENT).sort("txn_id", "account", "cost_group")
    )
    same = _settlement("s2", SETTLEMENT.frames["groups"].rows(), {B: "1000000.00"})
    unchanged = repost(same, first.entries)
    assert unchanged.facilities == []
    assert unchanged.entries.height == 0
    # A's drugs are cut after a resubmission: A is reversed and reposted, B is not
    cut = [
        r if r[2] != "drugs" else (A, r[1], "drugs", "20000.00")
        for r in same.frames["groups"].rows()
    ]
    changed = repost(_settlement("s3", cut, {B: "1000000.00"}), first.entries)
    assert changed.facilities == [A]
    assert set(changed.entries["ma_cskcb"]) == {A}
    assert _unbalanced(changed.entries).height == 0
    assert set(changed.entries["kind"]) == {"reversal", "settlement"}
    ledger = pl.concat([first.entries, changed.entries])
    assert _balance(ledger, "facility_payable", A) == D("-50000.00")
    assert _balance(ledger, "fund_expense", A) == D("50000.00")
    assert _balance(ledger, "facility_payable", B) == D("-1500000.00")


def test_an_advance_is_one_balanced_transaction_from_the_fund_s_cash() -> None:
    entries = advance_entries(B, "2026-10", D("1000000.00"), "adv1")
    assert entries.schema == pl.Schema(LEDGER_SCHEMA)
    assert _unbalanced(entries).height == 0
    assert entries["txn_id"].n_unique() == 1
    assert _balance(entries, "facility_advance", B) == D("1000000.00")
    assert _balance(entries, "fund_cash", B) == D("-1000000.00")
    # once settled, the advance account of B is back to zero
    ledger = pl.concat([entries, postings(SETTLEMENT)])
    assert _balance(ledger, "facility_advance", B) == 0
    assert _unbalanced(ledger).height == 0


@pytest.mark.parametrize(
    ("debit", "credit"),
    [("facility_receivable", "fund_expense"), ("fund_expense", "facility_payable")],
)
def test_an_audit_posts_one_balanced_recovery_per_facility(
    debit: str, credit: str
) -> None:
    proposal = pl.DataFrame(
        {
            "ma_cskcb": [A, B],
            "debit_account": [debit, debit],
            "credit_account": [credit, credit],
            "amount": [D("120000.00"), D("5000.50")],
        },
        schema_overrides={"amount": MONEY},
    )
    entries = audit_entries("audit-1", "2026-10", proposal)
    assert entries.schema == pl.Schema(LEDGER_SCHEMA)
    assert _unbalanced(entries).height == 0
    assert entries["txn_id"].n_unique() == 2
    assert set(entries["kind"]) == {"recovery"}
    assert _balance(entries, debit, A) == D("120000.00")
    assert _balance(entries, credit, B) == D("-5000.50")
