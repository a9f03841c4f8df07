"""Settlement per facility and period (thanh quyết toán, reference §5), computed from frames.

A settlement takes, for every claim of the period (declared NAM_QT/THANG_QT; a month
``2026-10`` or a quarter ``2026-Q3``, see :mod:`claims.settle.period`), the decision of
its current version (a resubmission or a withdrawal supersedes the earlier one) and sums,
per facility:

- ``summary`` (C79 outpatient / C80 inpatient in spirit): claims, requested (claimed
  T_BHTT), accepted, rejected, and the claims pending review with their amount, which
  are listed apart (``pending``) and not paid until decided;
- ``groups``: the same per cost group of MA_NHOM (``claims.schema.COST_GROUPS``): every
  line is in exactly one group, so the groups add up to the claims;
- ``facilities``: the totals, the advances recorded for the period and the amount due
  net of them;
- ``rejected_claims`` and ``rejected_lines`` (C79b/C80b in spirit): what a clinic must
  correct and resubmit, with every reason;
- ``claims``: one row per claim and cost group, what ``settle diff`` compares.

A settlement whose content did not change gets the same id. This module is pure: the
decisions and advances come in as frames (``claims.store.settlements.current_decisions``
and ``claims.store.ledger.advances_for`` read them), the frames go out in a
:class:`Settlement`; :mod:`claims.settle.ledger` turns it into ledger entries.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from claims.ids import content_id, frame_digest
from claims.money import MONEY
from claims.schema import COST_GROUPS, OTHER_GROUP

PAYABLE = ("accepted", "partially_accepted")
GROUPS = (*COST_GROUPS, OTHER_GROUP)
ZERO = pl.lit(0).cast(MONEY)
CLAIM = ["file_id", "hoso_idx"]
LINE_COLUMNS = (
    "file_id", "hoso_idx", "table", "line_no", "stt", "code", "cost_group",
    "claimed_bh", "accepted_bh", "claimed_bhtt", "accepted_bhtt", "refused_by",
)  # fmt: skip
"""The decision line columns a settlement reads."""


def paid() -> pl.Expr:
    """What a decision pays: its accepted T_BHTT when accepted in whole or in part
    (a rejected claim pays nothing, a claim pending review nothing yet)."""
    return (
        pl.when(pl.col("outcome").is_in(PAYABLE))
        .then(pl.col("accepted_t_bhtt"))
        .otherwise(pl.lit(0).cast(MONEY))
    )


@dataclass(frozen=True)
class Settlement:
    """One settlement's frames (see the module docstring) and its id."""

    settlement_id: str
    period: str
    frames: dict[str, pl.DataFrame]


def settle(
    decisions: pl.DataFrame,
    lines: pl.DataFrame,
    reasons: pl.DataFrame,
    advances: pl.DataFrame,
    *,
    period: str,
    scope: str | None = None,
) -> Settlement:
    """Build a settlement from the current decisions of its period.

    Args:
        decisions: ``claims.decide.DECISION_SCHEMA`` rows of the period's current claims.
        lines: their ``DECISION_LINE_SCHEMA`` rows.
        reasons: their ``REASON_SCHEMA`` rows.
        advances: ``ma_cskcb, amount`` advances recorded for the period.
        period: ``YYYY-MM`` or ``YYYY-Qn``.
        scope: the one facility settled (None: every facility).
    """
    decided = _decided(decisions)
    per_line = _settled_lines(decided, lines)
    claim_groups = _claim_groups(decided, per_line, period)
    messages = _claim_messages(reasons)
    frames = {
        "facilities": _facilities(decided, advances),
        "summary": _summary(decided),
        "groups": _groups(claim_groups),
        "claims": claim_groups,
        "rejected_claims": _rejected_claims(decided, messages),
        "rejected_lines": _rejected_lines(decided, per_line, reasons),
        "pending": _pending(decided, messages),
    }
    frames = {
        k: v.with_columns(pl.lit(period).alias("period")) for k, v in frames.items()
    }
    settlement_id = content_id(
        "settlement",
        period=period,
        scope=scope,
        decisions=frame_digest(frames["claims"], frames["pending"]),
        advances=frame_digest(advances.sort(advances.columns)),
    )
    return Settlement(settlement_id, period, frames)


def _decided(decisions: pl.DataFrame) -> pl.DataFrame:
    """The decisions with their ``treatment``, whether ``pending`` and what they ``paid``."""
    treatment = (
        pl.when(pl.col("inpatient"))
        .then(pl.lit("inpatient"))
        .otherwise(pl.lit("outpatient"))
    )
    return decisions.drop("reason_codes").with_columns(
        treatment.alias("treatment"),
        (pl.col("outcome") == "pending_review").alias("pending"),
        paid().alias("paid"),
    )


