"""A full disk (issue 12, items 4 and 6): at each write point (``GIAMDINH_FAIL_AT``:
run-dir, commit, sidecar, move) and on a real tmpfs too small for the day, a run ends
with one clear message (exit 1, the cause, no traceback); before the commit the store
and the inbox stay as they were, after it the run is stored and the message says so;
a later run with space equals a clean run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from claims.config import Settings
from claims.pipeline.context import Reference
from claims.pipeline.daily import RunResult, run_inbox
from claims.pipeline.placement import PARTIAL
from claims.store.faults import WRITE_POINTS
from tests.conftest import store_snapshot
from tests.factories import example_claim, hoso, with_key, wrapper

pytestmark = pytest.mark.e2e

DAY = "2026-10-15"
CLI = "from claims.cli.app import app; app()"
ENOSPC = "No space left on device"
BEFORE_COMMIT = ("run-dir", "commit")
TMPFS = {"256k": "run-dir", "1m": "commit", "3m": "move"}
"""tmpfs sizes too small for the day (the day's run folder, its store, its largest
file), and the write point that stands in for each where no tmpfs can be mounted."""


def _run(
    inbox: Path, settings: Settings, reference: Reference, **kwargs: Any
) -> RunResult:
    """``run_inbox`` with the session's reference (loading it again costs seconds)."""
    return run_inbox(inbox, settings=settings, reference=reference, **kwargs)


@dataclass(frozen=True)
class Day:
    """A generated day (4 facility files and a refused file), a small earlier file
    the stores hold before the day, and the clean runs to compare with."""

    folder: Path
    earlier: Path
    clean: Settings
    """The earlier file, then the day, run cleanly."""
    clean_alone: Settings
    """The day alone, run cleanly into a new store."""

    def inbox(self, to: Path) -> Path:
        shutil.copytree(self.folder, to)
        return to

    def seeded(self, data: Path, reference: Reference) -> Settings:
        """A store holding the earlier file only."""
        return _seeded(self.earlier, data, reference)


def _seeded(earlier: Path, data: Path, reference: Reference) -> Settings:
    settings = Settings(data_dir=data)
    inbox = data.parent / f"{data.name}-earlier"
    shutil.copytree(earlier, inbox)
    assert _run(inbox, settings, reference).run_id is not None
    return settings


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory, reference: Reference) -> Day:
    from claims.synthetic import generate

    root = tmp_path_factory.mktemp("disk-full")
    folder = root / "day"
    generate(
        folder, claims=200, facilities=4, day=date.fromisoformat(DAY), seed=3,
        error_rate=0.3, fmt="xml",
    )  # fmt: skip
    (folder / "broken.xml").write_bytes(b"<GIAMDINHHS><THONGTINDONVI>")
    earlier = root / "earlier"
    earlier.mkdir()
    claim = with_key(example_claim(), "EARLY1")
    (earlier / "earlier.xml").write_bytes(wrapper([hoso(claim)]))
    clean = _seeded(earlier, root / "clean", reference)
    shutil.copytree(folder, root / "in1")
    assert _run(root / "in1", clean, reference, run_date=DAY).run_id
    alone = Settings(data_dir=root / "clean-alone")
    shutil.copytree(folder, root / "in2")
    assert _run(root / "in2", alone, reference, run_date=DAY).run_id
    return Day(folder, earlier, clean, alone)


# ---- what a failed run left


@dataclass(frozen=True)
class State:
    """A data folder and an inbox as they are at one moment."""

    store: dict[str, pl.DataFrame]
    files: list[str]
    """Files of the data folder besides the lock and the store (compared by content)."""
    inbox: list[tuple[str, int]]

    @classmethod
    def of(cls, data: Path, inbox: Path) -> State:
        path = data / "giamdinh.duckdb"
        files = [
            str(p.relative_to(data))
            for p in sorted(data.rglob("*"))
            if p.is_file()
            and not p.name.startswith(("giamdinh.lock", "giamdinh.duckdb"))
        ]
        return cls(
            store_snapshot(path) if path.exists() else {},
            files,
            [(p.name, p.stat().st_size) for p in sorted(inbox.iterdir())],
        )


def _assert_same_store(got: dict[str, pl.DataFrame], expected: dict[str, Any]) -> None:
    assert got.keys() == expected.keys()
    for name, frame in expected.items():
        assert_frame_equal(got[name], frame, check_row_order=True)


def _message(done: subprocess.CompletedProcess[str]) -> str:
    """The command's error output, lines unwrapped; checks it is one clean error."""
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    text = " ".join(done.stderr.split())
    assert sum(line.startswith("error:") for line in done.stderr.splitlines()) == 1, (
        text
    )
    return text[text.index("error:") :]


def _assert_no_leftovers(data: Path) -> None:
    assert not list(data.rglob(f"*{PARTIAL}"))
    assert not list(data.rglob("*.tmp"))


def _check_failed(
    done: subprocess.CompletedProcess[str],
    before: State,
    data: Path,
    inbox: Path,
    clean: Settings,
) -> str:
    """The failed run's message and what it left: "before" or "after" the commit."""
    message = _message(done)
    _assert_no_leftovers(data)
    after = State.of(data, inbox)
    # the clean store's runs (the earlier file's and the day's), in no particular order
    run_ids = store_snapshot(clean.store_path)["runs"]["run_id"].to_list()
    if any(f"run {run_id} is stored" in message for run_id in run_ids):
        _assert_same_store(after.store, store_snapshot(clean.store_path))
        assert "Run again once the cause is fixed" in message
        assert after.inbox  # what could not be placed is still in the inbox
        return "after"
    assert "nothing" in message  # "nothing was stored", "nothing of it was committed"
    _assert_same_store(after.store, before.store)
    assert after.files == before.files
    assert after.inbox == before.inbox
    return "before"


