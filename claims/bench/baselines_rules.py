"""The rule baselines: rule-engine's ``Rule.matches`` row by row, and hand-written SQL.

Both compare their hits with the assess stage's (``Frames.assessment.hits``) on the
frames rules read (:func:`rule_frames`, built as ``claims.assess`` builds them). The
per-row baseline is Python over a sample on purpose: it is what the engine replaces.
"""

from __future__ import annotations

import dataclasses
import decimal
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import duckdb
import polars as pl
import rule_engine

from claims.bench.baselines_sql import (
    RULE_COLUMNS,
    RULE_SQL,
    RULE_SQL_WRONG,
    hits_sql,
    rules_sql,
)
from claims.pipeline.stages import Frames
from claims.schema import CLAIM_KEYS
from rules.evaluate import Pack, evaluate_table, param_columns
from rules.types import DECIMAL_CONTEXT, rule_context

HIT_KEYS = ["table", *CLAIM_KEYS, "line_no", "rule_id", "pack", "outcome"]
"""What a hit is compared on."""
RULE_TABLES = ("XML1", "XML2", "XML3", "XML4", "XML5")


class Timed(NamedTuple):
    """A baseline's seconds, the rows it ran on and its mismatches (and the engine's
    seconds on the same work, where the baseline re-runs it)."""

    seconds: float
    rows: int
    mismatches: int
    wrong_mismatches: int
    detail: dict[str, object]
    engine_seconds: float | None = None


def rule_frames(
    done: Frames,
    tables: Sequence[str] = RULE_TABLES,
    *,
    step: int = 1,
    columns: Sequence[str] | None = None,
) -> dict[str, pl.DataFrame]:
    """Per table, the frame the assess stage evaluated with its ``_pack`` label: every
    ``step``-th row, only ``columns`` besides the keys (None: all), and only the rows
    a pack version covers (no rule ran on the others)."""
    assessment = done.need("assessment", done.assessment)
    pack_of = assessment.claims.select(*CLAIM_KEYS, pl.col("pack").alias("_pack"))
    out = {}
    for table in tables:
        frame = _source(done, table)
        if columns is not None:
            frame = frame.select(*CLAIM_KEYS, "line_no", *columns)
        out[table] = (
            frame.gather_every(step)
            .join(pack_of, on=list(CLAIM_KEYS), how="left", maintain_order="left")
            .filter(pl.col("_pack").is_not_null())
        )
    return out


def _source(done: Frames, table: str) -> pl.DataFrame:
    """The frame rules of ``table`` read (``claims.assess``)."""
    found = done.need("features", done.features)
    if table == "XML1":
        return found.claims
    return found.lines[table] if table in found.lines else done.tables[table]


def _level(table: str) -> str:
    return "claim" if table == "XML1" else "line"


def _rules_of(pack: Pack, table: str) -> list[Any]:
    return [
        r for r in pack.rules if r.spec.table == table and r.spec.level == _level(table)
    ]


def _outcome(rule: Any, row: Mapping[str, Any]) -> str | None:
    """rule-engine's outcome on one row: fired, not evaluable (it raised) or None."""
    try:
        return "fired" if rule.matches(row) else None
    except Exception:  # any error rule-engine raises: not evaluable
        return "not_evaluable"


def _per_row(
    frame: pl.DataFrame, table: str, pack: Pack, texts: Mapping[str, str]
) -> tuple[float, list[tuple[object, ...]]]:
    """Seconds of ``Rule.matches`` for each rule (id → text) on each row of ``frame``
    (the rows of one pack version), and the hits."""
    rows_frame = frame.drop("_pack").with_columns(param_columns(pack))
    context = rule_context(rows_frame.schema)
    compiled = [
        (rid, rule_engine.Rule(text, context=context)) for rid, text in texts.items()
    ]
    rows = rows_frame.to_dicts()
    hits: list[tuple[object, ...]] = []
    started = time.perf_counter()
    with decimal.localcontext(DECIMAL_CONTEXT):
        for row in rows:
            for rid, rule in compiled:
                outcome = _outcome(rule, row)
                if outcome is not None:
                    line = None if table == "XML1" else row["line_no"]
                    key = (row["file_id"], row["hoso_idx"], line)
                    hits.append((table, *key, rid, pack.label, outcome))
    return time.perf_counter() - started, hits


