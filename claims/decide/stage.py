"""The decide stage function: an assessment and a payment become decisions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import polars as pl

from claims.decide.amounts import DECISION_LINE_SCHEMA, accepted_lines
from claims.decide.outcome import claim_decisions
from claims.decide.reasons import reasons
from claims.pay import Payment
from rules.evaluate import Pack


class Decisions(NamedTuple):
    """The decision stage's result."""

    claims: pl.DataFrame
    """:data:`~claims.decide.outcome.DECISION_SCHEMA`, in batch order."""
    lines: pl.DataFrame
    """:data:`~claims.decide.amounts.DECISION_LINE_SCHEMA`."""
    reasons: pl.DataFrame
    """:data:`~claims.decide.reasons.REASON_SCHEMA`."""


def decide(
    xml1: pl.DataFrame,
    assessed: pl.DataFrame,
    hits: pl.DataFrame,
    payment: Payment,
    *,
    run_id: str,
    catalogs: Mapping[str, str],
    packs: Sequence[Pack] = (),
    quarantine: pl.DataFrame | None = None,
    values: pl.DataFrame | None = None,
) -> Decisions:
    """Turn an assessment and a payment into decisions.

    Args:
        xml1: the typed XML1 rows of the batch (claimed totals, period).
        assessed: ``claims.assess.ASSESSMENT_SCHEMA`` rows.
        hits: rule hits (``rules.evaluate.HIT_SCHEMA``).
        payment: the payment stage's lines and claims.
        run_id: the run the decisions belong to.
        catalogs: catalog id → ``version#hash`` labels the run used.
        packs: the loaded pack versions (their Vietnamese rule descriptions).
        quarantine: validation's quarantine entries: the lines it refused stay in their
            claim as reasons (their money is not accepted: they were never stored);
            with ``stt`` and ``item_code`` columns, the reasons name the line so.
        values: the assessment's values of the fired rules (``Assessment.values``).
    """
    lines = accepted_lines(xml1, assessed, hits, payment, run_id)
    found = reasons(xml1, hits, payment, lines, packs, run_id, quarantine, values)
    claims = claim_decisions(
        xml1, assessed, payment.claims, lines, found, run_id, catalogs
    )
    return Decisions(
        claims,
        lines.select(list(DECISION_LINE_SCHEMA)).cast(pl.Schema(DECISION_LINE_SCHEMA)),
        found,
    )
