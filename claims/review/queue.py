"""The review queue: the claims waiting for an assessor, the money at risk first.

A current claim version is held for review by a rule (its decision's outcome is
``pending_review``: a review rule fired), by its score (its anomaly risk, 0 to 1, is
at least ``Settings.review_risk_threshold``) or by a review sample (``giamdinh review
sample`` drew it: the extrapolation needs its review; ranked by its own score, 0 when
not scored). It is in the queue while no review of it
is in force, or when a contest was recorded after its latest review (``reopened``); a
review waiting for a second assessor's approval keeps it in the queue as
``awaiting_approval``; a review the second assessor refused leaves it ``open``. A claim
decided and not contested leaves the queue.

Ranking: by money at risk = claimed T_BHTT × risk, largest first (then facility and
MA_LK). A rule-held claim counts risk 1.0 (the rule says it must be looked at: all of
its money is at risk), which no score exceeds; a score-held claim counts its score.
Priority bands the money at risk: 1 ``cao`` at or above ``Settings.review_priority_high``
(default 10,000,000 đ), 2 ``trung bình`` at or above ``review_priority_medium``
(default 1,000,000 đ), else 3 ``thấp``. Due date: the date of the run that stored the
claim (of the contest, when reopened) plus ``Settings.review_due_days``.

Pure: the frames come in from the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import polars as pl

from claims.money import MONEY, round_half_up

CLAIM = ["file_id", "hoso_idx"]
QUEUE_COLUMNS = (
    "rank", "priority", "priority_label", "ma_cskcb", "ma_lk", "period", "status",
    "held_by", "risk", "claimed_t_bhtt", "money_at_risk", "due_date", "reasons",
    "explanation", "excluded", "file_id", "hoso_idx",
)  # fmt: skip
"""The queue's columns: ``excluded`` lists the assessors who may not decide the claim
(they decided the review a clinic contested)."""


@dataclass(frozen=True)
class QueueRules:
    """The settings the queue applies (``claims.config.Settings`` fields)."""

    risk_threshold: float = 0.99
    due_days: int = 10
    priority_high: Decimal = Decimal("10000000")
    priority_medium: Decimal = Decimal("1000000")


def review_queue(
    candidates: pl.DataFrame,
    states: pl.DataFrame,
    contests: pl.DataFrame,
    rules: QueueRules,
) -> pl.DataFrame:
    """The ranked queue (:data:`QUEUE_COLUMNS`).

    Args:
        candidates: the period's current claim versions held by a rule or a score:
            ``file_id, hoso_idx, ma_cskcb, ma_lk, period, outcome, claimed_t_bhtt,
            run_date`` (Date), ``reasons`` (text), ``risk`` (Float64, null: not scored)
            and ``explanation`` (text, null).
        states: ``claims.store.review.review_states`` rows.
        contests: ``review_events`` rows of kind ``contest``.
        rules: thresholds, due days and priority bands.
    """
    by_rule = pl.col("outcome") == "pending_review"
    by_score = pl.col("risk").fill_null(0.0) >= rules.risk_threshold
    by_sample = (
        pl.col("sampled").fill_null(False)
        if "sampled" in candidates.columns
        else pl.lit(False)
    )
    holders = [(by_rule, "rule"), (by_score, "score"), (by_sample, "sample")]
    held = candidates.filter(by_rule | by_score | by_sample).with_columns(
        pl.concat_str(
            [pl.when(c).then(pl.lit(n)) for c, n in holders],
            separator="+",
            ignore_nulls=True,
        ).alias("held_by"),
        pl.when(by_rule)
        .then(pl.lit(1.0))
        .otherwise(pl.col("risk").fill_null(0.0))
        .cast(pl.Float64)
        .alias("risk"),
    )
    queued = held.join(_status(states, contests), on=CLAIM, how="left").with_columns(
        pl.col("status").fill_null("open"),
        pl.col("excluded").fill_null(pl.lit([], pl.List(pl.String))),
    )
    queued = queued.filter(pl.col("status") != "decided")
    at_risk = round_half_up(
        pl.col("claimed_t_bhtt").cast(pl.Decimal(38, 6))
        * pl.col("risk").round(6).cast(pl.Decimal(38, 6))
    ).cast(MONEY)
    start = (
        pl.when(pl.col("status") == "reopened")
        .then(pl.col("contested_at").str.slice(0, 10).str.to_date())
        .otherwise(pl.col("run_date"))
    )
    return (
        queued.with_columns(
            at_risk.alias("money_at_risk"),
            start.dt.offset_by(f"{rules.due_days}d").alias("due_date"),
        )
        .with_columns(_priority(rules).alias("priority"))
        .with_columns(
            pl.col("priority")
            .replace_strict(
                {1: "cao", 2: "trung bình", 3: "thấp"}, return_dtype=pl.String
            )
            .alias("priority_label")
        )
        .sort(
            ["money_at_risk", "ma_cskcb", "ma_lk"],
            descending=[True, False, False],
        )
        .with_row_index("rank", offset=1)
        .select(QUEUE_COLUMNS)
    )


def _priority(rules: QueueRules) -> pl.Expr:
    money = pl.col("money_at_risk")
    return (
        pl.when(money >= pl.lit(rules.priority_high).cast(MONEY))
        .then(pl.lit(1))
        .when(money >= pl.lit(rules.priority_medium).cast(MONEY))
        .then(pl.lit(2))
        .otherwise(pl.lit(3))
        .cast(pl.Int8)
    )


def _status(states: pl.DataFrame, contests: pl.DataFrame) -> pl.DataFrame:
    """Per reviewed claim version: ``status`` (``decided``, ``awaiting_approval``,
    ``reopened``), ``contested_at`` and ``excluded`` (who decided a contested review)."""
    latest = (
        states.sort("decided_at", descending=True)
        .group_by(CLAIM, maintain_order=True)
        .agg(pl.col("state").first().alias("_state"), pl.col("decided_at").first())
    )
    contested = contests.group_by(CLAIM).agg(
        pl.col("at").max().alias("contested_at"),
        pl.col("review_id").alias("_contested"),
    )
    excluded = (
        states.join(contested.explode("_contested"), left_on=[*CLAIM, "review_id"],
                    right_on=[*CLAIM, "_contested"], how="semi")
        .group_by(CLAIM)
        .agg(pl.col("assessor").unique().sort().alias("excluded"))
    )  # fmt: skip
    reopened = pl.col("contested_at").is_not_null() & (
        pl.col("contested_at") > pl.col("decided_at")
    )
    return (
        latest.join(contested.drop("_contested"), on=CLAIM, how="left")
        .join(excluded, on=CLAIM, how="left")
        .select(
            *CLAIM,
            pl.when(reopened)
            .then(pl.lit("reopened"))
            .when(pl.col("_state") == "awaiting_approval")
            .then(pl.lit("awaiting_approval"))
            .when(pl.col("_state") == "refused")
            .then(pl.lit("open"))
            .otherwise(pl.lit("decided"))
            .alias("status"),
            "contested_at",
            "excluded",
        )
    )