def _hit_frame(hits: list[tuple[object, ...]]) -> pl.DataFrame:
    schema = {
        "table": pl.String,
        "file_id": pl.String,
        "hoso_idx": pl.UInt32,
        "line_no": pl.UInt32,
        "rule_id": pl.String,
        "pack": pl.String,
        "outcome": pl.String,
    }
    return pl.DataFrame(hits, schema=schema, orient="row")


def hit_mismatches(ours: pl.DataFrame, theirs: pl.DataFrame) -> int:
    """Hits in one frame and not the other (counted with multiplicity)."""
    a = ours.select(HIT_KEYS).group_by(HIT_KEYS).len("a")
    b = (
        theirs.select(HIT_KEYS)
        .cast(ours.select(HIT_KEYS).schema)
        .group_by(HIT_KEYS)
        .len("b")
    )
    joined = a.join(b, on=HIT_KEYS, how="full", nulls_equal=True, coalesce=True)
    diff = (pl.col("a").fill_null(0).cast(pl.Int64) - pl.col("b").fill_null(0)).abs()
    return int(joined.select(diff.sum()).item() or 0)


def evaluate_seconds(done: Frames, packs: Sequence[Pack]) -> float:
    """Seconds of ``evaluate_table`` alone over every rule frame of ``done`` (the rules
    of each claim's pack version, hits included): the assess stage without its joins,
    outcomes and hit values, as ``benchmarks/rules.py`` times the engine."""
    frames = rule_frames(done)
    started = time.perf_counter()
    for table, frame in frames.items():
        evaluate_table(frame, table, packs, level=_level(table))
    return time.perf_counter() - started


def _engine_hits(done: Frames, keys: pl.DataFrame | None = None) -> pl.DataFrame:
    hits = done.need("assessment", done.assessment).hits.filter(
        pl.col("rule_id").is_not_null()
    )
    if keys is None:
        return hits
    on = ["table", *CLAIM_KEYS, "line_no"]
    return hits.join(keys.select(on), on=on, how="semi", nulls_equal=True)


def per_row_baseline(done: Frames, packs: Sequence[Pack], sample: int) -> Timed:
    """``Rule.matches`` per row for every rule of the claim's pack version on a sample
    of every rule frame; its hits against the engine's on the same rows. The wrong
    variant flips the first ``>`` of a rule (to ``<=``) that then disagrees."""
    total = sum(_source(done, t).height for t in RULE_TABLES)
    sampled = rule_frames(done, step=max(1, math.ceil(total / max(sample, 1))))
    by_label = {p.label: p for p in packs}
    seconds = 0.0
    hits: list[tuple[object, ...]] = []
    keys: list[pl.DataFrame] = []
    for table, frame in sampled.items():
        line = pl.lit(None, pl.UInt32) if table == "XML1" else pl.col("line_no")
        keys.append(
            frame.select(
                *CLAIM_KEYS, pl.lit(table).alias("table"), line.alias("line_no")
            )
        )
        for (label,), rows in frame.group_by("_pack", maintain_order=True):
            pack = by_label[str(label)]
            texts = {r.spec.id: r.spec.expr for r in _rules_of(pack, table)}
            spent, found = _per_row(rows, table, pack, texts)
            seconds, hits = seconds + spent, hits + found
    rows_sampled = sum(f.height for f in sampled.values())
    ours = _engine_hits(done, pl.concat(keys))
    mismatches = hit_mismatches(ours, _hit_frame(hits))
    wrong, flipped = _flipped(sampled, by_label, ours)
    detail: dict[str, object] = {
        "rule_rows": total,
        "wrong_variants": {f"flipped {flipped}": wrong},
    }
    return Timed(seconds, rows_sampled, mismatches, wrong, detail)


