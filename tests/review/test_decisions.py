"""Assessors' decisions on the generated day's store: they re-enter settlement and the
ledger, four-eyes and locks hold, they survive a rerun, and bad decisions are refused."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from claims.cli.settle import run_settlement
from claims.config import Settings
from claims.pipeline import review as rv
from claims.pipeline.daily import run_inbox
from claims.review import ReviewError, parse_line
from claims.store.review import ReviewLocked
from claims.store.runs import open_store
from tests.conftest import PERIOD, GeneratedDay

T0 = "2026-11-02T08:00:00.000000+00:00"
T1 = "2026-11-02T09:00:00.000000+00:00"
T2 = "2026-11-02T10:00:00.000000+00:00"
T3 = "2026-11-02T11:00:00.000000+00:00"


def _store(day: GeneratedDay, tmp_path: Path, **values: Any) -> Settings:
    base = day.copy(tmp_path / "data")
    return Settings(data_dir=base.data_dir, **values)


def _first_pending(settings: Settings) -> tuple[dict[str, Any], pl.DataFrame]:
    """The top claim of the queue held by a rule, and its engine lines."""
    with open_store(settings.store_path) as con:
        queue = rv.queue(con, settings, months=[PERIOD])
        row = queue.filter(pl.col("held_by") == "rule").row(0, named=True)
        lines = rv.stored.engine_version(con, row["ma_cskcb"], row["ma_lk"]).lines
    return row, lines.filter(pl.col("accepted_bhtt") > 10)


def _decide(settings: Settings, row: dict[str, Any], *lines: str, **kw: Any) -> Any:
    with open_store(settings.store_path) as con:
        return rv.decide(
            con,
            settings,
            row["ma_cskcb"],
            row["ma_lk"],
            [parse_line(t) for t in lines],
            assessor=kw.get("assessor", "gdv1"),
            justification=kw.get("justification", "Kiểm tra hồ sơ bệnh án"),
            reason_code=kw.get("reason_code"),
            decided_at=kw.get("at", T0),
        )


def _accepted(settlement: Any, facility: str) -> Decimal:
    frame = settlement.frames["facilities"].filter(pl.col("ma_cskcb") == facility)
    return Decimal(frame["accepted"][0])


def test_a_decision_changes_the_settled_amount_by_its_reduction_and_reposts_one_facility(
    generated_day: GeneratedDay, tmp_path: Path
) -> None:
    settings = _store(generated_day, tmp_path)
    row, lines = _first_pending(settings)
    line = lines.row(0, named=True)
    facility = row["ma_cskcb"]
    accepted_all = _decide(settings, row, f"{line['table']}:{line['stt']}=accept")
    assert accepted_all.state == "decided"
    first, posted, _ = run_settlement(settings, PERIOD, None, excel=False, posted_at=T1)
    paid = Decimal(accepted_all.decision["accepted_t_bhtt"][0])
    before = _accepted(generated_day.settlement, facility)
    assert _accepted(first, facility) == before + paid
    assert set(posted["ma_cskcb"]) == {facility}
    with open_store(settings.store_path) as con:
        rv.contest(
            con, facility, row["ma_lk"], reason="Chỉ định đúng", by=facility, at=T1
        )
    cut = Decimal(line["accepted_bhtt"]) - Decimal("10.00")
    target = f"{line['table']}:{line['stt']}=reduce:{cut}"
    with pytest.raises(ReviewError, match="contested"):
        _decide(settings, row, target, at=T2)
    second = _decide(settings, row, target, assessor="gdv2", at=T2)
    assert second.reduction == Decimal("10.00")
    again, reposted, _ = run_settlement(
        settings, PERIOD, None, excel=False, posted_at=T3
    )
    assert _accepted(again, facility) == _accepted(first, facility) - Decimal("10.00")
    assert set(reposted["ma_cskcb"]) == {facility}
    assert set(reposted["kind"]) == {"reversal", "settlement"}
    others = again.frames["facilities"].filter(pl.col("ma_cskcb") != facility)
    assert others.equals(
        first.frames["facilities"].filter(pl.col("ma_cskcb") != facility)
    )
    told = again.frames["rejected_lines"].filter(
        (pl.col("ma_lk") == row["ma_lk"])
        & (pl.col("table") == line["table"])
        & (pl.col("stt") == line["stt"])
    )
    assert told["rejected_amount"].to_list() == [Decimal("10.00")]
    assert "REVIEW_REDUCED: Giám định viên gdv2" in told["reasons"].item()
    receipt = rv.receipt_path(settings, facility, second.review_id)
    assert "không chấp nhận" in receipt.read_text(encoding="utf-8")


def test_four_eyes_a_large_cut_waits_for_a_different_assessor(
    generated_day: GeneratedDay, tmp_path: Path
) -> None:
    settings = _store(generated_day, tmp_path, review_four_eyes_amount=Decimal("5"))
    row, lines = _first_pending(settings)
    line = lines.row(0, named=True)
    reviewed = _decide(settings, row, f"{line['table']}:{line['stt']}=reject")
    assert reviewed.state == "awaiting_approval"
    settled, _, _ = run_settlement(settings, PERIOD, None, excel=False, posted_at=T1)
    pending = settled.frames["pending"].filter(pl.col("ma_lk") == row["ma_lk"])
    assert pending.height == 1  # not current, not paid
    with open_store(settings.store_path) as con:
        with pytest.raises(ReviewError, match="cannot approve"):
            rv.approve(con, settings, reviewed.review_id, approver="gdv1", at=T1)
        rv.approve(
            con, settings, reviewed.review_id, approver="gdv2", at=T1, refuse="Chưa đủ"
        )
        assert rv.queue(con, settings, claim=row["ma_lk"])["status"].item() == "open"
    reviewed = _decide(settings, row, f"{line['table']}:{line['stt']}=reject", at=T1)
    assert reviewed.state == "awaiting_approval"
    with open_store(settings.store_path) as con:
        rv.approve(con, settings, reviewed.review_id, approver="gdv2", at=T2)
        with pytest.raises(ReviewError, match="approved"):
            rv.approve(con, settings, reviewed.review_id, approver="gdv3", at=T2)
    after, _, _ = run_settlement(settings, PERIOD, None, excel=False, posted_at=T3)
    assert after.frames["pending"].filter(pl.col("ma_lk") == row["ma_lk"]).height == 0
    paid = after.frames["claims"].filter(pl.col("ma_lk") == row["ma_lk"])
    assert paid["accepted_bhtt"].sum() == reviewed.decision["accepted_t_bhtt"][0]


def test_a_claim_locked_by_another_assessor_is_refused(
    generated_day: GeneratedDay, tmp_path: Path
) -> None:
    settings = _store(generated_day, tmp_path)
    row, lines = _first_pending(settings)
    line = lines.row(0, named=True)
    facility, claim = row["ma_cskcb"], row["ma_lk"]
    with open_store(settings.store_path) as con:
        rv.take(con, settings, facility, claim, assessor="gdv1", at=T0, expires_at=T2)
        with pytest.raises(ReviewLocked, match="gdv1"):
            rv.take(
                con, settings, facility, claim, assessor="gdv2", at=T1, expires_at=T3
            )
    with pytest.raises(ReviewLocked, match="locked to assessor gdv1"):
        _decide(
            settings,
            row,
            f"{line['table']}:{line['stt']}=accept",
            assessor="gdv2",
            at=T1,
        )
    # the lock expired: another assessor may decide
    done = _decide(
        settings, row, f"{line['table']}:{line['stt']}=accept", assessor="gdv2", at=T3
    )
    assert done.state == "decided"


def test_decisions_survive_a_rerun_of_the_day(
    generated_day: GeneratedDay, tmp_path: Path
) -> None:
    settings = _store(generated_day, tmp_path)
    row, lines = _first_pending(settings)
    line = lines.row(0, named=True)
    reviewed = _decide(settings, row, f"{line['table']}:{line['stt']}=reject")
    run_inbox(generated_day.inbox, settings=settings, move_files=False)
    with open_store(settings.store_path) as con:
        record = rv.show(con, settings, row["ma_cskcb"], row["ma_lk"])
        queued = rv.queue(con, settings, months=[PERIOD])
    assert record.current is not None
    assert (
        record.current.decisions["accepted_t_bhtt"][0]
        == (reviewed.decision["accepted_t_bhtt"][0])
    )
    assert (
        row["ma_lk"]
        not in queued.filter(pl.col("ma_cskcb") == row["ma_cskcb"])["ma_lk"].to_list()
    )


def test_bad_decisions_are_refused_with_the_value_and_the_fix(
    generated_day: GeneratedDay, tmp_path: Path
) -> None:
    settings = _store(generated_day, tmp_path)
    row, lines = _first_pending(settings)
    line = lines.row(0, named=True)
    where = f"{line['table']}:{line['stt']}"
    above = Decimal(line["claimed_bhtt"]) + 1
    with pytest.raises(ReviewError, match="above the claimed T_BHTT"):
        _decide(settings, row, f"{where}=reduce:{above}")
    with pytest.raises(ReviewError, match="justification"):
        _decide(settings, row, f"{where}=reject", justification="  ")
    with pytest.raises(ReviewError, match=r"S\.004\.351"):
        _decide(settings, row, f"{where}=reject", reason_code="X.1")
    with pytest.raises(ReviewError, match="has no line XML3:9999"):
        _decide(settings, row, "XML3:9999=reject")
    with pytest.raises(ReviewError, match="not TABLE:STT=ACTION"):
        parse_line("XML9:1=drop")
    decided = generated_day.sql(
        "SELECT d.ma_cskcb, d.ma_lk FROM decisions d JOIN claims c "
        "USING (file_id, hoso_idx) WHERE c.is_current AND d.outcome = 'accepted' LIMIT 1"
    ).row(0, named=True)
    with pytest.raises(ReviewError, match="not pending review"):
        _decide(settings, decided, f"{where}=accept")


def test_a_new_version_of_a_reviewed_claim_is_pending_again(
    generated_day: GeneratedDay, tmp_path: Path
) -> None:
    """The review is for the version it decided: a resubmission (a new file holding
    the claim) is assessed afresh and, held again, is back in the queue unreviewed."""
    settings = _store(generated_day, tmp_path)
    row, lines = _first_pending(settings)
    line = lines.row(0, named=True)
    _decide(settings, row, f"{line['table']}:{line['stt']}=reject")
    name = generated_day.sql(
        f"SELECT name FROM submissions WHERE file_id = '{row['file_id']}'"
    )["name"].item()
    original = next(f for f in generated_day.files if f.name == name)
    inbox = tmp_path / "resubmitted"
    inbox.mkdir()
    (inbox / f"again-{name}").write_bytes(original.read_bytes() + b"\n")
    run_inbox(inbox, settings=settings, run_date="2026-10-16", move_files=False)
    with open_store(settings.store_path) as con:
        queued = rv.queue(con, settings, facility=row["ma_cskcb"])
        record = rv.show(con, settings, row["ma_cskcb"], row["ma_lk"])
    again = queued.filter(pl.col("ma_lk") == row["ma_lk"]).row(0, named=True)
    assert again["status"] == "open"
    assert again["file_id"] != row["file_id"]
    assert record.current is None
    assert record.reviews.height == 1  # the old version's review stays in its history


def test_the_reviewed_version_pays_a_quantity_pro_rata_and_recomputes_the_outcome(
    generated_day: GeneratedDay,
) -> None:
    from claims.review import review

    with open_store(generated_day.settings.store_path, read_only=True) as con:
        queued = rv.queue(con, generated_day.settings, months=[PERIOD])
        row = queued.filter(pl.col("held_by") == "rule").row(0, named=True)
        engine = rv.stored.engine_version(con, row["ma_cskcb"], row["ma_lk"])
    lines = engine.lines.filter(
        (pl.col("claimed_qty") >= 2) & (pl.col("accepted_bhtt") > 0)
    )
    line = lines.row(0, named=True)
    half = line["claimed_qty"] / 2
    common: dict[str, Any] = {
        "assessor": "gdv1",
        "justification": "Số lượng thực dùng",
        "reason_code": "S.005.433",
        "decided_at": T0,
    }
    paid = review(
        engine.decisions, engine.lines, engine.reasons,
        [parse_line(f"{line['table']}:{line['stt']}=qty:{half}")],
        four_eyes=Decimal("1000000000"), **common,
    )  # fmt: skip
    expected = (Decimal(line["accepted_bhtt"]) / 2).quantize(Decimal("0.01"))
    reviewed = paid.lines.filter(pl.col("line_no") == line["line_no"]).row(
        0, named=True
    )
    assert abs(reviewed["accepted_bhtt"] - expected) <= Decimal("0.01")
    assert paid.reduction == Decimal(line["accepted_bhtt"]) - reviewed["accepted_bhtt"]
    assert paid.decision["outcome"].item() == "partially_accepted"
    assert paid.state == "decided"
    assert paid.records["reason_code"].to_list() == ["S.005.433"]
    pairs = engine.lines.select("table", "stt").unique().iter_rows()
    every = [parse_line(f"{t}:{s}=reject") for t, s in pairs]
    nothing = review(
        engine.decisions, engine.lines, engine.reasons, every,
        four_eyes=Decimal("0"), **common,
    )  # fmt: skip
    assert nothing.decision["outcome"].item() == "rejected"
    assert nothing.state == "awaiting_approval"
    assert (nothing.lines["accepted_bhtt"] == 0).all()
