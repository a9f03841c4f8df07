"""The audit trail of review actions on the generated day's store: each take, release,
decision, approval, refusal and contest appends one event (subject the claim) with the
claim's status and amounts before and after; a refused action appends none."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from claims.cli.settle import run_settlement
from claims.config import Settings
from claims.pipeline import review as rv
from claims.review import ReviewError, parse_line
from claims.store.events import read_events
from claims.store.runs import open_store
from tests.conftest import PERIOD, GeneratedDay

T0 = "2026-11-02T08:00:00.000000+00:00"
T1 = "2026-11-02T09:00:00.000000+00:00"
T2 = "2026-11-02T10:00:00.000000+00:00"
T3 = "2026-11-02T11:00:00.000000+00:00"
T4 = "2026-11-02T12:00:00.000000+00:00"


def _pending(settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    """The top rule-held claim of the queue and one of its lines worth cutting."""
    with open_store(settings.store_path) as con:
        queue = rv.queue(con, settings, months=[PERIOD])
        row = queue.filter(pl.col("held_by") == "rule").row(0, named=True)
        lines = rv.stored.engine_version(con, row["ma_cskcb"], row["ma_lk"]).lines
    return row, lines.filter(pl.col("accepted_bhtt") > 10).row(0, named=True)


def _claim_events(settings: Settings, subject: str) -> list[dict[str, Any]]:
    with open_store(settings.store_path) as con:
        return read_events(con, subject=subject)


def test_take_decide_contest_write_one_event_each_with_before_and_after(
    generated_day: GeneratedDay, tmp_path: Path
) -> None:
    settings = generated_day.copy(tmp_path / "data")
    row, line = _pending(settings)
    facility, claim = row["ma_cskcb"], row["ma_lk"]
    subject = f"claim:{facility}/{claim}"
    cut = f"{line['table']}:{line['stt']}=reject"
    with open_store(settings.store_path) as con:
        rv.take(con, settings, facility, claim, assessor="gdv1", at=T0, expires_at=T2)
        reviewed = rv.decide(
            con, settings, facility, claim, [parse_line(cut)], assessor="gdv1",
            justification="Không có chỉ định", reason_code=None, decided_at=T1,
        )  # fmt: skip
        with pytest.raises(ReviewError, match="not pending review"):
            rv.decide(
                con, settings, facility, claim, [parse_line(cut)], assessor="gdv2",
                justification="x", reason_code=None, decided_at=T2,
            )  # fmt: skip
        rv.contest(con, facility, claim, reason="Có chỉ định", by=facility, at=T3)
        rv.take(con, settings, facility, claim, assessor="gdv2", at=T4, expires_at=T4)
    events = _claim_events(settings, subject)
    assert [(e["action"], e["actor"], e["at"]) for e in events] == [
        ("review.taken", "gdv1", T0),
        ("review.decided", "gdv1", T1),
        ("review.contested", facility, T3),
        ("review.taken", "gdv2", T4),
    ]
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs)
    taken, decided, contested, retaken = events
    engine = {
        "outcome": "pending_review",
        "claimed_t_bhtt": str(row["claimed_t_bhtt"]),
        "accepted_t_bhtt": taken["before"]["accepted_t_bhtt"],
        "review_in_force": None,
    }
    assert taken["before"] == {**engine, "status": row["status"]}
    assert taken["after"] == {
        **engine, "status": row["status"], "locked_to": "gdv1", "lock_expires_at": T2,
    }  # fmt: skip
    assert decided["before"] == taken["before"]
    accepted = reviewed.decision.row(0, named=True)
    assert decided["after"] == {
        "outcome": accepted["outcome"],
        "claimed_t_bhtt": str(accepted["claimed_t_bhtt"]),
        "accepted_t_bhtt": str(accepted["accepted_t_bhtt"]),
        "review_in_force": reviewed.review_id,
        "status": "closed",
        "review_id": reviewed.review_id,
        "review_state": "decided",
        "reduction": str(reviewed.reduction),
    }
    assert Decimal(decided["after"]["reduction"]) == Decimal(line["accepted_bhtt"])
    assert contested["before"]["review_in_force"] == reviewed.review_id
    assert contested["after"]["status"] == "reopened"
    assert contested["after"]["contested_review"] == reviewed.review_id
    assert contested["after"]["reason"] == "Có chỉ định"
    assert retaken["before"]["status"] == "reopened"


def test_four_eyes_approval_and_refusal_are_events_of_the_second_assessor(
    generated_day: GeneratedDay, tmp_path: Path
) -> None:
    base = generated_day.copy(tmp_path / "data")
    settings = Settings(data_dir=base.data_dir, review_four_eyes_amount=Decimal(5))
    row, line = _pending(settings)
    facility, claim = row["ma_cskcb"], row["ma_lk"]
    cut = [parse_line(f"{line['table']}:{line['stt']}=reject")]
    with open_store(settings.store_path) as con:
        first = rv.decide(con, settings, facility, claim, cut, assessor="gdv1",
                          justification="x", reason_code=None, decided_at=T0)  # fmt: skip
        with pytest.raises(ReviewError, match="cannot approve"):
            rv.approve(con, settings, first.review_id, approver="gdv1", at=T1)
        rv.approve(con, settings, first.review_id, approver="gdv2", at=T1,
                   refuse="Chưa đủ căn cứ")  # fmt: skip
        second = rv.decide(con, settings, facility, claim, cut, assessor="gdv1",
                           justification="x", reason_code=None, decided_at=T2)  # fmt: skip
        rv.approve(con, settings, second.review_id, approver="gdv3", at=T3)
        rv.release(con, facility, claim, assessor="gdv3", at=T4)
    events = _claim_events(settings, f"claim:{facility}/{claim}")
    assert [(e["action"], e["actor"]) for e in events] == [
        ("review.decided", "gdv1"),
        ("review.refused", "gdv2"),
        ("review.decided", "gdv1"),
        ("review.approved", "gdv3"),
        ("review.released", "gdv3"),
    ]
    decided, refused, _, approved, released = events
    assert decided["after"]["status"] == "awaiting_approval"
    assert decided["after"]["review_in_force"] is None  # not in force until approved
    assert decided["after"]["accepted_t_bhtt"] == decided["before"]["accepted_t_bhtt"]
    assert refused["after"]["status"] == "open"
    assert refused["after"]["reason"] == "Chưa đủ căn cứ"
    assert approved["before"]["review_in_force"] is None
    assert approved["after"]["review_in_force"] == second.review_id
    assert approved["after"]["accepted_t_bhtt"] == str(
        second.decision["accepted_t_bhtt"][0]
    )
    assert approved["after"]["status"] == "closed"
    assert released["after"]["locked_to"] is None
    with open_store(settings.store_path) as con:
        assert read_events(con, actor="gdv1", action="review.approved") == []


def test_a_decision_and_the_settlement_it_changes_are_in_the_trail_in_order(
    generated_day: GeneratedDay, tmp_path: Path
) -> None:
    settings = generated_day.copy(tmp_path / "data")
    row, line = _pending(settings)
    facility = row["ma_cskcb"]
    with open_store(settings.store_path) as con:
        [first] = read_events(con, action="settlement.posted")
        rv.decide(
            con, settings, facility, row["ma_lk"],
            [parse_line(f"{line['table']}:{line['stt']}=accept")], assessor="gdv1",
            justification="Đúng chỉ định", reason_code=None, decided_at=T1,
        )  # fmt: skip
    assert first["subject"] == f"settlement:{generated_day.settlement.settlement_id}"
    assert set(first["after"]["facilities"]) == set(
        generated_day.settlement.frames["facilities"]["ma_cskcb"]
    )
    settlement, posted, _ = run_settlement(
        settings, PERIOD, None, excel=False, posted_at=T2, actor="ketoan1"
    )
    with open_store(settings.store_path) as con:
        trail = read_events(con, since=T1)
    assert [(e["action"], e["actor"]) for e in trail] == [
        ("review.decided", "gdv1"),
        ("settlement.posted", "ketoan1"),
    ]
    event = trail[1]
    assert event["subject"] == f"settlement:{settlement.settlement_id}"
    assert event["at"] == T2
    assert event["before"] == {
        "active_settlement": {facility: generated_day.settlement.settlement_id}
    }
    mine = settlement.frames["facilities"].filter(pl.col("ma_cskcb") == facility)
    assert event["after"] == {
        "period": PERIOD,
        "facilities": {
            facility: {
                "accepted": str(mine["accepted"][0]),
                "due": str(mine["due"][0]),
            }
        },
        "entries": posted.height,
    }
    assert Decimal(event["after"]["facilities"][facility]["accepted"]) > Decimal(
        first["after"]["facilities"][facility]["accepted"]
    )
