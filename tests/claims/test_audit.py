"""Post-audit: ``compare`` on literal decisions (recoveries are positive, underpayments
negative, summed per facility and new reason), and ``giamdinh audit --post`` scoped to
one facility after another: each posts its own recoveries under its own id."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from claims.money import MONEY
from claims.pipeline.audit import compare
from tests.conftest import PERIOD, GeneratedDay
from tests.factories import giamdinh, lower_benefit_level_4

D = Decimal
KEYS = {"file_id": pl.String, "hoso_idx": pl.UInt32}


def _settled(rows: list[tuple[int, str, str, str]]) -> pl.DataFrame:
    """(claim, facility, outcome, accepted T_BHTT) as settled."""
    return pl.DataFrame(
        [
            ("f", n, facility, f"LK{n}", PERIOD, outcome, D(accepted))
            for n, facility, outcome, accepted in rows
        ],
        schema={
            **KEYS,
            "ma_cskcb": pl.String,
            "ma_lk": pl.String,
            "period": pl.String,
            "outcome": pl.String,
            "accepted_t_bhtt": MONEY,
        },
        orient="row",
    )


def _audited(rows: list[tuple[int, str, str]]) -> pl.DataFrame:
    """(claim, outcome, accepted T_BHTT) as the audit decided."""
    return pl.DataFrame(
        [("f", n, outcome, D(accepted)) for n, outcome, accepted in rows],
        schema={**KEYS, "outcome": pl.String, "accepted_t_bhtt": MONEY},
        orient="row",
    )


def _reasons(rows: list[tuple[int, str]]) -> pl.DataFrame:
    """(claim, code) reasons; a code starting ``LINE_`` is validation's."""
    return pl.DataFrame(
        [
            ("f", n, code, "validation" if code.startswith("LINE_") else "rule")
            for n, code in rows
        ],
        schema={**KEYS, "code": pl.String, "source": pl.String},
        orient="row",
    )


SETTLED = _settled(
    [
        (1, "A", "accepted", "100.00"),  # audited lower: recovery 30
        (2, "A", "accepted", "50.00"),  # audited higher: underpayment 30
        (3, "B", "pending_review", "40.00"),  # paid nothing yet: listed apart
        (4, "B", "accepted", "20.00"),  # withdrawn since: not audited, unchanged
        (5, "B", "partially_accepted", "60.00"),  # audited rejected: recovery 60
        (6, "C", "accepted", "10.00"),  # audited higher: underpayment 15
        (7, "C", "accepted", "5.00"),  # unchanged
        (8, "C", "accepted", "12.00"),  # the audit sends it to review: listed apart
    ]
)
AUDITED = _audited(
    [
        (1, "partially_accepted", "70.00"),
        (2, "accepted", "80.00"),
        (3, "accepted", "40.00"),
        (5, "rejected", "60.00"),
        (6, "accepted", "25.00"),
        (7, "accepted", "5.00"),
        (8, "pending_review", "12.00"),
    ]
)


@pytest.fixture(scope="module")
def report() -> dict[str, pl.DataFrame]:
    before = _reasons(
        [(1, "OLD"), (2, "OLD"), (2, "LINE_ORPHAN"), (3, "REVIEW"), (5, "OLD")]
    )  # the audit does not validate again: LK2's LINE_ORPHAN is not "removed"
    after = _reasons(
        [
            (1, "OLD"),
            (1, "BENEFIT_RATE_MISMATCH"),
            (2, "OLD"),
            (5, "J1_REJECT"),
            (6, "UNDERCLAIMED"),
            (7, "NEW_BUT_UNCHANGED"),
            (8, "REVIEW"),
        ]
    )
    return compare(SETTLED, before, AUDITED, after)


def _by(frame: pl.DataFrame, key: str) -> dict[str, dict[str, Any]]:
    return {r[key]: r for r in frame.iter_rows(named=True)}


def test_a_recovery_is_positive_and_an_underpayment_negative(
    report: dict[str, pl.DataFrame],
) -> None:
    claims = report["claims"]
    assert claims.select("ma_lk", "difference").rows() == [
        ("LK5", D("60.00")),
        ("LK1", D("30.00")),
        ("LK2", D("-30.00")),
        ("LK6", D("-15.00")),
    ]  # largest first; unchanged, withdrawn and pending claims are left out
    for row in claims.iter_rows(named=True):
        assert row["recovery"] == max(row["difference"], 0)
        assert row["underpayment"] == max(-row["difference"], 0)
        assert row["difference"] == row["settled"] - row["audited"]


