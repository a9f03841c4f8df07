"""The one pipeline on a tiny submission: ``run_stages`` runs :data:`STAGES` in order,
reports each stage once, refuses a stage whose input is missing, and gives the same
decisions from stored tables as from the submission; content ids take exactly their
parts."""

from __future__ import annotations

import re

import pytest

from claims.config import Settings
from claims.ids import ID_PARTS, content_id
from claims.intake import Submission, read_submission
from claims.pipeline.context import Reference, RunContext
from claims.pipeline.stages import (
    STAGES,
    STORED_STAGES,
    Frames,
    StageOrderError,
    run_stages,
    stages_named,
)
from tests.factories import example_claim, hoso, with_key, wrapper

FILLS = {
    "validate": "tables",
    "price": "prices",
    "features": "features",
    "assess": "assessment",
    "pay": "payment",
    "decide": "decisions",
}
"""The field of :class:`Frames` each stage fills."""


@pytest.fixture(scope="module")
def submission(tmp_path_factory: pytest.TempPathFactory) -> Submission:
    """Two claims of one file: the example and a copy under another key."""
    path = tmp_path_factory.mktemp("pipeline") / "01030_20251006.xml"
    claims = [example_claim(), with_key(example_claim(), "HSEX2")]
    path.write_bytes(wrapper([hoso(c) for c in claims]))
    sub = read_submission(path, max_bytes=1 << 30)
    assert isinstance(sub, Submission)
    return sub


def _filled(value: object) -> bool:
    return value is not None and not (isinstance(value, dict) and not value)


def _ctx(reference: Reference, run_id: str = "test-run") -> RunContext:
    return RunContext(run_id, "2025-10-06", reference, Settings())


def test_the_stages_are_the_pipeline_in_order() -> None:
    assert [s.name for s in STAGES] == list(FILLS)
    assert [s.name for s in STORED_STAGES] == list(FILLS)[1:]
    assert stages_named("decide", "price") == (STAGES[1], STAGES[5])
    with pytest.raises(ValueError, match=r"no stage \['approve'\]"):
        stages_named("approve")


def test_on_stage_is_called_once_per_stage_in_order(
    reference: Reference, submission: Submission
) -> None:
    seen: list[tuple[str, float, set[str]]] = []

    def on_stage(name: str, seconds: float, frames: Frames) -> None:
        filled = {f for f in FILLS.values() if _filled(getattr(frames, f))}
        seen.append((name, seconds, filled))

    done = run_stages(
        _ctx(reference), Frames(submissions=(submission,)), on_stage=on_stage
    )
    assert [name for name, _, _ in seen] == [s.name for s in STAGES]
    assert all(seconds >= 0 for _, seconds, _ in seen)
    # after each stage exactly its own output and those before it exist
    for n, (name, _, filled) in enumerate(seen):
        assert filled == set(list(FILLS.values())[: n + 1]), name
    decisions = done.need("decisions", done.decisions)
    assert decisions.claims["ma_lk"].to_list() == ["HSEX120251006", "HSEX2"]
    assert (decisions.claims["run_id"] == "test-run").all()
    claimed, accepted = (
        decisions.claims[c] for c in ("claimed_t_bhtt", "accepted_t_bhtt")
    )
    assert (accepted <= claimed).all()
    assert (decisions.lines["accepted_bhtt"] <= decisions.lines["claimed_bhtt"]).all()


def test_stored_tables_decide_as_the_submission_did(
    reference: Reference, submission: Submission
) -> None:
    """The audit, explain and shadow path (tables read back) decides as the daily path."""
    ctx = _ctx(reference)
    whole = run_stages(ctx, Frames(submissions=(submission,)))
    stored = Frames(tables=whole.tables, claims=whole.claims)
    again = run_stages(ctx, stored, stages=STORED_STAGES)
    first = whole.need("decisions", whole.decisions).claims
    second = again.need("decisions", again.decisions).claims
    assert second.height == first.height == 2
    assert second.equals(first)


@pytest.mark.parametrize(
    ("before", "stage", "missing"),
    [
        ((), "decide", "assessment"),
        ((), "features", "tables"),
        (("validate",), "pay", "prices"),
        (("validate", "price", "features", "assess"), "decide", "payment"),
    ],
)
def test_a_stage_run_before_its_input_is_refused_clearly(
    reference: Reference,
    submission: Submission,
    before: tuple[str, ...],
    stage: str,
    missing: str,
) -> None:
    ctx = _ctx(reference)
    frames = Frames(submissions=(submission,))
    if before:
        frames = run_stages(ctx, frames, stages=stages_named(*before))
    message = f"the {missing!r} frames are missing: run the stage that makes them first"
    with pytest.raises(StageOrderError, match=re.escape(message)):
        run_stages(ctx, frames, stages=stages_named(stage))


# ---- content ids

ADVANCE = {
    "facility": "01002",
    "period": "2026-Q4",
    "amount": "150000000.00",
    "recorded_at": "2026-10-01T08:00:00+00:00",
}


def test_a_content_id_is_stable_and_changes_with_any_part() -> None:
    first = content_id("advance", **ADVANCE)
    assert re.fullmatch(r"[0-9a-f]{16}", first)
    assert content_id("advance", **dict(reversed(ADVANCE.items()))) == first
    for part in ADVANCE:
        changed = ADVANCE | {part: ADVANCE[part] + "0"}
        assert content_id("advance", **changed) != first, part


def test_a_content_id_refuses_a_missing_an_extra_or_an_unknown_part() -> None:
    short = {k: v for k, v in ADVANCE.items() if k != "recorded_at"}
    with pytest.raises(ValueError, match="missing recorded_at, extra none"):
        content_id("advance", **short)
    with pytest.raises(ValueError, match="missing none, extra clock"):
        content_id("advance", **ADVANCE, clock="now")
    with pytest.raises(ValueError, match="unknown id kind 'batch'"):
        content_id("batch", **ADVANCE)


def test_every_id_names_the_parts_that_decide_it() -> None:
    """The parts the restructuring added: the self-check's engine version, the audit's
    facility scope and settled decisions."""
    assert set(ID_PARTS["check"]) == set(ID_PARTS["run"])
    assert {"engine", "inputs", "date", "catalogs"} <= set(ID_PARTS["run"])
    assert {"facility", "decisions", "pack", "catalogs"} <= set(ID_PARTS["audit"])
    assert {"period", "scope", "decisions", "advances"} <= set(ID_PARTS["settlement"])
    for kind, parts in ID_PARTS.items():
        assert len(set(parts)) == len(parts), kind
        # every part is needed: leaving any one out is refused
        for part in parts:
            given = {p: "x" for p in parts if p != part}
            with pytest.raises(ValueError, match=f"missing {part}"):
                content_id(kind, **given)


def test_stage_outputs_do_not_leak_between_runs(
    reference: Reference, submission: Submission
) -> None:
    """Frames are values: a run on given frames leaves them as they were."""
    ctx = _ctx(reference)
    start = Frames(submissions=(submission,))
    run_stages(ctx, start, stages=stages_named("validate"))
    assert start.tables == {}
    assert start.claims is None
    assert start.quarantine is None
