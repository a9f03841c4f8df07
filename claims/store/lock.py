"""One writer per store: an advisory lock file in the data folder.

Every command that writes the store (a run, a settlement, an audit posting, an
advance) holds ``<data_dir>/giamdinh.lock`` for its whole duration, taken with
``fcntl.flock``. The file names the holder (pid, command, start time, host) so a
second writer can say who it waits for. The kernel drops the lock when its process
dies, even by ``kill -9``: the next writer then finds the dead holder's record still
in the file, takes the lock over and reports it (``Lock.took_over``).

DuckDB itself allows one read-write process per file and no reader beside it, so the
writers keep their DuckDB connections short (``claims.store.runs.open_store``) and the
readers retry while a writer commits.

Within one process the lock is re-entrant (``giamdinh run --settle`` settles under the
run's lock); a thread of another process waits like any writer.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from claims.errors import TransientError

LOCK_NAME = "giamdinh.lock"
POLL_SECONDS = 0.2


class StoreBusy(TransientError):
    """Another process holds the store's writer lock and did not let go in time."""


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) the writer lock."""

    pid: int
    command: str
    started: str
    host: str

    def describe(self) -> str:
        return f"pid {self.pid} ({self.command}, since {self.started}, on {self.host})"

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        """The holder a lock file names; None when it names none (released)."""
        try:
            data = json.loads(text)
            return cls(
                int(data["pid"]),
                str(data["command"]),
                str(data["started"]),
                str(data.get("host", "?")),
            )
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class Lock:
    """A held writer lock: who we are, and the dead holder we took over, if any."""

    path: Path
    holder: Holder
    took_over: Holder | None


_held: dict[Path, tuple[Lock, int]] = {}
_held_guard = threading.Lock()


def holder_of(data_dir: Path) -> Holder | None:
    """Who holds the store's writer lock now (None: nobody)."""
    path = data_dir / LOCK_NAME
    if not path.exists():
        return None
    with path.open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            return Holder.parse(handle.read())
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


@contextmanager
def writer_lock(
    data_dir: Path,
    command: str,
    *,
    wait: float,
    on_wait: Callable[[Holder | None], None] | None = None,
) -> Iterator[Lock]:
    """Hold the store's writer lock for the block; wait up to ``wait`` seconds for it.

    Raises:
        StoreBusy: another process still holds it after ``wait`` seconds; the message
            names that process.
    """
    path = (data_dir / LOCK_NAME).resolve()
    with _held_guard:
        held = _held.get(path)
        if held is not None:
            _held[path] = (held[0], held[1] + 1)
    if held is not None:
        try:
            yield held[0]
        finally:
            with _held_guard:
                lock, depth = _held[path]
                _held[path] = (lock, depth - 1)
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+", encoding="utf-8")
    try:
        _acquire(handle, wait, on_wait)
        lock = _record(handle, path, command)
        with _held_guard:
            _held[path] = (lock, 1)
        try:
            yield lock
        finally:
            with _held_guard:
                del _held[path]
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()


def _acquire(
    handle: IO[str], wait: float, on_wait: Callable[[Holder | None], None] | None
) -> None:
    deadline = time.monotonic() + wait
    told = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            handle.seek(0)
            holder = Holder.parse(handle.read())
            if time.monotonic() >= deadline:
                who = holder.describe() if holder else "another process"
                msg = (
                    f"the store is in use by {who}; waited {wait:g} s for it. "
                    "Wait for that command to finish, or pass --wait SECONDS to wait "
                    "longer"
                )
                raise StoreBusy(msg) from None
            if not told and on_wait is not None:
                on_wait(holder)
                told = True
            time.sleep(POLL_SECONDS)


def _record(handle: IO[str], path: Path, command: str) -> Lock:
    """Name ourselves in the lock file; a holder already named there died holding it."""
    handle.seek(0)
    previous = Holder.parse(handle.read())
    me = Holder(
        os.getpid(),
        command,
        datetime.now(UTC).isoformat(timespec="seconds"),
        socket.gethostname(),
    )
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(me.__dict__, sort_keys=True) + "\n")
    handle.flush()
    os.fsync(handle.fileno())
    return Lock(path, me, previous)
