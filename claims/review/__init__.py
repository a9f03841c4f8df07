"""Review: the queue of claims waiting for an assessor, their decisions, and sampling.

Pure frames in, frames out, like the other stages; the store keeps the queue, the
decisions (append-only) and the samples, and the pipeline composes them.
"""

from __future__ import annotations

from claims.review.decisions import (
    BHXH_REASONS,
    REVIEW_DECISION_SCHEMA,
    LineDecision,
    Reviewed,
    ReviewError,
    check_reason_code,
    parse_line,
    review,
)
from claims.review.extrapolate import (
    ESTIMATOR,
    Extrapolation,
    NotReviewed,
    t_quantile,
)
from claims.review.extrapolate import extrapolate as estimate_overpayment
from claims.review.queue import QUEUE_COLUMNS, QueueRules, review_queue
from claims.review.receipt import review_receipt
from claims.review.sample import (
    RISK_BANDS,
    STRATA,
    Sample,
    allocate,
    draw_sample,
    parse_strata,
)

__all__: list[str] = [
    "BHXH_REASONS",
    "ESTIMATOR",
    "QUEUE_COLUMNS",
    "REVIEW_DECISION_SCHEMA",
    "RISK_BANDS",
    "STRATA",
    "Extrapolation",
    "LineDecision",
    "NotReviewed",
    "QueueRules",
    "ReviewError",
    "Reviewed",
    "Sample",
    "allocate",
    "check_reason_code",
    "draw_sample",
    "estimate_overpayment",
    "parse_line",
    "parse_strata",
    "review",
    "review_queue",
    "review_receipt",
    "t_quantile",
]
