"""Rule packs against stored claims: explain one claim, shadow a draft over many.

Both read stored claims back and run the pipeline's stages after validation on them
(``STORED_STAGES``), as the daily run did: ``explain`` in keep-every-rule mode, so every
rule of the claim's pack version shows what it gave, beside the stored decision;
``shadow`` through decide for the active versions and for the draft, so it reports
outcomes and money that would change.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from typing import NamedTuple

import duckdb
import polars as pl

from catalogs.resolve import load_catalogs
from claims.config import Settings
from claims.errors import ConfigError
from claims.pipeline.context import Reference, RunContext
from claims.pipeline.daily import store_history
from claims.pipeline.stages import Frames, run_stages, stages_named
from claims.schema import (
    CLAIM_KEYS,
    DOCUMENTS,
    HISTORY_SCHEMA,
    INPATIENT,
    VISIT_WINDOW_DAYS,
    patient_id,
)
from claims.settle import paid
from claims.store import has_table, history_of, open_store, stored_claims
from rules.evaluate import Pack, select_packs

_PREPARE = stages_named("price", "features")
_DECIDE = stages_named("assess", "pay", "decide")
_SHOWN = ("ma_cskcb", "ma_lk", "ngay_vao", "ngay_ra", "ma_loai_kcb")


class Explained(NamedTuple):
    """One stored claim re-run in keep-every-rule mode."""

    pack: Pack | None
    """The version that covers the claim's admission (None: NO_RULE_PACK)."""
    rules: pl.DataFrame
    """Per rule of that version: ``rule_id, action, table, level, rows, fired,
    not_evaluable``."""
    frames: dict[str, pl.DataFrame]
    """The frames rules read (features of XML1–XML3, XML4, XML5) and the XML6–XML15
    documents, by table."""
    recomputed: pl.DataFrame
    """The decision the stages give now (one row)."""
    stored: pl.DataFrame
    """The stored decision of the claim's current version (one row, or none)."""
    reasons: pl.DataFrame
    """Every reason the stages give now (rules, payment, validation), in
    ``claims.decide.REASON_SCHEMA``: naming the line and the values compared."""
    related: pl.DataFrame
    """The patient's other stored claims the cross-claim rules count (same-day
    admissions, overlapping stays, visits in the window before): ``relation,
    ma_cskcb, ma_lk, ngay_vao, ngay_ra, ma_loai_kcb``."""


def explain_claim(
    settings: Settings, packs: list[Pack], facility: str, claim: str
) -> Explained:
    """Re-run the current version of claim ``(facility, claim)`` with every rule kept.

    Raises:
        LookupError: the store holds no claims, or not this one.
    """
    with open_store(settings.store_path, read_only=True) as con:
        stored = stored_claims(con, "ma_cskcb = ? AND ma_lk = ?", [facility, claim])
        if stored.tables["XML1"].height == 0:
            msg = f"no current claim {claim!r} of facility {facility!r}"
            raise LookupError(msg)
        decision = _stored_decision(con, stored.tables["XML1"])
        history = history_of(con, stored.tables["XML1"])
    run_id = decision["run_id"].item() if decision.height else "explain"
    reference = Reference(
        load_catalogs(settings.catalog_dir), select_packs(packs, settings.pack_id)
    )
    day = str(stored.tables["XML1"]["ngay_ra"].dt.date().item())
    ctx = RunContext(
        run_id,
        day,
        reference,
        settings,
        store_history(settings, read_only=True),
        keep_every_rule=True,
    )
    frames = Frames(tables=stored.tables, claims=stored.quarantined)
    done = run_stages(ctx, frames, stages=(*_PREPARE, *_DECIDE))
    assessed = done.need("assessment", done.assessment)
    found = done.need("features", done.features)
    label = assessed.claims["pack"].item()
    pack = next((p for p in reference.packs if p.label == label), None)
    decided = done.need("decisions", done.decisions)
    return Explained(
        pack,
        _per_rule(pack, assessed.checked),
        {
            "XML1": found.claims,
            **found.lines,
            "XML4": stored.tables["XML4"],
            "XML5": stored.tables["XML5"],
            **{t: stored.tables[t] for t in DOCUMENTS},
        },
        decided.claims,
        decision,
        decided.reasons,
        related_claims(stored.tables["XML1"], history),
    )


