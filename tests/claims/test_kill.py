"""kill -9 at random instants of a ``giamdinh ingest`` (issue 12, item 6): a rerun
then stores what a clean run stores, leaves no temporary run folder, empties the inbox,
gives every refused file its sidecar and reports the lock it took over.

The instants are seeded: uniform over the clean run's measured duration, counted from
the moment the killed process holds the store's lock (before it, nothing is written).
CI runs 5 trials; ``-m slow`` runs 30.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from polars.testing import assert_frame_equal

from claims.config import Settings
from claims.pipeline.context import Reference
from claims.pipeline.daily import RunResult, run_inbox
from claims.pipeline.placement import PARTIAL
from claims.store.lock import LOCK_NAME
from tests.conftest import store_snapshot

pytestmark = pytest.mark.e2e

DAY = "2026-10-15"
CLI = "from claims.cli.app import app; app()"
SEED = 12


@dataclass(frozen=True)
class Day:
    """A small generated day (4 facility files and a refused file) and its clean
    run."""

    folder: Path
    clean: Settings
    seconds: float
    """How long the clean ``giamdinh ingest`` held the lock (read, stages, store,
    place, exit)."""
    sidecar: dict[str, Any]
    """The refused file's sidecar after the clean run."""

    @property
    def names(self) -> list[str]:
        return sorted(p.name for p in self.folder.iterdir())


def _run(inbox: Path, settings: Settings, reference: Reference) -> RunResult:
    """``run_inbox`` (as ``giamdinh ingest``: no run date) with the session's
    reference (loading it again costs seconds)."""

    def load(catalog_dir: Path | None, pack_id: str, pack: str | None = None) -> Any:
        assert (catalog_dir, pack_id, pack) == (None, "vn-bhyt", None)
        return reference

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Reference, "load", load)
        return run_inbox(inbox, settings=settings)


def _ingest(inbox: Path, data: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", CLI, "ingest", str(inbox), "--data-dir", str(data)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "250"},
    )


def _until_locked(proc: subprocess.Popen[bytes], data: Path) -> None:
    """Return once ``proc`` holds the store's lock (or has ended)."""
    deadline = time.monotonic() + 300
    while _lock_pid(data) != proc.pid and proc.poll() is None:
        assert time.monotonic() < deadline, "the ingest never took the lock"
        time.sleep(0.01)


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Day:
    """The day, and its clean ``giamdinh ingest``, timed from taking the lock."""
    from claims.synthetic import generate

    root = tmp_path_factory.mktemp("kill")
    folder = root / "day"
    generate(
        folder, claims=200, facilities=4, day=date.fromisoformat(DAY), seed=7,
        error_rate=0.3, fmt="xml",
    )  # fmt: skip
    (folder / "broken.xml").write_bytes(b"<GIAMDINHHS><THONGTINDONVI>")
    clean = Settings(data_dir=root / "clean")
    staged = root / "clean-inbox"
    shutil.copytree(folder, staged)
    proc = _ingest(staged, clean.data_dir)
    _until_locked(proc, clean.data_dir)
    started = time.monotonic()
    assert proc.wait(timeout=300) == 0
    seconds = time.monotonic() - started
    assert sorted(staged.iterdir()) == []
    assert sorted(p.name for p in clean.processed_dir.iterdir()) == [DAY]
    sidecar = clean.failed_dir / "broken.xml.error.json"
    return Day(folder, clean, seconds, json.loads(sidecar.read_text("utf-8")))


@dataclass(frozen=True)
class Killed:
    """One trial's killed process."""

    inbox: Path
    settings: Settings
    pid: int
    delay: float
    code: int
    """-9 when killed; 0 when it had finished before the kill."""
    holder_left: bool
    """The lock file still named the killed process."""


def _lock_pid(data: Path) -> int | None:
    try:
        return int(json.loads((data / LOCK_NAME).read_text(encoding="utf-8"))["pid"])
    except (OSError, ValueError, KeyError):
        return None


def _kill_at_random(root: Path, day: Day, delay: float) -> Killed:
    """Start ``giamdinh ingest`` on a copy of the day; kill -9 it ``delay`` seconds
    after it took the store's lock."""
    inbox = root / "inbox"
    shutil.copytree(day.folder, inbox)
    data = root / "data"
    proc = _ingest(inbox, data)
    _until_locked(proc, data)
    time.sleep(delay)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    code = proc.wait(timeout=300)
    holder_left = _lock_pid(data) == proc.pid
    return Killed(inbox, Settings(data_dir=data), proc.pid, delay, code, holder_left)


