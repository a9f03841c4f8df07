"""The inbox side of the daily run: which inputs are new, reading them, and moving
them out of the inbox once the run is stored (refused files to ``failed/`` with an
``.error.json`` sidecar)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from catalogs.loader import load_versions
from catalogs.resolve import resolve
from claims.config import Settings
from claims.errors import ConfigError
from claims.intake import (
    FileFailure,
    Scan,
    SignaturePolicy,
    Submission,
    read_submission,
    scan_submission,
)
from claims.validate import COUNTS_SCHEMA, Validated

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: called as files are read."""
Hashed = list[tuple[Path, str]]
"""Inputs with their sha256."""


@dataclass(frozen=True)
class Inputs:
    """An inbox's inputs: all of them hashed, split by what the store knows, and what
    reading the new ones gave (a submission or a refused file each)."""

    hashed: Hashed
    new: Hashed
    skipped: Hashed
    """Already stored (same sha256)."""
    repeats: Hashed
    """The same bytes as a new input of this inbox, under another name."""
    results: list[Submission | FileFailure]

    @property
    def submissions(self) -> list[Submission]:
        return [r for r in self.results if isinstance(r, Submission)]

    @property
    def failures(self) -> list[FileFailure]:
        return [r for r in self.results if isinstance(r, FileFailure)]


@dataclass(frozen=True)
class Listing:
    """What an inbox holds: the inputs to read, and the entries left in place."""

    inputs: list[Path]
    ignored: list[Path]
    """Files whose name does not end in ``.xml`` (and are no bulk folder)."""


def list_inbox(inbox: Path) -> Listing:
    """Submissions in a folder: every ``.xml`` file and every bulk folder.

    Sidecars and hidden entries are not inputs; other files are left in place and
    listed in ``ignored`` (a ``.xml`` file whose content is not XML is still an input,
    refused to ``failed/`` when read).
    """
    if not inbox.is_dir():
        msg = f"inbox {inbox} is not a folder; pass the folder holding the claim files"
        raise ConfigError(msg)
    entries = [
        p
        for p in sorted(inbox.iterdir())
        if not p.name.startswith(".") and not p.name.endswith(".error.json")
    ]
    inputs = [
        p
        for p in entries
        if (p.is_file() and p.suffix.lower() == ".xml")
        or (p / "xml1.parquet").exists()
        or (p / "xml1.csv").exists()
    ]
    return Listing(inputs, [p for p in entries if p not in inputs])


def scan_and_read(
    paths: list[Path],
    known: dict[str, tuple[str, str]],
    settings: Settings,
    progress: Progress | None,
) -> Inputs:
    """Hash every input, then read the new ones, two at a time (parsing releases the
    GIL), in input order."""
    scanned = scan_inputs(paths, known, settings)
    results = read_inputs(scanned.new, scanned.scans, settings, progress)
    return dataclasses.replace(scanned.inputs, results=results)


@dataclass(frozen=True)
class Scanned:
    """Every input hashed and split by what the store knows, before any is read."""

    inputs: Inputs
    """With no ``results`` yet."""
    scans: dict[Path, Scan]

    @property
    def new(self) -> Hashed:
        return self.inputs.new


def scan_inputs(
    paths: list[Path], known: dict[str, tuple[str, str]], settings: Settings
) -> Scanned:
    """Hash every input (two at a time) and split them into new, stored and repeats."""
    limit = settings.max_file_bytes
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="giamdinh-scan") as pool:
        scans = list(pool.map(lambda p: scan_submission(p, max_bytes=limit), paths))
    hashed = [(p, s.file_id) for p, s in zip(paths, scans, strict=True)]
    new, skipped, repeats = split_inputs(hashed, known)
    inputs = Inputs(hashed, new, skipped, repeats, [])
    return Scanned(inputs, dict(zip(paths, scans, strict=True)))


def read_inputs(
    new: Hashed,
    scans: dict[Path, Scan],
    settings: Settings,
    progress: Progress | None = None,
) -> list[Submission | FileFailure]:
    """Read ``new`` inputs, two at a time (parsing releases the GIL), in input order.

    From ``Settings.signatures_required_from`` on, an XML file's signature is verified
    first (:func:`signature_policy`): the one place CLI ingest, the daily run, its
    partitions and the API's submissions all pass.
    """
    limit = settings.max_file_bytes
    policy = signature_policy(settings) if new else None

    def read(path: Path) -> Submission | FileFailure:
        return read_submission(
            path, max_bytes=limit, scan=scans[path], signatures=policy
        )

    results: list[Submission | FileFailure] = []
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="giamdinh-read") as pool:
        for n, result in enumerate(pool.map(read, [p for p, _ in new]), start=1):
            results.append(result)
            if progress is not None:
                progress("read", n, len(new))
    return results


