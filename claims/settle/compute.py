"""Settlement per facility and period (thanh quyết toán, reference §5), computed from frames.

A settlement takes, for every claim of the period (declared NAM_QT/THANG_QT; a month
``2026-10`` or a quarter ``2026-Q3``, see :mod:`claims.settle.period`), the decision of
its current version (a resubmission or a withdrawal supersedes the earlier one). A
claim's requested amount is its XML1 T_BHTT as claimed; it splits into accepted (what a
claim accepted in whole or in part pays), pending (everything a claim waiting for review
asks, not paid until decided) and rejected (the rest). Per facility:

- ``summary`` (C79 outpatient / C80 inpatient in spirit): claims, requested, accepted,
  rejected, and the claims pending review with their amount, listed apart (``pending``);
- ``groups``: the same per cost group of MA_NHOM (``claims.schema.COST_GROUPS``), from
  the settled lines (:mod:`claims.settle.lines`): every amount a claim asks is on
  exactly one line, quarantined lines and the part of the XML1 total no line carries
  included, so the groups add up to the claims;
- ``facilities``: the totals, the advances it nets (recorded for the period, and carried
  in from earlier periods where they were above the amount due), the amount due net of
  them (never negative) and the advance carried forward to the next period;
- ``rejected_claims`` and ``rejected_lines`` (C79b/C80b in spirit): what a clinic must
  correct and resubmit, with every reason; the rejected lines add up to the rejected
  claims and include every quarantined line;
- ``claims``: one row per claim, treatment and cost group, what ``settle diff`` compares.

Everywhere, requested = accepted + rejected + pending (``claimed_bhtt = accepted_bhtt
+ rejected_amount + pending_amount`` per claim and group); :mod:`claims.settle.reconcile`
checks it. A settlement whose content did not change gets the same id. This module is
pure: the decisions and advances come in as frames
(``claims.store.settlements.current_decisions`` and ``claims.store.ledger`` read them),
the frames go out in a :class:`Settlement`; :mod:`claims.settle.ledger` turns it into
ledger entries.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from claims.ids import content_id, frame_digest
from claims.money import MONEY
from claims.schema import COST_GROUPS, OTHER_GROUP
from claims.settle.lines import UNALLOCATED, settled_lines
from claims.settle.period import next_period

PAYABLE = ("accepted", "partially_accepted")
GROUPS = (*COST_GROUPS, OTHER_GROUP, UNALLOCATED)
ZERO = pl.lit(0).cast(MONEY)
CLAIM = ["file_id", "hoso_idx"]
SPLIT = ("claimed_bhtt", "accepted_bhtt", "rejected_amount", "pending_amount")
"""Requested T_BHTT and how it splits: accepted + rejected + pending."""
GROUP_SUMS = ("claimed_bh", "accepted_bh", *SPLIT)
"""The amounts summed per claim and per cost group."""
ADVANCES_SCHEMA: dict[str, pl.DataType] = {"ma_cskcb": pl.String(), "amount": MONEY}
"""Advances per facility (several rows per facility are summed)."""


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
    carried_in: pl.DataFrame | None = None,
    amounts: pl.DataFrame | None = None,
) -> Settlement:
    """Build a settlement from the current decisions of its period.

    Args:
        decisions: ``claims.decide.DECISION_SCHEMA`` rows of the period's current claims.
        lines: their ``DECISION_LINE_SCHEMA`` rows.
        reasons: their ``REASON_SCHEMA`` rows.
        advances: ``ma_cskcb, amount`` advances recorded for the period.
        period: ``YYYY-MM`` or ``YYYY-Qn``.
        scope: the one facility settled (None: every facility).
        carried_in: ``ma_cskcb, amount``: advances of earlier periods not netted yet
            (a negative balance counts as none); None: none.
        amounts: the amounts of quarantined lines validation kept
            (``claims.settle.lines.AMOUNTS_SCHEMA``); None: none kept.
    """
    carried = pl.DataFrame(schema=ADVANCES_SCHEMA) if carried_in is None else carried_in
    decided = _decided(decisions)
    rows = settled_lines(decided, lines, reasons, amounts)
    claim_groups = _claim_groups(rows, period)
    messages = _claim_messages(reasons)
    frames = {
        "facilities": _facilities(decided, advances, carried, period),
        "summary": _summary(decided),
        "groups": _groups(claim_groups),
        "claims": claim_groups,
        "rejected_claims": _rejected_claims(decided, messages),
        "rejected_lines": _rejected_lines(rows),
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
        advances=frame_digest(
            *(
                f.select(list(ADVANCES_SCHEMA)).sort(pl.all())
                for f in (advances, carried)
            )
        ),
    )
    return Settlement(settlement_id, period, frames)


def _decided(decisions: pl.DataFrame) -> pl.DataFrame:
    """The decisions with their ``treatment``, whether ``pending``, whether it ``pays``
    and what they ``paid``."""
    treatment = (
        pl.when(pl.col("inpatient"))
        .then(pl.lit("inpatient"))
        .otherwise(pl.lit("outpatient"))
    )
    return decisions.drop("reason_codes").with_columns(
        treatment.alias("treatment"),
        (pl.col("outcome") == "pending_review").alias("pending"),
        pl.col("outcome").is_in(PAYABLE).alias("pays"),
        paid().alias("paid"),
    )


def _claim_groups(rows: pl.DataFrame, period: str) -> pl.DataFrame:
    """Per claim, treatment and cost group: the sums of its settled lines."""
    return (
        rows.group_by("ma_cskcb", "ma_lk", *CLAIM, "treatment", "cost_group")
        .agg(pl.col(GROUP_SUMS).sum())
        .with_columns(pl.lit(period).alias("period"))
        .sort("ma_cskcb", "ma_lk", *CLAIM, "cost_group")
    )


def _groups(claim_groups: pl.DataFrame) -> pl.DataFrame:
    """The claim groups summed per facility, treatment and cost group."""
    return (
        claim_groups.group_by("ma_cskcb", "treatment", "cost_group")
        .agg(pl.col(GROUP_SUMS).sum())
        .sort("ma_cskcb", "treatment", "cost_group")
    )


def _sums() -> list[pl.Expr]:
    """Claims, requested, accepted, rejected and pending of a group of decisions."""
    pending = pl.col("pending")
    return [
        pl.len().alias("claims"),
        pl.col("claimed_t_bhtt").sum().alias("requested"),
        pl.col("paid").sum().alias("accepted"),
        (pl.col("claimed_t_bhtt") - pl.col("paid"))
        .filter(~pending)
        .sum()
        .alias("rejected"),
        pending.sum().cast(pl.Int64).alias("pending_claims"),
        pl.col("claimed_t_bhtt").filter(pending).sum().alias("pending_amount"),
    ]


def _summary(decided: pl.DataFrame) -> pl.DataFrame:
    """The sums per facility and treatment."""
    return (
        decided.group_by("ma_cskcb", "treatment")
        .agg(_sums())
        .sort("ma_cskcb", "treatment")
    )


def _facilities(
    decided: pl.DataFrame,
    advances: pl.DataFrame,
    carried_in: pl.DataFrame,
    period: str,
) -> pl.DataFrame:
    """The sums per facility, the advances it nets, what is due net of them and the
    advance carried forward to the next period when the advances are above it."""

    def per_facility(frame: pl.DataFrame, name: str) -> pl.DataFrame:
        return frame.group_by("ma_cskcb").agg(pl.col("amount").sum().alias(name))

    netted = pl.col("advances")
    return (
        decided.group_by("ma_cskcb")
        .agg(_sums())
        .join(per_facility(advances, "_recorded"), on="ma_cskcb", how="left")
        .join(per_facility(carried_in, "carried_in"), on="ma_cskcb", how="left")
        .with_columns(
            pl.col("_recorded").fill_null(ZERO).cast(MONEY),
            pl.max_horizontal(pl.col("carried_in").fill_null(ZERO), ZERO)
            .cast(MONEY)
            .alias("carried_in"),
        )
        .with_columns((pl.col("_recorded") + pl.col("carried_in")).alias("advances"))
        .with_columns(
            pl.max_horizontal(pl.col("accepted") - netted, ZERO)
            .cast(MONEY)
            .alias("due"),
            pl.max_horizontal(netted - pl.col("accepted"), ZERO)
            .cast(MONEY)
            .alias("carried_forward"),
            pl.lit(next_period(period)).alias("carried_to"),
        )
        .drop("_recorded")
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


def _rejected_lines(rows: pl.DataFrame) -> pl.DataFrame:
    """The lines of decided claims paid other than they asked, and every quarantined
    line, with their reasons: they add up to the rejected claims."""
    return (
        rows.filter(
            ~pl.col("pending")
            & ((pl.col("rejected_amount") != 0) | (pl.col("kind") == "quarantined"))
        )
        .select(
            "ma_cskcb",
            "ma_lk",
            "kind",
            "table",
            "line_no",
            "stt",
            "code",
            "cost_group",
            "claimed_bhtt",
            "accepted_bhtt",
            "rejected_amount",
            "refused_by",
            "reasons",
        )
        .sort("ma_cskcb", "ma_lk", "table", "line_no", nulls_last=True)
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
