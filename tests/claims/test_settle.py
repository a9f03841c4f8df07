"""Decisions, settlement and ledger on the generated day: the invariants that must hold.

The tests here settle, record advances and post audits: they work on a copy of the
session's generated day (``tests.conftest.GeneratedDay``), made once for the module."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from claims.cli.advance import record_advance
from claims.cli.settle import post_audit, run_settlement
from claims.config import Settings
from claims.errors import ConfigError
from claims.pipeline.daily import run_inbox
from claims.settle import months_of, overlapping
from claims.store.events import read_events
from claims.store.ledger import ledger_of
from claims.store.runs import open_store
from tests.conftest import PERIOD, GeneratedDay
from tests.factories import giamdinh, lower_benefit_level_4
from tests.holds import as_settled

RECORDED, POSTED = "2026-11-02T08:00:00+00:00", "2026-11-03T09:30:00+00:00"


@pytest.fixture(scope="module")
def settled(
    generated_day: GeneratedDay, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Settings, GeneratedDay]:
    """A copy of the generated day (run and settled for 2026-10) this module may change."""
    root = tmp_path_factory.mktemp("settle")
    return generated_day.copy(root / "data"), generated_day


def _decisions(settings: Settings) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The stored decisions (held claims pending, as settlement reads them) and
    lines."""
    with duckdb.connect(str(settings.store_path), read_only=True) as con:
        return (
            as_settled(con, con.sql("SELECT * FROM decisions").pl()),
            con.sql("SELECT * FROM decision_lines").pl(),
        )


def test_accepted_never_exceeds_claimed_per_line_and_claim(
    settled: tuple[Settings, GeneratedDay],
) -> None:
    claims, lines = _decisions(settled[0])
    assert lines.height > 1000
    assert lines.filter(pl.col("accepted_bhtt") > pl.col("claimed_bhtt")).height == 0
    assert lines.filter(pl.col("accepted_bhtt") < 0).height == 0
    assert (
        claims.filter(pl.col("accepted_t_bhtt") > pl.col("claimed_t_bhtt")).height == 0
    )
    diff = claims.filter(
        pl.col("rejected_amount")
        != pl.col("claimed_t_bhtt") - pl.col("accepted_t_bhtt")
    )
    assert diff.height == 0
    # a claim's accepted fund share is the sum of its lines' (the lines reconcile)
    sums = lines.group_by("file_id", "hoso_idx").agg(pl.col("accepted_bhtt").sum())
    joined = claims.join(sums, on=["file_id", "hoso_idx"], how="left").with_columns(
        pl.col("accepted_bhtt").fill_null(0)
    )
    assert (
        joined.filter(pl.col("accepted_t_bhtt") != pl.col("accepted_bhtt")).height == 0
    )
    # every decision names its run, pack and catalogs
    assert claims["run_id"].null_count() == 0
    assert json.loads(claims["catalogs"][0])["benefits"].startswith("2009-07-01#")


def test_clean_claims_are_accepted_to_the_dong_and_faults_are_cut(
    settled: tuple[Settings, GeneratedDay],
) -> None:
    claims, _ = _decisions(settled[0])
    outcomes = dict(claims.group_by("outcome").len().iter_rows())
    assert outcomes["accepted"] > 250
    accepted = claims.filter(pl.col("outcome") == "accepted")
    assert accepted.filter(pl.col("rejected_amount") > 1).height == 0
    assert claims.filter(pl.col("outcome") == "partially_accepted").height > 0
    # every cut is explained: a claim paid less than it asked has at least one reason
    cut = claims.filter(pl.col("rejected_amount") > 1)
    assert cut.height > 0
    assert cut.filter(pl.col("reason_codes").list.len() == 0).height == 0


