"""Every stage's output has its declared schema (names, order, dtypes) on a real day.

The schemas are declared (``claims.schema``, and beside each stage), never discovered
by running a stage on empty frames; this runs the generated day's submissions through
:data:`STAGES` and compares what each stage handed on with its declaration.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl
import pytest

from claims.assess import ASSESSMENT_SCHEMA
from claims.config import Settings
from claims.decide import DECISION_LINE_SCHEMA, DECISION_SCHEMA, REASON_SCHEMA
from claims.intake import Submission, read_submission
from claims.pay import PAY_CLAIM_SCHEMA, PAY_LINE_SCHEMA
from claims.pipeline.context import Reference, RunContext
from claims.pipeline.stages import STAGES, Frames, run_stages
from claims.price import PRICE_SCHEMA
from claims.schema import DOCUMENTS, TABLES, rule_frame_schemas, table_schema
from claims.validate import COUNTS_SCHEMA, QUARANTINE_SCHEMA
from rules.evaluate import HIT_SCHEMA
from tests.conftest import GeneratedDay

Columns = list[tuple[str, pl.DataType]]


def _columns(schema: Mapping[str, pl.DataType]) -> Columns:
    """Names and dtypes in order (a dtype class and its instance compare equal)."""
    return [(name, pl.Schema({name: dtype})[name]) for name, dtype in schema.items()]


@pytest.fixture(scope="module")
def after(generated_day: GeneratedDay, reference: Reference) -> dict[str, Frames]:
    """The frames after each stage, for every submission of the generated day."""
    subs = []
    for path in generated_day.files:
        sub = read_submission(path, max_bytes=1 << 31)
        assert isinstance(sub, Submission)
        subs.append(sub)
    ctx = RunContext("schemas", "2026-10-15", reference, Settings())
    seen: dict[str, Frames] = {}

    def keep(name: str, _seconds: float, frames: Frames) -> None:
        seen[name] = frames

    run_stages(ctx, Frames(submissions=tuple(subs)), on_stage=keep)
    assert list(seen) == [s.name for s in STAGES]
    return seen


def test_validate_gives_the_declared_tables(after: dict[str, Frames]) -> None:
    frames = after["validate"]
    assert tuple(frames.tables) == (*TABLES, *DOCUMENTS)
    for table in (*TABLES, *DOCUMENTS):
        frame = frames.tables[table]
        assert frame.height > 0 or table in DOCUMENTS, table
        assert _columns(frame.schema) == _columns(table_schema(table)), table
    assert frames.quarantine is not None
    assert frames.quarantine.height > 0  # the day has injected faults
    assert _columns(frames.quarantine.schema) == _columns(QUARANTINE_SCHEMA)
    assert frames.counts is not None
    assert _columns(frames.counts.schema) == _columns(COUNTS_SCHEMA)


def test_price_gives_the_declared_prices(after: dict[str, Frames]) -> None:
    prices = after["price"].prices
    assert prices is not None
    assert prices.height > 1000
    assert _columns(prices.schema) == _columns(PRICE_SCHEMA)


def test_features_give_exactly_the_rule_frame_schemas(
    after: dict[str, Frames],
) -> None:
    found = after["features"].features
    assert found is not None
    declared = rule_frame_schemas()
    frames = {
        "XML1": found.claims,
        **found.lines,
        "XML4": after["features"].tables["XML4"],
        "XML5": after["features"].tables["XML5"],
    }
    assert list(frames) == list(declared)
    for table, frame in frames.items():
        assert frame.height > 0, table
        assert _columns(frame.schema) == _columns(declared[table]), table


def test_assess_pay_and_decide_give_their_declared_schemas(
    after: dict[str, Frames],
) -> None:
    assessed = after["assess"].assessment
    payment = after["pay"].payment
    decided = after["decide"].decisions
    assert assessed is not None
    assert payment is not None
    assert decided is not None
    outputs = {
        "assessments": (assessed.claims, ASSESSMENT_SCHEMA),
        "hits": (assessed.hits, HIT_SCHEMA),
        "pay lines": (payment.lines, PAY_LINE_SCHEMA),
        "pay claims": (payment.claims, PAY_CLAIM_SCHEMA),
        "decisions": (decided.claims, DECISION_SCHEMA),
        "decision lines": (decided.lines, DECISION_LINE_SCHEMA),
        "reasons": (decided.reasons, REASON_SCHEMA),
    }
    for name, (frame, schema) in outputs.items():
        assert frame.height > 0, name
        assert _columns(frame.schema) == _columns(schema), name
