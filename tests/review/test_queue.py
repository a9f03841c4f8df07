"""The review queue on literal frames: who is held, the ranking, priority, due date and
the claims a decision or a contest moves."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl

from claims.money import MONEY
from claims.review import QueueRules, review_queue
from claims.store.runs import open_store
from tests.conftest import PERIOD, GeneratedDay

RULES = QueueRules(risk_threshold=0.8, due_days=10,
                   priority_high=Decimal("1000"), priority_medium=Decimal("100"))  # fmt: skip


def _candidates() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "file_id": ["f", "f", "f", "f"],
            "hoso_idx": [0, 1, 2, 3],
            "ma_cskcb": ["01001"] * 4,
            "ma_lk": ["A", "B", "C", "D"],
            "period": ["2026-10"] * 4,
            "outcome": ["pending_review", "accepted", "accepted", "pending_review"],
            "claimed_t_bhtt": [
                Decimal("500"),
                Decimal("2000"),
                Decimal("9000"),
                Decimal("50"),
            ],
            "run_date": [date(2026, 10, 15)] * 4,
            "reasons": ["R1: x", None, None, "R2: y"],
            "risk": [None, 0.9, 0.5, None],
            "explanation": [None, "chi phí cao", None, None],
        },
        schema_overrides={"hoso_idx": pl.UInt32, "claimed_t_bhtt": MONEY},
    )


def _none() -> tuple[pl.DataFrame, pl.DataFrame]:
    states = pl.DataFrame(schema={"review_id": pl.String, "file_id": pl.String,
                                  "hoso_idx": pl.UInt32, "assessor": pl.String,
                                  "decided_at": pl.String, "state": pl.String})  # fmt: skip
    contests = pl.DataFrame(schema={"review_id": pl.String, "file_id": pl.String,
                                    "hoso_idx": pl.UInt32, "at": pl.String})  # fmt: skip
    return states, contests


def test_rule_and_score_held_claims_are_ranked_by_money_at_risk() -> None:
    queue = review_queue(_candidates(), *_none(), RULES)
    assert queue["ma_lk"].to_list() == ["B", "A", "D"]  # C scores below the threshold
    assert queue["money_at_risk"].to_list() == [
        Decimal("1800.00"),
        Decimal("500.00"),
        Decimal("50.00"),
    ]
    assert queue["held_by"].to_list() == ["score", "rule", "rule"]
    assert queue["priority"].to_list() == [1, 2, 3]
    assert queue["due_date"].to_list() == [date(2026, 10, 25)] * 3


def test_a_decided_claim_leaves_and_a_contest_reopens_it_without_its_assessor() -> None:
    states, contests = _none()
    states = pl.DataFrame(
        [("r1", "f", 0, "gdv1", "2026-10-16T08:00:00", "decided"),
         ("r2", "f", 3, "gdv1", "2026-10-16T08:00:00", "awaiting_approval")],
        schema=states.schema, orient="row",
    )  # fmt: skip
    queue = review_queue(_candidates(), states, contests, RULES)
    assert queue["ma_lk"].to_list() == ["B", "D"]
    assert queue.filter(pl.col("ma_lk") == "D")["status"].item() == "awaiting_approval"
    contests = pl.DataFrame(
        [("r1", "f", 0, "2026-10-20T08:00:00")], schema=contests.schema, orient="row"
    )
    reopened = review_queue(_candidates(), states, contests, RULES)
    row = reopened.filter(pl.col("ma_lk") == "A").row(0, named=True)
    assert row["status"] == "reopened"
    assert row["excluded"] == ["gdv1"]
    assert row["due_date"] == date(2026, 10, 30)


def test_claims_held_by_their_score_join_the_queue_with_their_explanation(
    generated_day: GeneratedDay, tmp_path: Path
) -> None:
    from claims.pipeline.anomalies import score_period
    from claims.pipeline.review import queue

    settings = generated_day.copy(tmp_path / "data")
    score_period(settings, PERIOD)
    with open_store(settings.store_path, read_only=True) as con:
        found = queue(con, settings, months=[PERIOD])
        risky = con.sql(
            "SELECT ma_lk FROM anomaly_scores WHERE risk >= ?",
            params=[settings.review_risk_threshold],
        ).pl()
    by_score = found.filter(pl.col("held_by").str.contains("score"))
    assert set(by_score["ma_lk"]) == set(risky["ma_lk"])
    assert by_score.height > 0
    assert by_score["explanation"].is_not_null().all()
    only_score = by_score.filter(pl.col("held_by") == "score")
    assert (only_score["risk"] >= settings.review_risk_threshold).all()
    assert found["money_at_risk"].is_sorted(descending=True)