def test_settlement_totals_equal_the_sum_of_accepted_lines_and_the_ledger_balances(
    settled: tuple[Settings, GeneratedDay],
) -> None:
    settings, day = settled
    assert day.settlement.period == PERIOD
    settlement, posted, folder = day.settlement, day.posted, day.folder
    claims, lines = _decisions(settings)
    payable = claims.filter(pl.col("outcome").is_in(["accepted", "partially_accepted"]))
    paid_lines = lines.join(
        payable.select("file_id", "hoso_idx"), on=["file_id", "hoso_idx"]
    )
    facilities = settlement.frames["facilities"]
    groups = settlement.frames["groups"]
    assert facilities["accepted"].sum() == payable["accepted_t_bhtt"].sum()
    assert groups["accepted_bhtt"].sum() == paid_lines["accepted_bhtt"].sum()
    assert set(groups["cost_group"]) <= {
        "exam", "beds", "tests", "imaging", "surgery", "procedures", "high_tech",
        "drugs", "blood", "supplies", "transport", "other", "unallocated",
    }  # fmt: skip
    pending = claims.filter(pl.col("outcome") == "pending_review")
    assert facilities["pending_claims"].sum() == pending.height
    assert (folder / "facilities.csv").exists()
    assert (folder / "rejected_lines.parquet").exists()
    assert (
        posted["debit"].sum()
        == posted["credit"].sum()
        == payable["accepted_t_bhtt"].sum()
    )
    # settling again with nothing changed posts nothing and keeps the id
    again, posted_again, _ = run_settlement(settings, "2026-10", None, excel=False)
    assert again.settlement_id == settlement.settlement_id
    assert posted_again.height == 0


def test_an_advance_is_netted_and_a_resettlement_reverses_only_that_facility(
    settled: tuple[Settings, GeneratedDay],
) -> None:
    settings, _ = settled
    first, _, _ = run_settlement(settings, "2026-10", None, excel=False)
    facility = first.frames["facilities"]["ma_cskcb"][0]
    with open_store(settings.store_path) as con:
        record_advance(
            con,
            facility,
            "2026-10",
            Decimal("1000000.00"),
            recorded_at=RECORDED,
        )
    second, posted, _ = run_settlement(
        settings, "2026-10", None, excel=False, posted_at=POSTED
    )
    row = (
        second.frames["facilities"]
        .filter(pl.col("ma_cskcb") == facility)
        .row(0, named=True)
    )
    assert row["advances"] == Decimal("1000000.00")
    assert row["due"] == row["accepted"] - Decimal("1000000.00")
    assert set(posted["ma_cskcb"]) == {facility}
    assert set(posted["kind"]) == {"reversal", "settlement", "advance_offset"}
    with open_store(settings.store_path) as con:
        ledger = ledger_of(con)
    per_txn = ledger.group_by("txn_id").agg(
        (pl.col("debit").sum() - pl.col("credit").sum()).alias("balance")
    )
    assert per_txn.filter(pl.col("balance") != 0).height == 0
    mine = ledger.filter(pl.col("ma_cskcb") == facility)

    def balance(account: str) -> Decimal:
        rows = mine.filter(pl.col("account") == account)
        return Decimal(rows["debit"].sum() - rows["credit"].sum())

    # what the fund still owes the facility, net of the advance not yet offset
    assert -balance("facility_payable") - balance("facility_advance") == row["due"]
    # the time stamps are the caller's: the settlement and the store read no clock
    with duckdb.connect(str(settings.store_path), read_only=True) as con:
        recorded = con.sql("SELECT recorded_at FROM advances").fetchall()
        stamps = con.sql(
            "SELECT posted_at FROM postings WHERE active AND ma_cskcb = ?",
            params=[facility],
        ).fetchall()
    assert recorded == [(RECORDED,)]
    assert stamps == [(POSTED,)]


@pytest.mark.e2e
def test_the_settlement_stages_import_neither_the_store_nor_duckdb() -> None:
    code = (
        "import sys\n"
        "import claims.settle, claims.settle.diff\n"
        "print(sorted(m for m in sys.modules if m.startswith(('claims.store', 'duckdb'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_replaying_the_same_inputs_gives_byte_identical_decision_files(
    settled: tuple[Settings, GeneratedDay],
) -> None:
    settings, day = settled
    replay = Settings(data_dir=settings.data_dir.parent / "replay")
    result = run_inbox(day.inbox, settings=replay, move_files=False)
    assert result.run_dir is not None
    assert day.result.run_dir is not None
    assert result.run_id == day.result.run_id
    for table in ("decisions", "decision_lines", "decision_reasons"):
        first = (day.result.run_dir / f"{table}.parquet").read_bytes()
        assert first == (result.run_dir / f"{table}.parquet").read_bytes(), table


