"""The assess stage: derived features, then every applicable rule, then a claim outcome.

Each claim is assessed by the pack version covering its admission date; its lines by the
same version. Outcomes, strongest first: ``rejected`` (a claim-level reject fired),
``pending_review`` (a review rule fired, a rule was not evaluable, or no pack version
covers the claim: ``NO_RULE_PACK``), ``partially_accepted`` (a line was rejected, capped
or adjusted) and ``accepted``. Money is not touched here: the payment stage turns the
outcomes into amounts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import polars as pl

from claims.dates import admission_date
from claims.features import Features
from claims.messages import as_text
from claims.schema import (
    CLAIM_KEYS,
    ITEM_CODE_COLUMNS,
    REASON_VALUES,
    Batch,
    rule_frame_schemas,
)
from claims.validate.tables import ConservationError
from rules import evaluate
from rules.evaluate import (
    HIT_SCHEMA,
    NO_RULE_PACK,
    PASSED,
    Pack,
    evaluate_table,
    param_literal,
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
VALUES_SCHEMA: dict[str, pl.DataType] = {
    "file_id": pl.String(),
    "hoso_idx": pl.UInt32(),
    "table": pl.String(),
    "line_no": pl.UInt32(),
    "rule_id": pl.String(),
    "pack": pl.String(),
    "stt": pl.Int64(),
    "item_code": pl.String(),
    "values": REASON_VALUES,
}
"""Per fired rule and row: the line's STT and item code (null on a claim) and the
values of every column the rule's expression reads (its params included), in the
order the expression names them."""


class Assessment(NamedTuple):
    """The assess stage's result."""

    hits: pl.DataFrame
    """:data:`rules.evaluate.HIT_SCHEMA` rows, NO_RULE_PACK included."""
    claims: pl.DataFrame
    """:data:`ASSESSMENT_SCHEMA`: one row per claim of the batch."""
    checked: pl.DataFrame | None = None
    """With ``keep_every_rule``: every rule on every row it applies to, the rules that
    passed included (outcome ``passed``); None otherwise."""
    values: pl.DataFrame | None = None
    """:data:`VALUES_SCHEMA`: what each fired (or not evaluable) rule read, on the
    rows it fired."""


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
    results = [
        evaluate_table(
            claims, "XML1", packs, level="claim", keep_passed=keep, positions=True
        )
    ]
    frames = {"XML1": claims}
    for table, frame in (
        ("XML2", found.lines["XML2"]),
        ("XML3", found.lines["XML3"]),
        ("XML4", batch.xml4),
        ("XML5", batch.xml5),
    ):
        frames[table] = frame.join(pack_of, on=CLAIM_KEYS, how="left")
        results.append(
            evaluate_table(
                frames[table],
                table,
                packs,
                level="line",
                keep_passed=keep,
                positions=True,
            )
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
        pl.lit(None, pl.UInt32).alias("_row"),
    )
    schema = pl.Schema({**HIT_SCHEMA, "_row": pl.UInt32()})
    placed = pl.concat([*results, uncovered.cast(schema)])
    checked = placed.drop("_row") if keep else None
    if keep:
        placed = placed.filter(pl.col("outcome") != PASSED)
    every = placed.drop("_row")
    outcomes = _outcomes(claims, every)
    if outcomes.height != batch.xml1.height:
        msg = f"{batch.xml1.height} claims in, {outcomes.height} assessed"
        raise ConservationError(msg)
    return Assessment(every, outcomes, checked, hit_values(placed, frames, packs))


def hit_values(
    hits: pl.DataFrame, frames: Mapping[str, pl.DataFrame], packs: Sequence[Pack]
) -> pl.DataFrame:
    """:data:`VALUES_SCHEMA` rows for the fired and not-evaluable hits (``hits`` with
    ``_row``, each hit row's position in its table's frame, as ``evaluate_table`` gives
    it): per rule that fired (never per row), the columns its expression reads gathered
    at those positions."""
    fired = hits.filter(
        pl.col("outcome").is_in(["fired", "not_evaluable"])
        & pl.col("rule_id").is_not_null()
    )
    by_label = {p.label: p for p in packs}
    parts = [pl.DataFrame(schema=VALUES_SCHEMA)]
    for (table, label, rule_id), rows in fired.group_by(
        "table", "pack", "rule_id", maintain_order=True
    ):
        pack = by_label.get(str(label))
        rule = None if pack is None else _rule(pack, str(rule_id))
        frame = frames.get(str(table))
        if pack is None or rule is None or frame is None:
            continue
        parts.append(_values_of(rows, frame, pack, rule.columns, str(table)))
    return pl.concat(parts, how="vertical_relaxed").cast(pl.Schema(VALUES_SCHEMA))


def _rule(pack: Pack, rule_id: str) -> evaluate.CompiledRule | None:
    return next((r for r in pack.rules if r.spec.id == rule_id), None)


def _values_of(
    rows: pl.DataFrame,
    frame: pl.DataFrame,
    pack: Pack,
    read: tuple[str, ...],
    table: str,
) -> pl.DataFrame:
    """The hit rows of one rule with the values of the columns it reads (``read``:
    the compiled rule's, from rule-engine's AST at compile time), gathered from
    ``frame`` at the rows' ``_row``."""
    line = table != "XML1"
    keys = [*CLAIM_KEYS, "line_no"] if line else list(CLAIM_KEYS)
    own = [c for c in read if c in frame.columns and c not in keys]
    codes = [c for c in ITEM_CODE_COLUMNS.get(table, ()) if c in frame.columns]
    extra = ["stt", *codes] if line and "stt" in frame.columns else []
    where = rows.get_column("_row")
    picked = [frame.get_column(c).gather(where) for c in dict.fromkeys([*own, *extra])]
    hit = rows.select(*CLAIM_KEYS, "table", "line_no", "rule_id", "pack")
    found = hit.hstack(picked).with_columns(
        param_literal(pack.params[c]).alias(c) for c in read if c in pack.params
    )
    values = [
        pl.struct(pl.lit(c).alias("name"), as_text(c, found.schema[c]).alias("value"))
        for c in read
        if c in found.columns
    ]
    return found.select(
        *CLAIM_KEYS,
        "table",
        "line_no",
        "rule_id",
        "pack",
        (pl.col("stt") if extra else pl.lit(None, pl.Int64)).alias("stt"),
        (pl.coalesce(codes) if line and codes else pl.lit(None, pl.String)).alias(
            "item_code"
        ),
        (pl.concat_list(values) if values else pl.lit([], REASON_VALUES)).alias(
            "values"
        ),
    )


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