def signature_policy(settings: Settings) -> SignaturePolicy | None:
    """The signature policy of ``settings``: None while signatures are not mandatory,
    else the date and the ``certificates`` catalog (``--catalog-dir`` overlay or built
    in), resolved."""
    since = settings.signatures_required_from
    if since is None:
        return None
    certificates = resolve(load_versions("certificates", settings.catalog_dir))
    return SignaturePolicy(since, certificates)


def default_date(subs: list[Submission]) -> str:
    """A date from content, not from the clock: the latest NGAYLAP among the inputs.

    Bulk tables have no NGAYLAP; the latest discharge (NGAY_RA) stands in for them.
    """
    days = [s.meta.ngay_lap[:8] for s in subs if s.meta.ngay_lap]
    days += [
        str(v)[:8]
        for s in subs
        if not s.meta.ngay_lap and (v := s.tables["XML1"]["ngay_ra"].max()) is not None
    ]
    valid = sorted(d for d in days if len(d) == 8 and d.isdigit())
    for text in reversed(valid):
        try:
            return date(int(text[:4]), int(text[4:6]), int(text[6:8])).isoformat()
        except ValueError:
            continue
    return "undated"


def split_inputs(
    hashed: list[tuple[Path, str]], known: dict[str, tuple[str, str]]
) -> tuple[list[tuple[Path, str]], list[tuple[Path, str]], list[tuple[Path, str]]]:
    """New inputs, inputs already stored, and repeats of a new input in this inbox."""
    new: list[tuple[Path, str]] = []
    skipped: list[tuple[Path, str]] = []
    repeats: list[tuple[Path, str]] = []
    firsts: set[str] = set()
    for path, digest in hashed:
        if digest in known:
            skipped.append((path, digest))
        elif digest in firsts:
            repeats.append((path, digest))
        else:
            firsts.add(digest)
            new.append((path, digest))
    return new, skipped, repeats


def placements(
    new: list[tuple[Path, str]],
    skipped: list[tuple[Path, str]],
    repeats: list[tuple[Path, str]],
    failed: dict[str, dict[str, Any]],
    known: dict[str, tuple[str, str]],
) -> list[tuple[Path, str, dict[str, Any] | None]]:
    """Each input with the sidecar it gets when its wrapper could not be read.

    A repeat of a new file (same bytes under another name) goes where the first went.
    """
    out: list[tuple[Path, str, dict[str, Any] | None]] = [
        (path, digest, failed.get(path.name)) for path, digest in new
    ]
    by_digest = {digest: sidecar for _, digest, sidecar in out}
    out += [(path, digest, by_digest.get(digest)) for path, digest in repeats]
    for path, digest in skipped:
        status, receipt = known[digest]
        out.append((path, digest, json.loads(receipt) if status == "failed" else None))
    return out


def file_rows(
    subs: list[Submission],
    failures: list[FileFailure],
    skipped: list[tuple[Path, str]],
    checked: Validated | None,
) -> pl.DataFrame:
    per_file: dict[str, tuple[int, int]] = {}
    if checked is not None:
        stats = checked.claims.group_by("file_id").agg(
            pl.len().alias("n"), (pl.col("status") == "rejected").sum().alias("rej")
        )
        per_file = {r[0]: (r[1], r[2]) for r in stats.iter_rows()}
    rows = [
        (s.meta.name, "stored", "", *per_file.get(s.meta.file_id, (0, 0))) for s in subs
    ]
    rows += [(f.name, "failed", f.reason.value, 0, 0) for f in failures]
    rows += [(p.name, "already stored", "", 0, 0) for p, _ in skipped]
    schema = {
        "file": pl.String,
        "status": pl.String,
        "reason": pl.String,
        "claims": pl.Int64,
        "rejected": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema, orient="row").sort("file")


def empty_counts() -> pl.DataFrame:
    return pl.DataFrame(schema=COUNTS_SCHEMA)