def related_claims(xml1: pl.DataFrame, history: pl.DataFrame | None) -> pl.DataFrame:
    """The patient's other stored claims that the cross-claim windows of the claim of
    ``xml1`` (one row) count, as ``claims.features`` counts them: admitted the same
    day (``same_day``), an inpatient stay overlapping this one (``overlapping_stay``),
    admitted in the :data:`VISIT_WINDOW_DAYS` days before (``visit_before``)."""
    schema: dict[str, pl.DataType] = {
        "relation": pl.String(),
        **{c: HISTORY_SCHEMA[c] for c in _SHOWN},
    }
    if history is None or history.height == 0 or xml1.height != 1:
        return pl.DataFrame(schema=schema)
    this = xml1.row(0, named=True)
    start, end = this["ngay_vao"], this["ngay_ra"] or this["ngay_vao"]
    if start is None:
        return pl.DataFrame(schema=schema)
    stay = this["ma_loai_kcb"] in INPATIENT
    others = history.filter(
        (pl.col("ma_cskcb") != this["ma_cskcb"]) | (pl.col("ma_lk") != this["ma_lk"]),
        pl.col("patient") == xml1.select(patient_id()).item(),
        pl.col("ngay_vao").is_not_null(),
    )
    other_end = pl.col("ngay_ra").fill_null(pl.col("ngay_vao"))
    overlapping = (
        pl.lit(stay)
        & pl.col("ma_loai_kcb").is_in(INPATIENT).fill_null(False)
        & (pl.col("ngay_vao") < end)
        & (other_end > start)
    )
    day = pl.col("ngay_vao").dt.date()
    before = (day < start.date()) & (
        pl.col("ngay_vao") >= start - timedelta(days=VISIT_WINDOW_DAYS)
    )
    relation = (
        pl.when(day == start.date())
        .then(pl.lit("same_day"))
        .when(overlapping)
        .then(pl.lit("overlapping_stay"))
        .when(before)
        .then(pl.lit("visit_before"))
    )
    return (
        others.with_columns(relation.alias("relation"))
        .filter(pl.col("relation").is_not_null())
        .select(list(schema))
        .sort("ngay_vao", "ma_cskcb", "ma_lk")
    )


def _stored_decision(
    con: duckdb.DuckDBPyConnection, xml1: pl.DataFrame
) -> pl.DataFrame:
    """The stored decision of the claim of ``xml1`` (its run id, versions, money)."""
    if not has_table(con, "decisions"):
        return pl.DataFrame()
    con.register("_claim", xml1.select(CLAIM_KEYS).to_arrow())
    try:
        found: pl.DataFrame = con.sql(
            "SELECT d.* FROM decisions d JOIN _claim USING (file_id, hoso_idx)"
        ).pl()
        return found
    finally:
        con.unregister("_claim")


def _per_rule(pack: Pack | None, checked: pl.DataFrame | None) -> pl.DataFrame:
    """Per rule of ``pack``: rows evaluated, fired and not evaluable."""
    schema = {
        "rule_id": pl.String,
        "action": pl.String,
        "table": pl.String,
        "level": pl.String,
    }
    if pack is None:
        return pl.DataFrame(schema=schema)
    rules = pl.DataFrame(
        [(r.spec.id, r.spec.action, r.spec.table, r.spec.level) for r in pack.rules],
        schema=schema,
        orient="row",
    )
    results = (checked if checked is not None else pl.DataFrame()).filter(
        pl.col("pack") == pack.label
    )
    counts = results.group_by("rule_id").agg(
        pl.len().cast(pl.Int64).alias("rows"),
        (pl.col("outcome") == "fired").sum().cast(pl.Int64).alias("fired"),
        (pl.col("outcome") == "not_evaluable")
        .sum()
        .cast(pl.Int64)
        .alias("not_evaluable"),
    )
    return rules.join(
        counts, on="rule_id", how="left", maintain_order="left"
    ).with_columns(pl.col("rows", "fired", "not_evaluable").fill_null(0))


