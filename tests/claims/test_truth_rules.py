"""Truth harness of the rule checks: a generated day with faults run through every stage
with the corrected pack version (which includes the check fragments). Every labelled
fault whose expected reason is a rule's is found on its claim, and on its line where the
truth names one; claims untouched by any fault get no rule hit but info."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from claims.config import Settings
from claims.intake import Submission, read_submission
from claims.pipeline.context import Reference, RunContext
from claims.pipeline.stages import Frames, run_stages
from claims.schema import patient_id
from claims.synthetic import generate
from claims.synthetic.faults import STRUCTURAL
from claims.synthetic.faults_episode import EPISODE_KINDS

CORRECTION = "vn-bhyt@2026.07.1"
CLAIM_ONLY = frozenset({"frequency_limit"})
"""Kinds found on their claim, not necessarily on the labelled line: a limit that one
more line exceeds is reported on the lines past the limit, whichever was added."""
DAY = dt.date(2026, 10, 14)


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Frames, pl.DataFrame]:
    root = tmp_path_factory.mktemp("truth-rules")
    summary = generate(
        root / "inbox",
        claims=3000,
        facilities=10,
        day=DAY,
        seed=13,
        error_rate=0.3,
        fmt="xml",
    )
    subs = []
    for path in summary.files:
        sub = read_submission(Path(path), max_bytes=1 << 31)
        assert isinstance(sub, Submission)
        subs.append(sub)
    reference = Reference.load(None, "vn-bhyt", CORRECTION)
    ctx = RunContext("truth-rules", DAY.isoformat(), reference, Settings())
    frames = run_stages(ctx, Frames(submissions=tuple(subs)))
    return frames, pl.read_parquet(summary.truth)


def _hits(frames: Frames) -> pl.DataFrame:
    """Every reason the decision gives (fired rules, payment, validation) with the
    claim's facility, MA_LK and patient, the line's table and STT, and the action of the
    rule (``payment``/``validation`` for the engine's reasons)."""
    assert frames.features is not None
    assert frames.decisions is not None
    assert frames.assessment is not None
    keys = ["file_id", "hoso_idx"]
    claims = frames.features.claims.select(
        *keys, "ma_cskcb", "ma_lk", patient_id().alias("patient")
    )
    actions = frames.assessment.hits.select(
        pl.col("rule_id").alias("source"), "action"
    ).unique("source")
    return (
        frames.decisions.reasons.join(claims, on=keys)
        .join(actions, on="source", how="left")
        .with_columns(
            pl.col("stt").cast(pl.String),
            pl.col("action").fill_null(pl.col("source")),
            pl.col("code").alias("expected_reason"),
        )
    )


def test_every_labelled_rule_fault_is_found_where_it_was_put(
    day: tuple[Frames, pl.DataFrame],
) -> None:
    frames, truth = day
    hits = _hits(frames)
    # validation's kinds are tests/claims/test_truth.py's (the quarantine)
    expected = truth.filter(
        pl.col("expected_reason").is_not_null()
        & ~pl.col("kind").is_in(list(STRUCTURAL))
    )
    kinds = expected["kind"].unique().to_list()
    assert set(EPISODE_KINDS) <= set(kinds), kinds  # every kind was injected
    on_claim = ["ma_cskcb", "ma_lk", "expected_reason"]
    missed = expected.join(hits.select(on_claim).unique(), on=on_claim, how="anti")
    assert missed.height == 0, missed
    lines = expected.filter(
        (pl.col("level") == "line") & ~pl.col("kind").is_in(list(CLAIM_ONLY))
    )
    on_line = [*on_claim, "table", "stt"]
    missed = lines.join(hits.select(on_line).unique(), on=on_line, how="anti")
    assert missed.height == 0, missed
    assert expected.height >= 200  # hundreds of labelled faults, every kind present


def test_claims_no_fault_touches_get_no_rule_hit_but_info(
    day: tuple[Frames, pl.DataFrame],
) -> None:
    frames, truth = day
    hits = _hits(frames)
    assert frames.features is not None
    claims = frames.features.claims.select(
        "ma_cskcb", "ma_lk", patient_id().alias("patient")
    )
    faulted = claims.join(
        truth.select("ma_cskcb", "ma_lk").unique(), on=["ma_cskcb", "ma_lk"]
    )
    # a fault's partner (a duplicate's original, an overlapped stay) is the same patient
    touched = claims.join(faulted.select("patient").unique(), on="patient", how="semi")
    clean = claims.join(touched, on=["ma_cskcb", "ma_lk"], how="anti")
    assert clean.height > 1000
    wrong = hits.join(clean, on=["ma_cskcb", "ma_lk"], how="semi").filter(
        pl.col("action") != "info"
    )
    assert wrong.height == 0, wrong.group_by("source", "code").len()
