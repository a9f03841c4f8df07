"""Submissions received over HTTP, kept on disk until the worker has assessed them.

A request never writes the DuckDB store (the worker does, under the writer lock), so
what a clinic sent is kept under ``<data-dir>/api/submissions/<id>/``: ``file.xml``
(the bytes as received, until the run has placed them in ``processed/`` or
``failed/``) and ``meta.json`` (who sent it, when, its status). The id is the
content id of the file's sha256, so the same bytes sent twice are one submission: the
folder is made whole in a temporary place and renamed into place, and a rename onto an
existing folder fails, so two requests racing with the same bytes make one submission.
A server that stops leaves ``received`` submissions behind; the next one assesses them.
Two marker folders keep the lookups short: ``_waiting/<id>`` until a submission is
assessed (what the worker drains) and ``_by_facility/<MA_CSKCB>/<id>`` (what a clinic
lists); the markers are written before the submission's folder is renamed into place,
and a marker without its submission is skipped.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from claims.ids import content_id

Status = Literal["received", "processing", "assessed", "failed"]
STATUSES: tuple[Status, ...] = ("received", "processing", "assessed", "failed")
FILE_NAME = "file.xml"
META_NAME = "meta.json"
WAITING = "_waiting"
"""A marker per submission not yet assessed (what the worker drains)."""
BY_FACILITY = "_by_facility"
"""A marker per submission under its facility's folder (what a clinic lists)."""


@dataclass(frozen=True)
class Entry:
    """One submission: what was sent, by whom, and where it stands."""

    id: str
    sha256: str
    facility: str
    user_id: str
    filename: str
    size: int
    status: Status
    received_at: str
    updated_at: str
    run_id: str | None = None
    error: str | None = None

    def public(self) -> dict[str, Any]:
        """What the clinic sees (the user id stays on the server's side)."""
        shown = asdict(self)
        del shown["user_id"]
        return shown


class Spool:
    """The submissions folder of one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "api" / "submissions"

    def receive(
        self,
        upload: Path,
        *,
        sha256: str,
        facility: str,
        user_id: str,
        filename: str,
        at: str,
    ) -> tuple[Entry, bool]:
        """Keep ``upload`` (moved, not copied) as a submission; False when the same
        bytes were received before (``upload`` is then deleted, the first one kept)."""
        sub_id = content_id("submission", sha256=sha256)
        existing = self.get(sub_id)
        if existing is not None:
            upload.unlink(missing_ok=True)
            return existing, False
        entry = Entry(
            id=sub_id,
            sha256=sha256,
            facility=facility,
            user_id=user_id,
            filename=filename,
            size=upload.stat().st_size,
            status="received",
            received_at=at,
            updated_at=at,
        )
        staging = self.root / f".tmp-{uuid.uuid4().hex}"
        staging.mkdir(parents=True)
        upload.replace(staging / FILE_NAME)
        _write_meta(staging, entry)
        # the markers first: a marker whose submission never arrived is skipped
        self._mark(WAITING, sub_id)
        self._mark(_facility_folder(facility), sub_id)
        try:
            staging.rename(self.root / sub_id)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            first = self.get(sub_id)
            if first is None:  # the folder exists but was not whole: a bug
                raise
            return first, False
        return entry, True

    def upload_path(self) -> Path:
        """A fresh temporary file name for a body being received."""
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root / f".upload-{uuid.uuid4().hex}"

    def get(self, sub_id: str) -> Entry | None:
        if not sub_id.isalnum():
            return None
        meta = self.root / sub_id / META_NAME
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return Entry(**data)

    def file_of(self, entry: Entry) -> Path:
        return self.root / entry.id / FILE_NAME

    def entries(self, *, facility: str | None = None) -> list[Entry]:
        """Every submission (of ``facility``: read through its index folder, not by
        opening every submission), oldest first."""
        if facility is not None:
            folder = self.root / _facility_folder(facility)
            names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
        elif self.root.is_dir():
            names = [p.name for p in self.root.iterdir() if p.name.isalnum()]
        else:
            names = []
        found = [e for name in names if (e := self.get(name)) is not None]
        return sorted(found, key=lambda e: (e.received_at, e.id))

    def pending(self) -> list[Entry]:
        """Submissions not assessed yet (``processing`` ones too: a server stopped
        while it ran them), oldest first: the ``_waiting`` markers."""
        folder = self.root / WAITING
        names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
        found = [e for name in names if (e := self.get(name)) is not None]
        waiting = [e for e in found if e.status in ("received", "processing")]
        return sorted(waiting, key=lambda e: (e.received_at, e.id))

    def update(self, entry: Entry, **changes: Any) -> Entry:
        new = replace(entry, **changes)
        _write_meta(self.root / entry.id, new)
        if new.status in ("assessed", "failed"):
            (self.root / WAITING / entry.id).unlink(missing_ok=True)
        return new

    def _mark(self, folder: str, sub_id: str) -> None:
        marks = self.root / folder
        marks.mkdir(parents=True, exist_ok=True)
        (marks / sub_id).touch()

    def sweep(self) -> None:
        """Remove half-received uploads and half-made folders of a stopped server."""
        if not self.root.is_dir():
            return
        for path in self.root.glob(".*"):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _facility_folder(facility: str) -> str:
    """The index folder of a facility (MA_CSKCB are letters and digits; anything else
    is hashed, so no name can leave the index)."""
    name = (
        facility
        if facility.isalnum()
        else hashlib.sha256(facility.encode()).hexdigest()
    )
    return f"{BY_FACILITY}/{name}"


def _write_meta(folder: Path, entry: Entry) -> None:
    tmp = folder / f".{META_NAME}.{uuid.uuid4().hex}"
    tmp.write_text(json.dumps(asdict(entry), sort_keys=True), encoding="utf-8")
    tmp.replace(folder / META_NAME)