def _settled_lines(decided: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """The lines of the decided (not pending) claims, with their claim's ``treatment``
    and whether it pays (``_pays``)."""
    payable = decided.select(
        *CLAIM,
        "treatment",
        "pending",
        pl.col("outcome").is_in(PAYABLE).alias("_pays"),
    )
    return (
        lines.select(LINE_COLUMNS)
        .join(payable, on=CLAIM, how="inner")
        .filter(~pl.col("pending"))
    )


def _paid_line() -> pl.Expr:
    """What a line pays: its accepted T_BHTT when its claim pays."""
    return pl.when(pl.col("_pays")).then(pl.col("accepted_bhtt")).otherwise(ZERO)


def _claim_groups(
    decided: pl.DataFrame, per_line: pl.DataFrame, period: str
) -> pl.DataFrame:
    """Per claim, treatment and cost group: claimed and accepted BH and T_BHTT, rejected."""
    return (
        per_line.join(
            decided.select(*CLAIM, "ma_cskcb", "ma_lk"),
            on=CLAIM,
        )
        .group_by("ma_cskcb", "ma_lk", *CLAIM, "treatment", "cost_group")
        .agg(
            pl.col("claimed_bh").sum(),
            pl.when(pl.col("_pays"))
            .then(pl.col("accepted_bh"))
            .otherwise(ZERO)
            .sum()
            .alias("accepted_bh"),
            pl.col("claimed_bhtt").sum(),
            _paid_line().sum().alias("accepted_bhtt"),
        )
        .with_columns(
            pl.max_horizontal(
                pl.col("claimed_bhtt") - pl.col("accepted_bhtt"), ZERO
            ).alias("rejected_amount"),
            pl.lit(period).alias("period"),
        )
        .sort("ma_cskcb", "ma_lk", *CLAIM, "cost_group")
    )


def _groups(claim_groups: pl.DataFrame) -> pl.DataFrame:
    """The claim groups summed per facility, treatment and cost group."""
    return (
        claim_groups.group_by("ma_cskcb", "treatment", "cost_group")
        .agg(
            pl.col(
                "claimed_bh",
                "accepted_bh",
                "claimed_bhtt",
                "accepted_bhtt",
                "rejected_amount",
            ).sum()
        )
        .sort("ma_cskcb", "treatment", "cost_group")
    )


def _sums() -> list[pl.Expr]:
    """Claims, requested, accepted, rejected and pending of a group of decisions."""
    settled = ~pl.col("pending")
    return [
        pl.len().alias("claims"),
        pl.col("claimed_t_bhtt").filter(settled).sum().alias("requested"),
        pl.col("paid").sum().alias("accepted"),
        (pl.col("claimed_t_bhtt") - pl.col("paid"))
        .filter(settled)
        .sum()
        .alias("rejected"),
        pl.col("pending").sum().cast(pl.Int64).alias("pending_claims"),
        pl.col("claimed_t_bhtt")
        .filter(pl.col("pending"))
        .sum()
        .alias("pending_amount"),
    ]


def _summary(decided: pl.DataFrame) -> pl.DataFrame:
    """The sums per facility and treatment."""
    return (
        decided.group_by("ma_cskcb", "treatment")
        .agg(_sums())
        .sort("ma_cskcb", "treatment")
    )


def _facilities(decided: pl.DataFrame, advances: pl.DataFrame) -> pl.DataFrame:
    """The sums per facility, its advances and what is due net of them."""
    return (
        decided.group_by("ma_cskcb")
        .agg(_sums())
        .join(
            advances.group_by("ma_cskcb").agg(pl.col("amount").sum().alias("advances")),
            on="ma_cskcb",
            how="left",
        )
        .with_columns(pl.col("advances").fill_null(ZERO).cast(MONEY))
        .with_columns((pl.col("accepted") - pl.col("advances")).alias("due"))
        .sort("ma_cskcb")
    )


def _claim_messages(reasons: pl.DataFrame) -> pl.DataFrame:
    """Per claim, its reason codes and messages, each once."""
    return reasons.group_by(*CLAIM).agg(
        pl.col("code").unique().sort().str.join(", ").alias("reason_codes"),
        pl.col("message").unique(maintain_order=True).str.join("; ").alias("messages"),
    )


def _rejected_claims(decided: pl.DataFrame, messages: pl.DataFrame) -> pl.DataFrame:
    """The decided claims paid less than they asked, with their reasons."""
    return (
        decided.filter(
            ~pl.col("pending") & (pl.col("claimed_t_bhtt") - pl.col("paid") > 0)
        )
        .join(messages, on=CLAIM, how="left")
        .select(
            "ma_cskcb",
            "ma_lk",
            "outcome",
            "claimed_t_bhtt",
            pl.col("paid").alias("accepted_t_bhtt"),
            (pl.col("claimed_t_bhtt") - pl.col("paid")).alias("rejected_amount"),
            "reason_codes",
            "messages",
            *CLAIM,
        )
        .sort("ma_cskcb", "ma_lk")
    )


def _rejected_lines(
    decided: pl.DataFrame, per_line: pl.DataFrame, reasons: pl.DataFrame
) -> pl.DataFrame:
    """The lines of decided claims paid less than they asked, with their reasons."""
    line_messages = (
        reasons.filter(pl.col("line_no").is_not_null())
        .group_by(*CLAIM, "table", "line_no")
        .agg(pl.format("{}: {}", "code", "message").str.join("; ").alias("reasons"))
    )
    paid_line = _paid_line()
    return (
        per_line.filter(paid_line < pl.col("claimed_bhtt"))
        .join(decided.select(*CLAIM, "ma_cskcb", "ma_lk"), on=CLAIM)
        .join(line_messages, on=[*CLAIM, "table", "line_no"], how="left")
        .select(
            "ma_cskcb",
            "ma_lk",
            "table",
            "stt",
            "code",
            "cost_group",
            "claimed_bhtt",
            paid_line.alias("accepted_bhtt"),
            (pl.col("claimed_bhtt") - paid_line).alias("rejected_amount"),
            "refused_by",
            "reasons",
        )
        .sort("ma_cskcb", "ma_lk", "table", "stt")
    )


def _pending(decided: pl.DataFrame, messages: pl.DataFrame) -> pl.DataFrame:
    """The claims pending review, listed apart and not paid until decided."""
    return (
        decided.filter(pl.col("pending"))
        .join(messages, on=CLAIM, how="left")
        .select(
            "ma_cskcb", "ma_lk", "claimed_t_bhtt", "accepted_t_bhtt", "reason_codes"
        )
        .sort("ma_cskcb", "ma_lk")
    )