def _flipped(
    sampled: Mapping[str, pl.DataFrame],
    by_label: Mapping[str, Pack],
    ours: pl.DataFrame,
) -> tuple[int, str]:
    """Mismatches of the first rule with `` > `` that disagrees once flipped to ``<=``."""
    for table, frame in sampled.items():
        for (label,), rows in frame.group_by("_pack", maintain_order=True):
            pack = by_label[str(label)]
            for rule in _rules_of(pack, table):
                if " > " not in rule.spec.expr:
                    continue
                text = rule.spec.expr.replace(" > ", " <= ", 1)
                _, found = _per_row(rows, table, pack, {rule.spec.id: text})
                want = ours.filter(
                    (pl.col("table") == table)
                    & (pl.col("rule_id") == rule.spec.id)
                    & (pl.col("pack") == pack.label)
                )
                wrong = hit_mismatches(want, _hit_frame(found))
                if wrong:
                    return wrong, f"{rule.spec.id}: {text}"
    return 0, ""


def sql_baseline(done: Frames, packs: Sequence[Pack], sample: int) -> Timed:
    """The XML3 line rules of :data:`RULE_SQL` as one DuckDB select over the whole XML3
    rule frame, next to the engine's ``evaluate_table`` of the same rules on the same
    columns (re-run, timed); the SQL's hits against the assess stage's. The wrong
    variants (:data:`RULE_SQL_WRONG`) run on the first ``sample`` lines (at least
    10,000) and must disagree."""
    frame = rule_frames(done, ("XML3",), columns=RULE_COLUMNS)["XML3"]
    subset = [
        dataclasses.replace(
            p, rules=tuple(r for r in _rules_of(p, "XML3") if r.spec.id in RULE_SQL)
        )
        for p in packs
    ]
    written = sorted({r.spec.id for p in subset for r in p.rules})
    rules = {rid: RULE_SQL[rid] for rid in written}
    started = time.perf_counter()
    evaluate_table(frame, "XML3", subset, level="line")
    engine_s = time.perf_counter() - started
    con = duckdb.connect()
    con.register("_frame", frame)
    con.execute("CREATE TABLE lines AS SELECT * FROM _frame")
    con.unregister("_frame")
    started = time.perf_counter()
    con.execute(f"CREATE TABLE out AS {rules_sql(rules)}")
    seconds = time.perf_counter() - started
    ours = _engine_hits(done).filter(
        (pl.col("table") == "XML3") & pl.col("rule_id").is_in(written)
    )
    mismatches = hit_mismatches(ours, con.sql(hits_sql(rules)).pl())
    head = frame.head(max(sample, 10_000))
    con.register("_frame", head)
    con.execute("CREATE TABLE head AS SELECT * FROM _frame")
    keys = head.select(*CLAIM_KEYS, "line_no", pl.lit("XML3").alias("table"))
    want = ours.join(keys, on=["table", *CLAIM_KEYS, "line_no"], how="semi")
    wrong = {}
    for rid, text in RULE_SQL_WRONG.items():
        if rid in rules:
            variant = {**rules, rid: text}
            con.execute(
                f"CREATE OR REPLACE TABLE wrong AS {rules_sql(variant, 'head')}"
            )
            got = con.sql(hits_sql(variant, "wrong")).pl()
            wrong[rid] = hit_mismatches(want, got)
    con.close()
    detail: dict[str, object] = {
        "rules": written,
        "variant_lines": head.height,
        "wrong_variants": wrong,
    }
    least = next(iter(wrong.values()), 0)
    return Timed(seconds, frame.height, mismatches, least, detail, engine_s)