class Shadowed(NamedTuple):
    """A draft pack version run beside the active ones on stored claims."""

    claims: int
    """Stored current claims admitted since the date."""
    changed: pl.DataFrame
    """Claims whose outcome or payable T_BHTT changes (``payable``: the accepted T_BHTT
    of an accepted or partially accepted claim, 0 otherwise), side by side."""
    per_facility: pl.DataFrame
    """Changed claims per facility and outcome pair, with the money that moves."""
    per_rule: pl.DataFrame
    """Rules whose number of hits differs (``active``, ``draft``)."""


def shadow(settings: Settings, packs: list[Pack], draft: Pack, since: date) -> Shadowed:
    """Decide the claims admitted since ``since`` with the active versions and with
    ``draft`` (pinned), through the same stages; report what changes.

    Raises:
        LookupError: the store holds no claims yet.
    """
    with open_store(settings.store_path, read_only=True) as con:
        stored = stored_claims(con, "ngay_vao >= ?", [since])
    if stored.tables["XML1"].height == 0:
        msg = f"no stored claims admitted since {since}; nothing to compare"
        raise ConfigError(msg)
    catalogs = load_catalogs(settings.catalog_dir)
    active = Reference(catalogs, select_packs(packs, settings.pack_id))
    ctx = RunContext(
        "shadow",
        since.isoformat(),
        active,
        settings,
        store_history(settings, read_only=True),
    )
    prepared = run_stages(
        ctx, Frames(tables=stored.tables, claims=stored.quarantined), stages=_PREPARE
    )
    now = run_stages(ctx, prepared, stages=_DECIDE)
    pinned = Reference(catalogs, [draft], pinned=True)
    then = run_stages(
        dataclasses.replace(ctx, reference=pinned), prepared, stages=_DECIDE
    )
    return _compare(stored.tables["XML1"].height, now, then)


def _compare(claims: int, now: Frames, then: Frames) -> Shadowed:
    keys = list(CLAIM_KEYS)
    payable = paid().alias("payable")
    before = now.need("decisions", now.decisions).claims.select(
        *keys, "ma_cskcb", "ma_lk", "outcome", payable
    )
    after = then.need("decisions", then.decisions).claims.select(
        *keys, "outcome", payable
    )
    changed = (
        before.join(after, on=keys, suffix="_draft")
        .filter(
            (pl.col("outcome") != pl.col("outcome_draft"))
            | (pl.col("payable") != pl.col("payable_draft"))
        )
        .with_columns((pl.col("payable_draft") - pl.col("payable")).alias("difference"))
        .sort("ma_cskcb", "ma_lk")
    )
    per_facility = (
        changed.group_by("ma_cskcb", "outcome", "outcome_draft")
        .agg(
            pl.len().alias("claims"),
            pl.col("payable", "payable_draft", "difference").sum(),
        )
        .sort("claims", "ma_cskcb", descending=[True, False])
    )
    hits = []
    for name, frames in (("active", now), ("draft", then)):
        fired = frames.need("assessment", frames.assessment).hits
        hits.append(
            fired.filter(pl.col("outcome") == "fired").group_by("rule_id").len(name)
        )
    per_rule = (
        hits[0]
        .join(hits[1], on="rule_id", how="full", coalesce=True)
        .fill_null(0)
        .filter(pl.col("active") != pl.col("draft"))
        .sort("rule_id", nulls_last=True)
    )
    return Shadowed(claims, changed, per_facility, per_rule)