def _check_rerun(
    inbox: Path, data: Path, day: Day, clean: Settings, reference: Reference
) -> RunResult:
    """A run with space, after the failure: what the clean run gives."""
    settings = Settings(data_dir=data)
    result = _run(inbox, settings, reference, run_date=DAY)
    _assert_same_store(
        store_snapshot(settings.store_path), store_snapshot(clean.store_path)
    )
    assert sorted(inbox.iterdir()) == []
    read = sorted(p.name for p in day.folder.iterdir() if p.name != "broken.xml")
    assert sorted(p.name for p in (settings.processed_dir / DAY).iterdir()) == read
    sidecar = settings.failed_dir / "broken.xml.error.json"
    expected = clean.failed_dir / "broken.xml.error.json"
    assert json.loads(sidecar.read_text("utf-8")) == json.loads(
        expected.read_text("utf-8")
    )
    _assert_no_leftovers(data)
    return result


def _start(inbox: Path, data: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    args = ["run", "--date", DAY, "--inbox", str(inbox), "--data-dir", str(data)]
    return subprocess.Popen(
        [sys.executable, "-c", CLI, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "250", **env},
    )


def _finish(proc: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


# ---- each write point, injected


@dataclass(frozen=True)
class Failed:
    inbox: Path
    data: Path
    before: State
    done: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def injected(
    tmp_path_factory: pytest.TempPathFactory, day: Day, reference: Reference
) -> dict[str, Failed]:
    """One run per write point, made to fail there; the four run side by side."""
    root = tmp_path_factory.mktemp("injected")
    started = {}
    for point in WRITE_POINTS:
        settings = day.seeded(root / f"data-{point}", reference)
        inbox = day.inbox(root / f"in-{point}")
        before = State.of(settings.data_dir, inbox)
        proc = _start(inbox, settings.data_dir, {"GIAMDINH_FAIL_AT": point})
        started[point] = (inbox, settings.data_dir, before, proc)
    return {
        point: Failed(inbox, data, before, _finish(proc))
        for point, (inbox, data, before, proc) in started.items()
    }


@pytest.mark.parametrize("point", WRITE_POINTS)
def test_a_full_disk_at_each_write_point(
    point: str, day: Day, injected: dict[str, Failed], reference: Reference
) -> None:
    failed = injected[point]
    message = _message(failed.done)
    assert ENOSPC in message
    assert "free space" in message or "Run again" in message
    kind = _check_failed(
        failed.done, failed.before, failed.data, failed.inbox, day.clean
    )
    assert kind == ("before" if point in BEFORE_COMMIT else "after")
    where = {
        "run-dir": failed.data / "runs" / DAY,
        "sidecar": failed.data / "failed" / "broken.xml.error.json",
        "move": failed.data / "processed" / DAY,
        # the injected commit failure names no path (a real one names the store's
        # write-ahead log: see the tmpfs test)
        "commit": None,
    }[point]
    if where is not None:
        assert str(where) in message
    result = _check_rerun(failed.inbox, failed.data, day, day.clean, reference)
    # before the commit the rerun stores the run; after it, it only places
    assert (result.run_id is None) == (point not in BEFORE_COMMIT)


# ---- a real full disk


def _mount(folder: Path, size: str) -> bool:
    """Mount a tmpfs of ``size`` on ``folder``; False where this is not allowed."""
    if not shutil.which("mount"):
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def _grow(folder: Path) -> None:
    subprocess.run(
        ["mount", "-o", "remount,size=64m", str(folder)], check=True, timeout=60
    )


def _umount(folder: Path) -> None:
    subprocess.run(["umount", str(folder)], check=True, timeout=60)


@pytest.fixture
def small_disks(tmp_path: Path) -> Iterator[dict[str, tuple[Path, bool]]]:
    """A data folder per size: on a tmpfs of that size where one can be mounted
    (True), else a plain folder (False)."""
    disks: dict[str, tuple[Path, bool]] = {}
    try:
        for size in TMPFS:
            data = tmp_path / f"data-{size}"
            data.mkdir()
            disks[size] = (data, _mount(data, size))
        yield disks
    finally:
        for data, mounted in disks.values():
            if mounted:
                _umount(data)


def test_a_real_full_disk(
    tmp_path: Path,
    day: Day,
    reference: Reference,
    small_disks: dict[str, tuple[Path, bool]],
    record_property: Any,
) -> None:
    """A day run into data folders on tmpfs too small for it (where the test cannot
    mount one: the write point that fills first at that size, injected)."""
    started = {}
    for size, (data, mounted) in small_disks.items():
        inbox = day.inbox(tmp_path / f"in-{size}")
        env = {} if mounted else {"GIAMDINH_FAIL_AT": TMPFS[size]}
        started[size] = (inbox, State.of(data, inbox), _start(inbox, data, env))
    finished = {size: _finish(proc) for size, (_, _, proc) in started.items()}
    kinds = {}
    for size, (inbox, before, _) in started.items():
        data, mounted = small_disks[size]
        done = finished[size]
        message = _message(done)
        if mounted or TMPFS[size] != "commit":
            assert str(data) in message  # the path that could not be written
        # polars' Parquet writer can hide the OS error; the store tells it anyway
        assert ENOSPC in message
        kinds[size] = _check_failed(done, before, data, inbox, day.clean_alone)
        if mounted:
            _grow(data)
        _check_rerun(inbox, data, day, day.clean_alone, reference)
    mounted_any = any(m for _, m in small_disks.values())
    print(f"full disk on tmpfs: {mounted_any}; failed {kinds}")
    record_property("tmpfs_mounted", mounted_any)
    # the sizes reach a failure before the commit and one after it
    assert set(kinds.values()) == {"before", "after"}