def test_claims_pending_review_are_listed_apart_never_recovered_or_paid_issue12(
    report: dict[str, pl.DataFrame],
) -> None:
    """A claim pending review in the settlement was paid nothing yet: an audit that
    accepts it is no underpayment (paying it would skip the review); one the audit
    sends to review is no recovery of all it was paid."""
    pending = _by(report["pending"], "ma_lk")
    assert set(pending) == {"LK3", "LK8"}
    assert (pending["LK3"]["settled_outcome"], pending["LK3"]["audit_outcome"]) == (
        "pending_review",
        "accepted",
    )
    assert (pending["LK3"]["settled"], pending["LK3"]["audited"]) == (0, D("40.00"))
    assert pending["LK8"]["audit_outcome"] == "pending_review"
    assert pending["LK8"]["settled"] == D("12.00")
    assert not set(report["claims"]["ma_lk"]) & set(pending)
    facilities = _by(report["facilities"], "ma_cskcb")
    assert (facilities["B"]["pending_claims"], facilities["C"]["pending_claims"]) == (
        1,
        1,
    )
    assert facilities["B"]["underpayment"] == 0  # LK3's 40 is not owed to B
    assert facilities["C"]["recovery"] == 0  # nor LK8's 12 owed back by C
    posted = set(report["ledger_proposal"]["amount"])
    assert D("40.00") not in posted
    assert D("12.00") not in posted


def test_the_facility_sums_are_the_sums_of_their_claims(
    report: dict[str, pl.DataFrame],
) -> None:
    facilities = _by(report["facilities"], "ma_cskcb")
    assert list(facilities) == ["A", "B", "C"]
    expected = {  # claims pending review counted, not summed
        "A": (2, 2, 0, "150.00", "150.00", "30.00", "30.00", "0.00"),
        "B": (3, 1, 1, "80.00", "20.00", "60.00", "0.00", "60.00"),
        "C": (3, 1, 1, "15.00", "30.00", "0.00", "15.00", "-15.00"),
    }
    columns = (
        "claims",
        "claims_changed",
        "pending_claims",
        "settled",
        "audited",
        "recovery",
        "underpayment",
        "net_recovery",
    )
    for facility, values in expected.items():
        row = facilities[facility]
        got = tuple(row[c] for c in columns)
        assert got == (*values[:3], *(D(v) for v in values[3:])), facility
    total = report["claims"]["difference"].sum()
    assert report["facilities"]["net_recovery"].sum() == total
    assert report["facilities"]["claims"].sum() == SETTLED.height


def test_the_ledger_proposal_recovers_or_pays_each_facility_s_net(
    report: dict[str, pl.DataFrame],
) -> None:
    proposal = _by(report["ledger_proposal"], "ma_cskcb")
    assert set(proposal) == {"B", "C"}  # A nets to zero: nothing to post
    assert (proposal["B"]["debit_account"], proposal["B"]["credit_account"]) == (
        "facility_receivable",
        "fund_expense",
    )
    assert proposal["B"]["amount"] == D("60.00")
    assert (proposal["C"]["debit_account"], proposal["C"]["credit_account"]) == (
        "fund_expense",
        "facility_payable",
    )
    assert proposal["C"]["amount"] == D("15.00")


def test_every_change_is_attributed_to_the_reasons_added_or_removed_issue12(
    report: dict[str, pl.DataFrame],
) -> None:
    rules = {
        (r["code"], r["change"]): (r["claims"], r["recovery"], r["underpayment"])
        for r in report["rules"].iter_rows(named=True)
    }
    assert rules == {
        ("J1_REJECT", "added"): (1, D("60.00"), D("0.00")),
        ("OLD", "removed"): (1, D("60.00"), D("0.00")),  # LK5 lost it
        ("BENEFIT_RATE_MISMATCH", "added"): (1, D("30.00"), D("0.00")),
        ("UNDERCLAIMED", "added"): (1, D("0.00"), D("15.00")),
        (None, "unexplained"): (1, D("0.00"), D("30.00")),  # LK2: same reasons
    }  # unchanged (LK7) and pending claims (LK3, LK8) are not attributed
    assert report["rules"]["code"].to_list()[:2] == ["J1_REJECT", "OLD"]
    # every changed claim is attributed at least once
    unexplained = report["rules"].filter(pl.col("code").is_null())
    explained = report["rules"].filter(pl.col("code").is_not_null())
    assert unexplained["claims"].sum() + 3 == report["claims"].height
    assert explained["recovery"].sum() >= report["claims"]["recovery"].sum()