def test_periods_are_months_or_quarters() -> None:
    assert months_of("2026-10") == ["2026-10"]
    assert months_of("2026-Q3") == ["2026-07", "2026-08", "2026-09"]
    with pytest.raises(ConfigError, match="YYYY-Qn"):
        months_of("2026-13")
    posted = ["2026-09", "2026-11", "2026-Q3", "2026-11"]
    assert overlapping("2026-Q4", posted) == ["2026-11"]
    assert overlapping("2026-08", posted) == ["2026-Q3"]


@pytest.mark.e2e
def test_check_prints_one_json_object_per_claim_in_input_order(
    settled: tuple[Settings, GeneratedDay], tmp_path: Path
) -> None:
    _, day = settled
    smallest = sorted(day.files, key=lambda p: p.stat().st_size)[:2]
    files = sorted(smallest)
    bad = tmp_path / "bad.xml"
    bad.write_text("not xml", encoding="utf-8")
    result = giamdinh(
        "check", str(files[0]), str(bad), str(files[1]), "--format", "jsonl"
    )
    assert result.returncode == 2, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    names = [r["file"] for r in rows]
    first = names.index(bad.name)
    assert names[:first] == [files[0].name] * first
    assert set(rows[first]) == {"contract", "file", "error"}
    assert rows[first]["file"] == "bad.xml"
    assert set(rows[first]["error"]) == {"code", "message"}
    assert set(names[first + 1 :]) == {files[1].name}
    # the claims assessed (a claim refused at validation has no pack version)
    decided = [r for r in rows if "outcome" in r and r["versions"]["pack"]]
    for row in decided:
        claimed = Decimal(row["claimed"]["t_bhtt"])
        accepted = Decimal(row["accepted"]["t_bhtt"])
        assert Decimal(row["rejected_amount"]) == max(claimed - accepted, Decimal(0))
        assert row["versions"]["pack"].startswith("vn-bhyt@")
        assert all(len(v.split(".")[1]) == 2 for v in row["claimed"].values())
    ok = giamdinh("check", str(files[0]), "--format", "jsonl")
    assert ok.returncode == 0


def test_audit_with_the_pack_that_decided_reproduces_the_settled_amounts(
    settled: tuple[Settings, GeneratedDay],
) -> None:
    from claims.pipeline.audit import run_audit

    settings, _ = settled
    claims, _ = _decisions(settings)
    pack = claims["pack"].drop_nulls().mode()[0].split("#")[0]
    report, folder = run_audit(settings, "2026-10", pack, None)
    facilities = report["facilities"]
    assert facilities["claims"].sum() == claims.height
    assert facilities["settled"].sum() == facilities["audited"].sum()
    assert report["claims"].height == 0
    assert (folder / "ledger_proposal.csv").exists()


