"""Review: the queue of claims waiting for an assessor, their decisions, and sampling.

Pure frames in, frames out, like the other stages; the store keeps the queue, the
decisions (append-only) and the samples, and the pipeline composes them.
"""

from __future__ import annotations

from claims.review.extrapolate import (
    ESTIMATOR,
    Extrapolation,
    NotReviewed,
    t_quantile,
)
from claims.review.extrapolate import extrapolate as estimate_overpayment
from claims.review.sample import (
    RISK_BANDS,
    STRATA,
    Sample,
    allocate,
    draw_sample,
    parse_strata,
)

__all__: list[str] = [
    "ESTIMATOR",
    "RISK_BANDS",
    "STRATA",
    "Extrapolation",
    "NotReviewed",
    "Sample",
    "allocate",
    "draw_sample",
    "estimate_overpayment",
    "parse_strata",
    "t_quantile",
]