# ---- giamdinh audit --post, one facility at a time


@pytest.mark.e2e
def test_facility_scoped_audits_each_post_their_recoveries(
    generated_day: GeneratedDay, tmp_path: Path
) -> None:
    settings = generated_day.copy(tmp_path / "data")
    overlay = lower_benefit_level_4(tmp_path / "overlay")
    decisions = generated_day.sql("SELECT * FROM decisions")
    pack = decisions["pack"].drop_nulls().mode()[0].split("#")[0]
    # facilities with claims paid at 80 % of level 4 (the overlay recovers from them),
    # the two smallest first
    hit = decisions.filter(
        (pl.col("benefit_level") == 4)
        & (pl.col("law_muc_huong") == 80)
        & (pl.col("outcome") == "accepted")
    )["ma_cskcb"].unique()
    sizes = decisions.filter(pl.col("ma_cskcb").is_in(hit.implode())).group_by(
        "ma_cskcb"
    )
    first, second = sizes.len().sort("len", "ma_cskcb")["ma_cskcb"][:2]

    def audit(facility: str) -> str:
        done = giamdinh(
            "audit", "--period", PERIOD, "--pack", pack, "--facility", facility,
            "--post", "--data-dir", str(settings.data_dir),
            "--catalog-dir", str(overlay),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stderr

    assert "recovery transaction(s) posted" in audit(first)
    # the second facility's audit is another audit: it posts, it is not "already posted"
    assert "recovery transaction(s) posted" in audit(second)
    with duckdb.connect(str(settings.store_path), read_only=True) as con:
        recoveries = con.sql(
            "SELECT settlement_id, ma_cskcb, account, debit, credit FROM ledger "
            "WHERE kind = 'recovery'"
        ).pl()
    ids = dict(recoveries.select("ma_cskcb", "settlement_id").unique().iter_rows())
    assert set(ids) == {first, second}
    assert ids[first] != ids[second]
    audits = settings.data_dir / "audits" / PERIOD
    assert {p.name for p in audits.iterdir()} == set(ids.values())
    for facility, audit_id in ids.items():
        parts = json.loads((audits / audit_id / "audit.json").read_text("utf-8"))
        assert parts["facility"] == facility
        # what was posted is what this audit proposed
        proposal = pl.read_parquet(audits / audit_id / "ledger_proposal.parquet")
        mine = recoveries.filter(pl.col("settlement_id") == audit_id)
        assert proposal["ma_cskcb"].to_list() == [facility]
        assert mine["debit"].sum() == mine["credit"].sum() == proposal["amount"][0]
        debit = mine.filter(pl.col("debit") > 0)["account"].to_list()
        assert debit == proposal["debit_account"].to_list()


def test_a_facility_scoped_audit_with_the_deciding_pack_changes_nothing(
    generated_day: GeneratedDay, tmp_path: Path
) -> None:
    """Scoping an audit to one facility must not change what the rules see: a stay
    overlapping a stay at another facility stays in review, as it was settled."""
    from claims.pipeline.audit import run_audit

    settings = generated_day.copy(tmp_path / "data")
    decisions = generated_day.sql("SELECT * FROM decisions")
    pack = decisions["pack"].drop_nulls().mode()[0].split("#")[0]
    # the two smallest facilities with a stay overlapping one at another facility
    overlaps = generated_day.truth.filter(pl.col("kind") == "overlapping_stay")
    sizes = decisions.filter(pl.col("ma_cskcb").is_in(overlaps["ma_cskcb"].implode()))
    facilities = sizes.group_by("ma_cskcb").len().sort("len", "ma_cskcb")["ma_cskcb"]
    assert facilities.len() >= 2
    changed = {}
    for facility in facilities[:2]:
        report, _ = run_audit(settings, PERIOD, pack, facility)
        assert report["facilities"]["ma_cskcb"].to_list() == [facility]
        if report["claims"].height:
            changed[facility] = (
                report["claims"]
                .select("ma_lk", "settled", "audited", "audit_outcome")
                .rows()
            )
    assert not changed, f"a facility-scoped audit re-decides claims: {changed}"
