"""The national-day baselines on a small generated day: every baseline agrees with the
engine on the same data (0 mismatches), each one's deliberately wrong variant is
caught, and the ratios are positive figures."""

from __future__ import annotations

import time
from pathlib import Path
from typing import NamedTuple

import duckdb
import polars as pl
import pytest

from claims.bench.baselines import Baseline, run_baselines
from claims.bench.baselines_price import differing, differing_sql
from claims.bench.baselines_rules import hit_mismatches
from claims.config import Settings
from claims.intake import Submission, read_submission
from claims.pipeline.context import Reference, RunContext
from claims.pipeline.stages import Frames, run_stages
from claims.synthetic import generate

KEYS = {
    "ingest_vs_lxml",
    "pricing_vs_duckdb",
    "rules_vs_rule_engine",
    "rules_vs_duckdb",
    "pay_vs_duckdb",
    "settle_vs_duckdb",
}


class Day(NamedTuple):
    ctx: RunContext
    done: Frames
    seconds: dict[str, float]
    files: list[Path]
    lines_per_s: float


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory, reference: Reference) -> Day:
    inbox = tmp_path_factory.mktemp("bench-baselines") / "inbox"
    generate(inbox, claims=400, facilities=20, seed=2, fmt="xml")
    files = sorted(inbox.glob("*.xml"))
    started = time.perf_counter()
    subs = tuple(read_submission(p, max_bytes=1 << 30) for p in files)
    read_s = time.perf_counter() - started
    assert all(isinstance(s, Submission) for s in subs)
    ctx = RunContext("bench-baselines", "2026-10-15", reference, Settings())
    seconds: dict[str, float] = {}
    done = run_stages(
        ctx,
        Frames(submissions=subs),  # type: ignore[arg-type]
        on_stage=lambda name, spent, _f: seconds.__setitem__(name, spent),
    )
    lines = done.tables["XML2"].height + done.tables["XML3"].height
    return Day(ctx, done, seconds, files, lines / read_s)


@pytest.fixture(scope="module")
def baselines(day: Day) -> dict[str, Baseline]:
    return run_baselines(
        day.ctx,
        day.done,
        day.seconds,
        xml_slice=day.files,
        ingest_lines_per_s=day.lines_per_s,
        sample=2000,
    )


def test_every_baseline_agrees_with_the_engine(baselines: dict[str, Baseline]) -> None:
    assert set(baselines) == KEYS
    for name, b in baselines.items():
        assert b.name == name
        assert b.mismatches == 0, (name, b.detail)
        assert b.rows > 0, name
        assert 0 < b.sampled_rows <= b.rows, name
        assert b.engine_seconds > 0, name
        assert b.baseline_seconds > 0, name
        assert b.ratio == pytest.approx(b.baseline_seconds / b.engine_seconds)


def test_every_wrong_variant_is_caught(baselines: dict[str, Baseline]) -> None:
    for name, b in baselines.items():
        assert b.wrong_variant_mismatches > 0, (name, b.detail)
        variants = b.detail["wrong_variants"]
        assert isinstance(variants, dict), name
        assert next(iter(variants.values())) == b.wrong_variant_mismatches, name


def test_the_samples_and_the_rows_they_stand_for(
    day: Day, baselines: dict[str, Baseline]
) -> None:
    lines = day.done.tables["XML2"].height + day.done.tables["XML3"].height
    assert baselines["pricing_vs_duckdb"].rows == lines
    assert baselines["pay_vs_duckdb"].rows == lines
    assert baselines["rules_vs_duckdb"].rows == day.done.tables["XML3"].height
    per_row = baselines["rules_vs_rule_engine"]
    assert per_row.sampled_rows < per_row.rows  # sampled, then extrapolated
    evaluate = per_row.detail["evaluate_table_seconds"]
    assert isinstance(evaluate, float)
    assert evaluate > 0  # the rules alone, re-run on the same frames
    ingest = baselines["ingest_vs_lxml"]
    assert ingest.sampled_rows >= 2000 or ingest.detail["files"] == len(day.files)
    assert ingest.ratio == pytest.approx(
        ingest.baseline_seconds / (ingest.rows / day.lines_per_s)
    )
    as_json = per_row.as_json()
    assert set(as_json) >= {"ratio", "mismatches", "wrong_variant_mismatches", "rows"}


def test_the_comparisons_count_a_changed_row() -> None:
    ours = pl.DataFrame({"k": [1, 2, 3], "v": [10, 20, 30]})
    assert differing(ours, ours, ["k"], ["v"], every=True) == 0
    changed = ours.with_columns(
        pl.when(pl.col("k") == 2).then(21).otherwise("v").alias("v")
    )
    assert differing(ours, changed, ["k"], ["v"], every=True) == 1
    assert differing(ours, ours.head(2), ["k"], ["v"], every=True) == 1
    assert (
        differing(ours, pl.concat([ours, ours.tail(1)]), ["k"], ["v"], every=True) == 1
    )
    con = duckdb.connect()
    for name, theirs in (("same", ours), ("changed", changed), ("short", ours.head(2))):
        con.register(name, theirs)
    assert differing_sql(con, ours, "same", ["k"], ["v"], every=True) == 0
    assert differing_sql(con, ours, "changed", ["k"], ["v"], every=True) == 1
    assert differing_sql(con, ours, "short", ["k"], ["v"], every=True) == 1
    assert differing_sql(con, ours.head(2), "same", ["k"], ["v"], every=False) == 0
    hit = {
        "table": ["XML3"],
        "file_id": ["f"],
        "hoso_idx": [0],
        "line_no": [None],
        "rule_id": ["R"],
        "pack": ["p"],
        "outcome": ["fired"],
    }
    hits = pl.DataFrame(
        hit, schema_overrides={"hoso_idx": pl.UInt32, "line_no": pl.UInt32}
    )
    assert hit_mismatches(hits, hits) == 0
    assert (
        hit_mismatches(
            hits, hits.with_columns(pl.lit("not_evaluable").alias("outcome"))
        )
        == 2
    )
    assert hit_mismatches(hits, hits.clear()) == 1
