"""The assess stage: derived features, then every applicable rule, then a claim outcome.

Each claim is assessed by the pack version covering its admission date; its lines by the
same version. Outcomes, strongest first: ``rejected`` (a claim-level reject fired),
``pending_review`` (a review rule fired, a rule was not evaluable, or no pack version
covers the claim: ``NO_RULE_PACK``), ``partially_accepted`` (a line was rejected, capped
or adjusted) and ``accepted``. Money is not touched here: the payment stage turns the
outcomes into amounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import polars as pl

from claims.dates import admission_date
from claims.features import Features
from claims.schema import CLAIM_KEYS, Batch, rule_frame_schemas
from claims.validate.tables import ConservationError
from rules import evaluate
from rules.evaluate import (
    HIT_SCHEMA,
    NO_RULE_PACK,
    PASSED,
    Pack,
    evaluate_table,
    version_of,
)
from rules.packs import PACKS_ROOT

OUTCOMES = ("rejected", "pending_review", "partially_accepted", "accepted")
ASSESSMENT_SCHEMA: dict[str, pl.DataType] = {
    "file_id": pl.String(),
    "hoso_idx": pl.UInt32(),
    "ma_cskcb": pl.String(),
    "ma_lk": pl.String(),
    "pack": pl.String(),
    "outcome": pl.String(),
    "reason_codes": pl.List(pl.String()),
    "rules_fired": pl.Int64(),
    "rules_not_evaluable": pl.Int64(),
}


class Assessment(NamedTuple):
    """The assess stage's result."""

    hits: pl.DataFrame
    """:data:`rules.evaluate.HIT_SCHEMA` rows, NO_RULE_PACK included."""
    claims: pl.DataFrame
    """:data:`ASSESSMENT_SCHEMA`: one row per claim of the batch."""
    checked: pl.DataFrame | None = None
    """With ``keep_every_rule``: every rule on every row it applies to, the rules that
    passed included (outcome ``passed``); None otherwise."""


def assess(
    batch: Batch,
    found: Features,
    packs: Sequence[Pack],
    *,
    pinned: bool = False,
    keep_every_rule: bool = False,
) -> Assessment:
    """Assess every claim of a batch.

    Args:
        batch: the typed tables, their prices and the facilities catalog.
        found: the features stage's claim and line frames of ``batch``.
        packs: the versions that may apply (released versions of one pack, or one pinned).
        pinned: apply ``packs[0]`` to every claim whatever its admission date.
        keep_every_rule: also return every rule's result where it passed (explain).
    """
    claims = found.claims.with_columns(
        version_of(packs, admission_date(), pinned=pinned).alias("_pack")
    )
    pack_of = claims.select(*CLAIM_KEYS, "_pack")
    keep = keep_every_rule
    results = [evaluate_table(claims, "XML1", packs, level="claim", keep_passed=keep)]
    for table in ("XML2", "XML3"):
        lines = found.lines[table].join(pack_of, on=CLAIM_KEYS, how="left")
        results.append(
            evaluate_table(lines, table, packs, level="line", keep_passed=keep)
        )
    for table, frame in (("XML4", batch.xml4), ("XML5", batch.xml5)):
        lines = frame.join(pack_of, on=CLAIM_KEYS, how="left")
        results.append(
            evaluate_table(lines, table, packs, level="line", keep_passed=keep)
        )
    uncovered = claims.filter(pl.col("_pack").is_null()).select(
        *CLAIM_KEYS,
        pl.lit("XML1").alias("table"),
        pl.lit(None, pl.UInt32).alias("line_no"),
        pl.lit(None, pl.String).alias("rule_id"),
        pl.lit(None, pl.String).alias("pack"),
        pl.lit("review").alias("action"),
        pl.lit(NO_RULE_PACK).alias("reason_code"),
        pl.lit("fired").alias("outcome"),
        pl.lit(None, pl.Decimal(38, 3)).alias("adjust_to"),
    )
    every = pl.concat([*results, uncovered.cast(pl.Schema(HIT_SCHEMA))])
    checked = every if keep else None
    if keep:
        every = every.filter(pl.col("outcome") != PASSED)
    outcomes = _outcomes(claims, every)
    if outcomes.height != batch.xml1.height:
        msg = f"{batch.xml1.height} claims in, {outcomes.height} assessed"
        raise ConservationError(msg)
    return Assessment(every, outcomes, checked)


def _outcomes(claims: pl.DataFrame, hits: pl.DataFrame) -> pl.DataFrame:
    fired = pl.col("outcome") == "fired"
    claim_level = pl.col("line_no").is_null()
    per_claim = hits.group_by(CLAIM_KEYS).agg(
        (fired & claim_level & (pl.col("action") == "reject")).any().alias("_reject"),
        (
            (fired & (pl.col("action") == "review"))
            | (pl.col("outcome") == "not_evaluable")
        )
        .any()
        .alias("_review"),
        (fired & ~claim_level & pl.col("action").is_in(["reject", "cap", "adjust"]))
        .any()
        .alias("_partial"),
        pl.col("reason_code").filter(fired).unique().sort().alias("reason_codes"),
        fired.sum().cast(pl.Int64).alias("rules_fired"),
        (pl.col("outcome") == "not_evaluable")
        .sum()
        .cast(pl.Int64)
        .alias("rules_not_evaluable"),
    )
    outcome = (
        pl.when(pl.col("_reject"))
        .then(pl.lit("rejected"))
        .when(pl.col("_review"))
        .then(pl.lit("pending_review"))
        .when(pl.col("_partial"))
        .then(pl.lit("partially_accepted"))
        .otherwise(pl.lit("accepted"))
    )
    return (
        claims.select(*CLAIM_KEYS, "ma_cskcb", "ma_lk", pl.col("_pack").alias("pack"))
        .join(per_claim, on=CLAIM_KEYS, how="left", maintain_order="left")
        .with_columns(
            outcome.alias("outcome"),
            pl.col("reason_codes").fill_null(pl.lit([], pl.List(pl.String))),
            pl.col("rules_fired").fill_null(0),
            pl.col("rules_not_evaluable").fill_null(0),
        )
        .select(list(ASSESSMENT_SCHEMA))
        .cast(pl.Schema(ASSESSMENT_SCHEMA))
    )


def load_packs(root: Path = PACKS_ROOT) -> list[Pack]:
    """Every pack version under ``root``, type-checked against the engine's frames."""
    return evaluate.load_packs(root, schemas=rule_frame_schemas())
