"""The server's one writer: a single thread that runs every write, job by job.

DuckDB lets one process write a file, and the store's writer lock
(``claims.store.lock``) is re-entrant inside a process, so the server's threads must
not write side by side: every write the server does is a job on this thread, under the
writer lock, which a CLI writer (``giamdinh settle``, ``review``, ``users``) waits for
like for any other. A request only spools a submission (``api.spool``) and wakes the
worker: it never waits for an assessment. The worker takes every submission waiting at
that moment into one run of the daily pipeline (``claims.pipeline.daily.run_inbox``),
then reads each file's receipt from the store. A store kept busy by another writer
(``TransientError``) leaves the submissions waiting and the worker tries again later.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from api.spool import Entry, Spool
from claims.config import Settings
from claims.errors import ClaimsError, TransientError
from claims.pipeline.context import Reference
from claims.pipeline.daily import run_inbox
from claims.store.events import append_event
from claims.store.lock import writer_lock
from claims.store.runs import has_table, open_store, sql

T = TypeVar("T")
RETRY_SECONDS = 5.0
log = logging.getLogger("giamdinh.api.worker")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Worker:
    """Runs writes one at a time on its own thread (see the module's text)."""

    def __init__(self, settings: Settings, reference: Reference) -> None:
        self.settings = settings
        self.reference = reference
        self.spool = Spool(settings.data_dir)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="writer")
        self._guard = threading.Lock()
        self._drain_queued = False
        self._timer: threading.Timer | None = None
        self._stopped = False

    def start(self) -> None:
        """Tidy what a stopped server left and assess what it had received."""
        self.spool.sweep()
        self.kick()

    def stop(self) -> None:
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def call(self, fn: Callable[..., T], *args: Any, command: str, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` on the writer thread under the writer lock and
        return its result (or raise its error) to the calling thread."""
        return self.submit(fn, *args, command=command, **kwargs).result()

    def submit(
        self, fn: Callable[..., T], *args: Any, command: str, **kwargs: Any
    ) -> Future[T]:
        def locked() -> T:
            with writer_lock(
                self.settings.data_dir, command, wait=self.settings.lock_wait
            ):
                return fn(*args, **kwargs)

        return self._pool.submit(locked)

    def kick(self) -> None:
        """Assess the waiting submissions soon (one drain queued at a time)."""
        with self._guard:
            if self._drain_queued or self._stopped:
                return
            self._drain_queued = True
        self._pool.submit(self._drain)

    def idle(self) -> bool:
        """Nothing waits to be assessed (for tests and the health route)."""
        return not self.spool.pending()

    def _retry_later(self) -> None:
        if self._stopped:
            return
        self._timer = threading.Timer(RETRY_SECONDS, self.kick)
        self._timer.daemon = True
        self._timer.start()

    def _drain(self) -> None:
        with self._guard:
            self._drain_queued = False
        pending = self.spool.pending()
        if not pending:
            return
        try:
            with writer_lock(self.settings.data_dir, "serve", wait=0.5):
                self._assess(pending)
        except TransientError as exc:
            log.warning("store busy, submissions wait: %s", exc)
            self._retry_later()
        except Exception:  # a bug must not stop the worker: the batch fails
            log.exception("assessing %d submissions failed", len(pending))
            for entry in pending:
                fresh = self.spool.get(entry.id) or entry
                self.spool.update(
                    fresh,
                    status="failed",
                    updated_at=now(),
                    error="Lỗi hệ thống khi giám định; báo quản trị viên.",
                )

    def _assess(self, pending: list[Entry]) -> None:
        job = self.settings.data_dir / "api" / "jobs" / uuid.uuid4().hex
        job.mkdir(parents=True)
        taken: list[Entry] = []
        try:
            for entry in pending:
                source = self.spool.file_of(entry)
                if source.is_file():
                    _link(source, job / f"{entry.id}.xml")
                taken.append(
                    self.spool.update(entry, status="processing", updated_at=now())
                )
            try:
                run_inbox(
                    job,
                    settings=self.settings,
                    reference=self.reference,
                    command="serve",
                )
            except TransientError:
                for entry in taken:
                    self.spool.update(entry, status="received", updated_at=now())
                raise
            except ClaimsError as exc:
                self._record(taken, error=str(exc))
                return
            self._record(taken, error=None)
        finally:
            shutil.rmtree(job, ignore_errors=True)

    def _record(self, taken: list[Entry], *, error: str | None) -> None:
        """Each submission's outcome from the store, an event for each, and the
        spooled file removed once the run has placed its own copy."""
        shas = [e.sha256 for e in taken]
        with open_store(self.settings.store_path) as con:
            stored = _stored_status(con, shas)
            outcomes = [
                (entry, "assessed" if stored.get(entry.sha256) == "read" else "failed")
                for entry in taken
            ]
            con.execute("BEGIN TRANSACTION")
            for entry, done in outcomes:
                detail = error if entry.sha256 not in stored else None
                subject = f"submission:{entry.id}"
                append_event(
                    con,
                    at=entry.received_at,
                    actor=entry.user_id,
                    action="submission.received",
                    subject=subject,
                    after={"facility": entry.facility, "sha256": entry.sha256},
                )
                append_event(
                    con,
                    at=now(),
                    actor="serve",
                    action=f"submission.{done}",
                    subject=subject,
                    before={"status": "received"},
                    after={"status": done, "error": detail},
                )
            con.execute("COMMIT")
        for entry, done in outcomes:
            detail = error if entry.sha256 not in stored else None
            self.spool.update(entry, status=done, updated_at=now(), error=detail)
            self.spool.file_of(entry).unlink(missing_ok=True)


def _stored_status(con: Any, shas: list[str]) -> dict[str, str]:
    """``read`` or ``failed`` per stored file sha256 (absent: not stored)."""
    if not shas or not has_table(con, "submissions"):
        return {}
    rows = sql(
        con,
        "SELECT file_id, status FROM submissions WHERE list_contains(?, file_id)",
        [shas],
    )
    return {str(r[0]): str(r[1]) for r in rows}


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
