"""Placing inputs once their run is stored: read files to ``processed/<date>/``, refused
ones to ``failed/`` with an ``.error.json`` sidecar; and repairing what a crash or a full
disk left half-placed.

Order makes every crash recoverable: the run commits first (a file still in the inbox
is then known, and only placed by the rerun); the sidecar is written and fsynced before
its file moves (a refused file is never in ``failed/`` without it); a move is a rename
within one filesystem, else a copy to a hidden ``.partial`` name, fsync, rename, and
only then the source's removal. ``repair`` finds the leftovers of each window.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path
from typing import Any

from claims.config import Settings
from claims.errors import ClaimsError
from claims.intake import file_sha256
from claims.store import crash_point, fail_point

Placement = tuple[Path, str, dict[str, Any] | None]
"""An input, its sha256, and its sidecar when it was refused."""
SIDECAR = ".error.json"
PARTIAL = ".partial"


class PlacementError(ClaimsError):
    """The run is stored, but an input could not be moved out of the inbox."""


def place(
    settings: Settings,
    placements: list[Placement],
    day: str,
    days: dict[str, str] | None = None,
) -> list[str]:
    """Move inputs out of the inbox; returns a notice per input found already placed.

    A read file goes to ``processed/<date>/``: the date of the run that stored it
    (``days``, by sha256), else ``day``.

    Raises:
        OSError: a write failed; inputs not yet moved stay in the inbox, and a rerun
            places them.
    """
    notices: list[str] = []
    for path, digest, sidecar in placements:
        dated = (days or {}).get(digest, day)
        folder = settings.failed_dir if sidecar else settings.processed_dir / dated
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / path.name
        if target.exists() and _same(target, digest):
            # a copy that completed before a crash; the source is the leftover
            if sidecar:
                write_sidecar(target, sidecar)
            _remove(path)
            notices.append(f"{path.name}: already in {folder}, removed from the inbox")
            continue
        if target.exists():
            target = folder / f"{digest[:8]}-{path.name}"
        if sidecar:
            write_sidecar(target, sidecar)
        crash_point("placing")
        move_path(path, target)
    return notices


def write_sidecar(target: Path, sidecar: dict[str, Any]) -> None:
    """Write ``<target>.error.json`` whole or not at all (temp file, fsync, rename)."""
    text = json.dumps(sidecar, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    final = target.with_name(target.name + SIDECAR)
    tmp = final.with_name(f".{final.name}{PARTIAL}")
    try:
        fail_point("sidecar", str(final))
        with tmp.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(final)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(final.parent)


def move_path(source: Path, target: Path) -> None:
    """Move a file or bulk folder: a rename, or copy + fsync + rename + unlink."""
    fail_point("move", str(target))
    try:
        source.rename(target)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    partial = target.with_name(f".{target.name}{PARTIAL}")
    try:
        if source.is_dir():
            shutil.copytree(source, partial)
            files = [p for p in partial.rglob("*") if p.is_file()]
        else:
            shutil.copyfile(source, partial)
            files = [partial]
        for file in files:
            with file.open("rb") as handle:
                os.fsync(handle.fileno())
        partial.rename(target)
    except OSError:
        _remove(partial)
        raise
    _fsync_dir(target.parent)
    _remove(source)


def repair(settings: Settings, known: dict[str, tuple[str, str]]) -> list[str]:
    """Finish what a crash or a full disk left half-placed; a notice per repair.

    - a hidden ``.partial`` copy or sidecar: removed (its source is still in the inbox);
    - a refused file in ``failed/`` without its sidecar: the sidecar is written from
      the receipt the store kept.
    """
    notices: list[str] = []
    folders = [settings.failed_dir]
    if settings.processed_dir.is_dir():
        folders += sorted(p for p in settings.processed_dir.iterdir() if p.is_dir())
    for folder in folders:
        if not folder.is_dir():
            continue
        for leftover in sorted(folder.glob(f".*{PARTIAL}")):
            _remove(leftover)
            notices.append(f"removed the partial copy {leftover}")
    if settings.failed_dir.is_dir():
        notices += _missing_sidecars(settings.failed_dir, known)
    return notices


def _missing_sidecars(failed: Path, known: dict[str, tuple[str, str]]) -> list[str]:
    notices: list[str] = []
    for path in sorted(failed.iterdir()):
        if path.name.startswith(".") or path.name.endswith(SIDECAR):
            continue
        if path.with_name(path.name + SIDECAR).exists():
            continue
        status, receipt = known.get(file_sha256(path), ("unknown", ""))
        if status == "failed":
            write_sidecar(path, json.loads(receipt))
            notices.append(f"wrote the missing sidecar of {path}")
        else:
            notices.append(
                f"{path} has no sidecar and the store has no refusal for it; "
                "put it back in an inbox to have it read"
            )
    return notices


def _same(target: Path, digest: str) -> bool:
    return file_sha256(target) == digest


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