def _stage(killed: Killed, day: Day) -> str:
    """Where the kill landed, from what it left."""
    left = {p.name for p in killed.inbox.iterdir()}
    runs = killed.settings.runs_dir
    if killed.code == 0:
        return "finished before the kill"
    if not left:
        return "after placing every input"
    if left != set(day.names):
        return "while placing"
    if runs.is_dir() and any(p.name.endswith(".tmp") for p in runs.glob("*/.*")):
        return "while writing the run folder"
    if runs.is_dir() and any(p.is_dir() for p in runs.glob("*/[!.]*")):
        return "run folder written, before placing"
    return "while reading or assessing"


def _check_rerun(killed: Killed, day: Day, reference: Reference) -> None:
    """The rerun after a kill: the clean run's store and placements, nothing left."""
    settings = killed.settings
    result = _run(killed.inbox, settings, reference)
    expected = store_snapshot(day.clean.store_path)
    got = store_snapshot(settings.store_path)
    assert got.keys() == expected.keys()
    for name, frame in expected.items():
        assert_frame_equal(got[name], frame, check_row_order=True)
    assert sorted(killed.inbox.iterdir()) == []
    assert not list(settings.runs_dir.rglob("*.tmp"))
    assert not list(settings.data_dir.rglob(f"*{PARTIAL}"))
    runs = sorted(
        p.relative_to(settings.runs_dir) for p in settings.runs_dir.glob("*/*")
    )
    clean_runs = day.clean.runs_dir.glob("*/*")
    assert runs == sorted(p.relative_to(day.clean.runs_dir) for p in clean_runs)
    refused = sorted(p.name for p in settings.failed_dir.iterdir())
    assert refused == ["broken.xml", "broken.xml.error.json"]
    sidecar = settings.failed_dir / "broken.xml.error.json"
    assert json.loads(sidecar.read_text("utf-8")) == day.sidecar
    placed = sorted(settings.processed_dir.glob("*/*"))
    assert sorted(p.name for p in placed) == [n for n in day.names if n != "broken.xml"]
    # a rerun that reads nothing new places the files under their run's date
    assert {p.parent.name for p in placed} == {DAY}
    took_over = [n for n in result.notices if n.startswith("took over the store")]
    if killed.holder_left:
        assert len(took_over) == 1
        assert f"pid {killed.pid} (ingest, since" in took_over[0]
    else:
        assert took_over == []


def _trials(
    tmp_path: Path,
    day: Day,
    reference: Reference,
    count: int,
    record: Callable[[str, object], None],
) -> None:
    rng = random.Random(SEED + count)
    delays = [rng.uniform(0, day.seconds) for _ in range(count)]
    roots = [tmp_path / f"trial{n}" for n in range(count)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        killed = list(pool.map(lambda r, d: _kill_at_random(r, day, d), roots, delays))
    stages: Counter[str] = Counter()
    failures: list[str] = []
    for n, trial in enumerate(killed):
        stages[_stage(trial, day)] += 1
        try:
            _check_rerun(trial, day, reference)
        except AssertionError as exc:
            failures.append(f"trial {n} (delay {trial.delay:.3f} s): {exc}")
        shutil.rmtree(roots[n])
    summary = (
        f"kill -9: {count} trials, {len(failures)} failures; clean run "
        f"{day.seconds:.2f} s; killed {dict(sorted(stages.items()))}; lock taken "
        f"over {sum(k.holder_left for k in killed)}"
    )
    print(summary)
    record("kill_trials", count)
    record("kill_failures", len(failures))
    record("kill_stages", dict(stages))
    assert not failures, "\n".join([summary, *failures])
    assert sum(k.code == -signal.SIGKILL for k in killed) > 0  # some were killed


def test_kill_9_at_random_instants_then_a_rerun_equals_a_clean_run(
    tmp_path: Path,
    day: Day,
    reference: Reference,
    record_property: Callable[[str, object], None],
) -> None:
    _trials(tmp_path, day, reference, 5, record_property)


@pytest.mark.slow
def test_kill_9_at_random_instants_many_times(
    tmp_path: Path,
    day: Day,
    reference: Reference,
    record_property: Callable[[str, object], None],
) -> None:
    _trials(tmp_path, day, reference, 30, record_property)
