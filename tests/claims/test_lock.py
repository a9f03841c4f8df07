"""The store's writer lock (``claims.store.lock``) against other processes: a second
writer waits, then stops naming the holder; a holder killed with SIGKILL is taken over
and reported; the lock is re-entrant within one process; ``holder_of`` names the
holder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from claims.errors import TransientError
from claims.store.lock import LOCK_NAME, Holder, StoreBusy, holder_of, writer_lock
from claims.store.runs import open_store

pytestmark = pytest.mark.e2e

HOLD = """
import sys
from pathlib import Path
from claims.store.lock import writer_lock
with writer_lock(Path(sys.argv[1]), sys.argv[2], wait=float(sys.argv[3])) as lock:
    print("held", lock.took_over.pid if lock.took_over else "-", flush=True)
    sys.stdin.read()  # hold until the test closes our stdin
print("released", flush=True)
"""
"""A writer in another process: takes the lock, says so, holds it until stdin ends."""

TRY = """
import sys
from pathlib import Path
from claims.store.lock import StoreBusy, writer_lock
try:
    with writer_lock(Path(sys.argv[1]), "probe", wait=0):
        print("acquired", flush=True)
except StoreBusy as exc:
    print("busy:", exc, flush=True)
"""
"""Another process trying the lock once, without waiting."""


OPEN = """
import sys
import duckdb
con = duckdb.connect(sys.argv[1])
print("open", flush=True)
sys.stdin.read()
con.close()
"""
"""A process with the DuckDB store open read-write until its stdin ends."""


def _hold(data: Path, command: str, wait: float = 0) -> subprocess.Popen[str]:
    """Start a holder and return once it holds the lock."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(data), command, str(wait)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("held"), proc.stderr.read() if proc.stderr else line
    return proc


def _release(proc: subprocess.Popen[str]) -> str:
    """Let a holder end normally; its remaining output."""
    out, err = proc.communicate(input="", timeout=60)
    assert proc.returncode == 0, err
    return out


def _kill(proc: subprocess.Popen[str]) -> None:
    """Kill a holder with SIGKILL (no cleanup of any kind) and reap it."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def _probe(data: Path) -> str:
    """What another process gets when it tries the lock without waiting."""
    done = subprocess.run(
        [sys.executable, "-c", TRY, str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_second_writer_waits_then_stops_naming_the_holder(tmp_path: Path) -> None:
    holder = _hold(tmp_path, "settle")
    try:
        told: list[Holder | None] = []
        started = time.monotonic()
        with (
            pytest.raises(StoreBusy) as busy,
            writer_lock(tmp_path, "run", wait=0.8, on_wait=told.append),
        ):
            pytest.fail("the lock was acquired while another process held it")
        waited = time.monotonic() - started
        message = str(busy.value)
        assert waited >= 0.8
        assert f"pid {holder.pid} (settle" in message
        assert "--wait" in message
        # the waiting writer was told once whom it waits for
        assert [h.pid if h else None for h in told] == [holder.pid]
        assert told[0] is not None
        assert told[0].command == "settle"
        found = holder_of(tmp_path)
        assert found is not None
        assert (found.pid, found.command) == (holder.pid, "settle")
    finally:
        assert "released" in _release(holder)
    # released normally: free, and nobody to take over
    assert holder_of(tmp_path) is None
    with writer_lock(tmp_path, "run", wait=0) as lock:
        assert lock.took_over is None
        assert lock.holder.pid == os.getpid()


def test_a_waiting_writer_gets_the_lock_once_the_holder_ends(tmp_path: Path) -> None:
    holder = _hold(tmp_path, "audit")
    waiter = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path), "run", "30"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.5)  # the waiter is up and polling
        assert waiter.poll() is None  # still waiting: it could not take the lock
        found = holder_of(tmp_path)
        assert found is not None
        assert found.pid == holder.pid
    finally:
        _release(holder)
    assert waiter.stdout is not None
    assert waiter.stdout.readline().split() == ["held", "-"]
    found = holder_of(tmp_path)
    assert found is not None
    assert (found.pid, found.command) == (waiter.pid, "run")
    _release(waiter)
    assert holder_of(tmp_path) is None


def test_a_holder_killed_with_sigkill_is_taken_over_and_reported(
    tmp_path: Path,
) -> None:
    holder = _hold(tmp_path, "run")
    _kill(holder)
    # the kernel dropped the lock; the dead holder's record is still in the file
    assert holder_of(tmp_path) is None
    record = json.loads((tmp_path / LOCK_NAME).read_text(encoding="utf-8"))
    assert record["pid"] == holder.pid
    with writer_lock(tmp_path, "run", wait=0) as lock:
        assert lock.took_over is not None
        assert (lock.took_over.pid, lock.took_over.command) == (holder.pid, "run")
        assert lock.holder.pid == os.getpid()
        assert _probe(tmp_path).startswith("busy:")  # held, exclusively
    with writer_lock(tmp_path, "run", wait=0) as lock:
        assert lock.took_over is None  # a normal release leaves nothing to take over


def test_the_successor_process_reports_the_dead_holder(tmp_path: Path) -> None:
    holder = _hold(tmp_path, "run")
    _kill(holder)
    successor = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path), "ingest", "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert successor.stdout is not None
    assert successor.stdout.readline().split() == ["held", str(holder.pid)]
    _release(successor)


def test_the_lock_is_reentrant_within_a_process_only(tmp_path: Path) -> None:
    with writer_lock(tmp_path, "run", wait=0) as outer:
        with writer_lock(tmp_path, "settle", wait=0) as inner:
            assert inner is outer
            found = holder_of(tmp_path)
            assert found is not None
            assert (found.pid, found.command) == (os.getpid(), "run")
        # leaving the inner block keeps the lock: another process is still refused
        probe = _probe(tmp_path)
        assert probe.startswith("busy:"), probe
        assert f"pid {os.getpid()} (run" in probe
    assert holder_of(tmp_path) is None
    assert _probe(tmp_path) == "acquired"


def test_holder_of_a_folder_without_a_lock_is_nobody(tmp_path: Path) -> None:
    assert holder_of(tmp_path / "never-written") is None
    assert not (tmp_path / "never-written").exists()  # asking creates nothing
    with writer_lock(tmp_path, "run", wait=0):
        pass
    assert (tmp_path / LOCK_NAME).read_text(encoding="utf-8") == ""
    assert holder_of(tmp_path) is None


def test_a_reader_retries_while_another_process_has_the_store_open(
    tmp_path: Path,
) -> None:
    path = tmp_path / "giamdinh.duckdb"
    duckdb.connect(str(path)).close()
    writer = subprocess.Popen(
        [sys.executable, "-c", OPEN, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "open", writer.stderr
    try:
        started = time.monotonic()
        with (
            pytest.raises(TransientError, match="stayed in use by another process"),
            open_store(path, read_only=True, retry_seconds=0.5),
        ):
            pytest.fail("opened a store another process has open read-write")
        assert time.monotonic() - started >= 0.5
        # the writer lets go while the reader retries: the reader gets in
        release = threading.Timer(1.0, lambda: writer.communicate(input=""))
        release.start()
        started = time.monotonic()
        with open_store(path, read_only=True, retry_seconds=60) as con:
            assert con.execute("SELECT 42").fetchall() == [(42,)]
        assert time.monotonic() - started >= 0.9
        release.join()
    finally:
        if writer.poll() is None:
            writer.communicate(input="", timeout=60)
    assert writer.returncode == 0
