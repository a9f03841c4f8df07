"""Helpers of the partitioned-run tests (issue 14): run an inbox one way or another
and compare what two runs left — every run output, the receipts, the manifest and the
store's tables."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from polars.testing import assert_frame_equal

from claims.config import Settings
from claims.pipeline.context import Reference
from claims.pipeline.daily import Engine, RunResult, run_inbox
from claims.pipeline.stages import Frames
from tests.conftest import store_snapshot


@dataclass
class Ran:
    """One run and what its ``on_stage`` saw."""

    settings: Settings
    result: RunResult
    stages: list[str] = field(default_factory=list)

    @property
    def reads(self) -> int:
        """``read`` calls: one per partition read (not reused from staging)."""
        return self.stages.count("read")

    @property
    def run_dir(self) -> Path:
        assert self.result.run_dir is not None
        return self.result.run_dir


def run_day(
    inbox: Path,
    data: Path,
    reference: Reference,
    *,
    engine: Engine = "local",
    scheduler: str | None = None,
    **settings: Any,
) -> Ran:
    """``run_inbox`` on ``inbox`` into the data folder ``data`` (inputs left in
    place), counting the stages it reports."""
    config = Settings(data_dir=data, **settings)
    stages: list[str] = []

    def seen(name: str, _seconds: float, _frames: Frames) -> None:
        stages.append(name)

    result = run_inbox(
        inbox,
        settings=config,
        move_files=False,
        reference=reference,
        on_stage=seen,
        engine=engine,
        scheduler=scheduler,
    )
    return Ran(config, result, stages)


def outputs(run_dir: Path) -> dict[str, pl.DataFrame]:
    """Every Parquet run output, rows sorted on its non-list columns."""
    out = {}
    for path in sorted(run_dir.glob("*.parquet")):
        frame = pl.read_parquet(path)
        by = [c for c, t in frame.schema.items() if not isinstance(t, pl.List)]
        out[path.stem] = frame.sort(by, nulls_last=True)
    return out


def manifest(run_dir: Path) -> dict[str, Any]:
    """The run manifest without its wall-clock times."""
    found: dict[str, Any] = json.loads((run_dir / "manifest.json").read_text("utf-8"))
    assert found.pop("wall_clock")["seconds"] >= 0
    return found


def receipts(run_dir: Path) -> dict[str, Any]:
    return {
        p.name: json.loads(p.read_text("utf-8"))
        for p in sorted((run_dir / "receipts").glob("*.json"))
    }


def _equal(name: str, one: pl.DataFrame, other: pl.DataFrame) -> None:
    try:
        assert_frame_equal(one, other)
    except AssertionError as exc:
        msg = f"{name}: {exc}"
        raise AssertionError(msg) from None


def assert_same_outputs(one: Path, other: Path) -> None:
    """Two run folders hold the same outputs (rows in any order), receipts and
    manifest (but its wall clock)."""
    assert one.name == other.name  # the run id: content-derived
    first, second = outputs(one), outputs(other)
    assert sorted(first) == sorted(second)
    assert {"decisions", "decision_reasons", "rule_hits", "claims"} <= set(first)
    for name, frame in first.items():
        _equal(name, frame, second[name])
    assert receipts(one) == receipts(other)
    assert receipts(one)
    assert manifest(one) == manifest(other)


def assert_same_store(one: Settings, other: Settings) -> None:
    """Two stores hold the same rows in every table (claims with their version,
    is_current and withdrawn; claim_status, quarantine, submissions, runs…)."""
    first, second = store_snapshot(one.store_path), store_snapshot(other.store_path)
    assert sorted(first) == sorted(second)
    assert {"claims", "claim_status", "quarantine", "submissions"} <= set(first)
    assert {"version", "is_current", "withdrawn"} <= set(first["claims"].columns)
    for name, frame in first.items():
        _equal(name, frame, second[name])


def assert_same_run(one: Ran, other: Ran) -> None:
    assert_same_outputs(one.run_dir, other.run_dir)
    assert_same_store(one.settings, other.settings)