@pytest.mark.e2e
def test_a_withdrawal_after_settlement_is_reversed_by_the_next_one(
    tmp_path: Path,
) -> None:
    from claims.pipeline.context import Reference
    from tests.factories import example_claim, hoso, wrapper

    settings = Settings(data_dir=tmp_path / "data")
    # the example's doctors are in no built-in catalog: the corrections' registry
    # checks would reject it whole; the corrected version, pinned, pays it
    pinned = Reference.load(None, "vn-bhyt", "vn-bhyt@2025.01.0")
    original = example_claim()
    first = tmp_path / "in1"
    first.mkdir()
    (first / "a.xml").write_bytes(wrapper([hoso(original)]))
    run_inbox(first, settings=settings, reference=pinned)
    before, posted, _ = run_settlement(settings, "2025-10", None, excel=False)
    paid = before.frames["facilities"]["accepted"].sum()
    assert paid > 0
    assert posted["credit"].sum() == paid

    withdrawal = example_claim()
    withdrawal["XML1"][0]["MA_DOITUONG_KCB"] = "8"
    second = tmp_path / "in2"
    second.mkdir()
    (second / "b.xml").write_bytes(wrapper([hoso(withdrawal)]))
    run_inbox(second, settings=settings, reference=pinned)
    after, reposted, _ = run_settlement(settings, "2025-10", None, excel=False)
    row = after.frames["facilities"].row(0, named=True)
    assert row["accepted"] == 0
    reversed_ = reposted.filter(pl.col("kind") == "reversal")
    assert reversed_["debit"].sum() == paid  # the earlier payable is debited back
    rejected = after.frames["rejected_claims"].row(0, named=True)
    assert rejected["ma_lk"] == original["XML1"][0]["MA_LK"]
    assert "CLAIM_WITHDRAWN" in rejected["reason_codes"]
    result = giamdinh(
        "settle", "diff", before.settlement_id, after.settlement_id,
        "--data-dir", str(settings.data_dir),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert original["XML1"][0]["MA_LK"] in result.stdout


def test_audit_with_a_lower_benefit_level_reports_recoveries(
    settled: tuple[Settings, GeneratedDay], tmp_path: Path
) -> None:
    """An overlay where level 4 pays 70 % instead of 80 %: every on-route DN/HS/GD…
    claim paid in full before is now overpaid; the audit reports recoveries per
    facility, claim and reason, and proposes ledger entries, without touching the
    stored decisions."""
    from claims.pipeline.audit import run_audit

    settings, _ = settled
    overlay = lower_benefit_level_4(tmp_path / "overlay")
    claims, _ = _decisions(settings)
    pack = claims["pack"].drop_nulls().mode()[0].split("#")[0]
    audit_settings = Settings(data_dir=settings.data_dir, catalog_dir=overlay)
    report, _ = run_audit(audit_settings, "2026-10", pack, None)
    facilities = report["facilities"]
    assert facilities["recovery"].sum() > 0
    assert facilities["underpayment"].sum() == 0
    changed_claims = report["claims"]
    assert changed_claims.height > 0
    assert (changed_claims["recovery"] > 0).all()
    assert "BENEFIT_RATE_MISMATCH" in report["rules"]["code"].to_list()
    proposal = report["ledger_proposal"]
    assert set(proposal["debit_account"]) == {"facility_receivable"}
    assert proposal["amount"].sum() == facilities["net_recovery"].sum()
    after, _ = _decisions(settings)
    assert after.equals(claims)  # the stored decisions are untouched


def test_an_audit_posts_its_recoveries_once(
    settled: tuple[Settings, GeneratedDay],
) -> None:
    proposal = pl.DataFrame(
        {
            "ma_cskcb": ["01001", "01002"],
            "debit_account": ["facility_receivable", "fund_expense"],
            "credit_account": ["fund_expense", "facility_payable"],
            "amount": [Decimal("120000.00"), Decimal("5000.50")],
        },
        schema_overrides={"amount": pl.Decimal(38, 2)},
    )
    settings, _ = settled
    with open_store(settings.store_path) as con:
        written = post_audit(
            con, "audit-x", "2026-Q4", proposal, posted_at=POSTED, actor="fin1"
        )
        again = post_audit(
            con, "audit-x", "2026-Q4", proposal, posted_at=POSTED, actor="fin2"
        )
        ledger = ledger_of(con)
        events = read_events(con, action="audit.posted")
    assert [(e["subject"], e["actor"], e["at"]) for e in events] == [
        ("audit:audit-x", "fin1", POSTED)
    ]
    assert events[0]["after"] == {
        "period": "2026-Q4",
        "facilities": {"01001": "120000.00", "01002": "5000.50"},
        "entries": 4,
    }
    assert written.height == 4
    assert written["debit"].sum() == written["credit"].sum() == Decimal("125000.50")
    assert again.height == 0
    mine = ledger.filter(pl.col("settlement_id") == "audit-x")
    receivable = mine.filter(pl.col("account") == "facility_receivable")
    assert receivable["debit"].sum() == Decimal("120000.00")


def test_a_quarter_overlapping_a_posted_month_is_refused(
    settled: tuple[Settings, GeneratedDay],
) -> None:
    settings, _ = settled
    run_settlement(settings, "2026-10", None, excel=False)
    with pytest.raises(ConfigError, match=r"2026-Q4 overlaps 2026-10"):
        run_settlement(settings, "2026-Q4", None, excel=False)
    assert not (settled[0].data_dir / "settlements" / "2026-Q4").exists()
