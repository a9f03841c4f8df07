"""The assess stage: derived features, then every applicable rule, then a claim outcome.

Each claim is assessed by the pack version covering its admission date; its lines by the
same version. Outcomes, strongest first: ``rejected`` (a claim-level reject fired),
``pending_review`` (a review rule fired, a rule was not evaluable, or no pack version
covers the claim: ``NO_RULE_PACK``), ``partially_accepted`` (a line was rejected, capped
or adjusted) and ``accepted``. Money is not touched here: the payment stage turns the
outcomes into amounts.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import polars as pl

from claims.dates import admission_date
from claims.features import CLAIM_KEYS, Batch, claim_features, line_features
from claims.price import PRICE_SCHEMA
from claims.validate.tables import ConservationError, empty_tables
from rules import evaluate
from rules.evaluate import HIT_SCHEMA, NO_RULE_PACK, Pack, evaluate_table, version_of
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


def assess(
    batch: Batch,
    packs: Sequence[Pack],
    *,
    history: pl.DataFrame | None = None,
    pinned: bool = False,
) -> Assessment:
    """Assess every stored claim of a batch.

    Args:
        batch: the typed tables, their prices and the facilities catalog.
        packs: the versions that may apply (released versions of one pack, or one pinned).
        history: stored claims for cross-claim windows (None: the batch alone).
        pinned: apply ``packs[0]`` to every claim whatever its admission date.
    """
    claims = claim_features(batch, history).with_columns(
        version_of(packs, admission_date(), pinned=pinned).alias("_pack")
    )
    pack_of = claims.select(*CLAIM_KEYS, "_pack")
    hits = [evaluate_table(claims, "XML1", packs, level="claim")]
    for table in ("XML2", "XML3"):
        lines = line_features(table, batch, claims).join(
            pack_of, on=CLAIM_KEYS, how="left"
        )
        hits.append(evaluate_table(lines, table, packs, level="line"))
    for table, frame in (("XML4", batch.xml4), ("XML5", batch.xml5)):
        lines = frame.join(pack_of, on=CLAIM_KEYS, how="left")
        hits.append(evaluate_table(lines, table, packs, level="line"))
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
    every = pl.concat([*hits, uncovered.cast(HIT_SCHEMA)])  # type: ignore[arg-type]
    outcomes = _outcomes(claims, every)
    if outcomes.height != batch.xml1.height:
        msg = f"{batch.xml1.height} claims in, {outcomes.height} assessed"
        raise ConservationError(msg)
    return Assessment(every, outcomes)


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
        .cast(ASSESSMENT_SCHEMA)  # type: ignore[arg-type]
    )


@functools.cache
def frame_schemas() -> dict[str, dict[str, pl.DataType]]:
    """The schemas of the frames rules read, built by running the features on no rows."""
    facilities = pl.DataFrame(
        schema={
            "ma_cskcb": pl.String,
            "tier": pl.String,
            "level_2025": pl.String,
            "beds": pl.Int64,
            "valid_from": pl.Date,
            "valid_to": pl.Date,
            "catalog_version": pl.String,
        }
    )
    tables = empty_tables()
    batch = Batch(
        tables["XML1"],
        tables["XML2"],
        tables["XML3"],
        tables["XML4"],
        tables["XML5"],
        pl.DataFrame(schema=PRICE_SCHEMA),
        facilities,
    )
    claims = claim_features(batch)
    schemas = {"XML1": dict(claims.schema)}
    for table in ("XML2", "XML3"):
        schemas[table] = dict(line_features(table, batch, claims).schema)
    for table in ("XML4", "XML5"):
        schemas[table] = dict(tables[table].schema)
    return {
        t: {k: v for k, v in s.items() if not k.startswith("_")}
        for t, s in schemas.items()
    }


def load_packs(root: Path = PACKS_ROOT) -> list[Pack]:
    """Every pack version under ``root``, type-checked against the engine's frames."""
    return evaluate.load_packs(root, schemas=frame_schemas())
