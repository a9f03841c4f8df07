"""The daily pipeline: inbox → read → validate → price → assess → pay → decide → run
outputs → store → file moves.

``run_inbox`` composes the stages (those after validation live in ``claims.pipeline.stages``);
settlement runs apart, per period (``claims.settle``). The run id is derived from content (the new
inputs' sha256, the catalog versions, the run date, the engine version), never from
the clock; wall-clock times appear only in the run manifest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from claims.config import Settings
from claims.errors import ReasonCode as R
from claims.intake import (
    FileFailure,
    Scan,
    Submission,
    read_submission,
    scan_submission,
)
from claims.intake.hoso import RAW_SCHEMA
from claims.intake.receipts import failure_receipt, submission_receipt
from claims.messages import MESSAGES
from claims.pipeline.stages import Reference, assess_and_decide, batch_of, price
from claims.store.faults import crash_point
from claims.store.read import history_of
from claims.store.runs import known_files, open_store, store_run, write_run_dir
from claims.validate.tables import COUNTS_SCHEMA, Validated, validate
from claims.xml130 import LINE_TABLES

ENGINE_VERSION = "0.1.0"
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="giamdinh-read")
Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: called as files are read."""

_SUBMISSION_SCHEMA = {
    "file_id": pl.String,
    "name": pl.String,
    "kind": pl.String,
    "size": pl.Int64,
    "sender": pl.String,
    "ngay_lap": pl.String,
    "declared": pl.Int64,
    "hoso_count": pl.Int64,
    "status": pl.String,
    "reason_code": pl.String,
    "message": pl.String,
    "receipt": pl.String,
}


@dataclass(frozen=True)
class RunResult:
    """What one run did."""

    run_id: str | None
    run_date: str
    run_dir: Path | None
    files: pl.DataFrame
    counts: pl.DataFrame
    claims: pl.DataFrame
    reasons: pl.DataFrame
    """Quarantine entries per table and reason code."""
    assessments: pl.DataFrame = dataclasses.field(default_factory=pl.DataFrame)
    """One row per stored claim: the rule pack's outcome and reason codes."""
    hits: pl.DataFrame = dataclasses.field(default_factory=pl.DataFrame)
    """Rules that fired or were not evaluable."""
    decisions: pl.DataFrame = dataclasses.field(default_factory=pl.DataFrame)
    """One row per stored claim: outcome and claimed, law and accepted amounts."""


def list_inbox(inbox: Path) -> list[Path]:
    """Submissions in a folder: every file (sidecars excluded) and every bulk folder."""
    if not inbox.is_dir():
        from claims.errors import ConfigError

        msg = f"inbox {inbox} is not a folder; pass the folder holding the claim files"
        raise ConfigError(msg)
    entries = [
        p
        for p in sorted(inbox.iterdir())
        if not p.name.startswith(".") and not p.name.endswith(".error.json")
    ]
    return [
        p
        for p in entries
        if p.is_file() or (p / "xml1.parquet").exists() or (p / "xml1.csv").exists()
    ]


def run_inbox(
    inbox: Path,
    *,
    settings: Settings,
    run_date: str | None = None,
    progress: Progress | None = None,
    move_files: bool = True,
) -> RunResult:
    """Ingest every submission of ``inbox`` into the store and write the run outputs.

    Example:
        >>> result = run_inbox(Path("inbox"), settings=Settings(data_dir=Path("data")))
        >>> result.counts  # rows in, stored and quarantined per table
    """
    started = time.time()
    # a bad catalog or rule pack stops the run here, before any row is read
    reference = Reference.load(settings.catalog_dir, settings.pack_id)
    labels = reference.catalog_labels
    labels["packs"] = reference.pack_labels
    paths = list_inbox(inbox)
    with open_store(settings.store_path) as con:
        known = known_files(con)
    scans = dict(zip(paths, _POOL.map(_scanner(settings), paths), strict=True))
    hashed = [(p, scans[p].file_id) for p in paths]
    new, skipped, repeats = _split_inputs(hashed, known)
    results = _read_all([(p, scans[p]) for p, _ in new], settings, progress)
    subs = [r for r in results if isinstance(r, Submission)]
    failures = [r for r in results if isinstance(r, FileFailure)]
    day = run_date or _default_date(subs)
    if not new:
        if move_files:
            _move(settings, _placements([], skipped, [], {}, known), day)
        files = _file_rows([], [], skipped, None)
        empty = pl.DataFrame()
        return RunResult(None, day, None, files, _empty_counts(), empty, empty)
    run_id = make_run_id(day, sorted(h for _, h in new), labels)
    checked = validate(subs, reference.codes, reference.facilities)
    priced = price(checked.tables, reference)
    with open_store(settings.store_path) as con:
        history = history_of(con, checked.tables["XML1"])
    batch = batch_of(
        checked.tables,
        priced,
        reference,
        checked.claims.select("file_id", "hoso_idx", "lines_quarantined"),
    )
    assessed, decided = assess_and_decide(
        batch, reference, run_id=run_id, history=history, quarantine=checked.quarantine
    )
    claims_by_file = checked.claims.partition_by("file_id", as_dict=True)
    warnings_by_file = _price_warnings(priced).partition_by("file_id", as_dict=True)
    quarantine_by_file = checked.quarantine.partition_by("file_id", as_dict=True)
    receipts = {
        s.meta.name: submission_receipt(
            s,
            claims_by_file.get((s.meta.file_id,), checked.claims.clear()),
            quarantine_by_file.get((s.meta.file_id,), checked.quarantine.clear()),
            run_id,
            warnings_by_file.get((s.meta.file_id,)),
        )
        for s in subs
    }
    receipts |= {f.name: failure_receipt(f, run_id) for f in failures}
    frames = _frames(subs, failures, checked, receipts, run_id)
    frames["prices"] = priced.with_columns(pl.lit(run_id).alias("run_id"))
    frames["rule_hits"] = assessed.hits.with_columns(pl.lit(run_id).alias("run_id"))
    frames["assessments"] = assessed.claims.with_columns(pl.lit(run_id).alias("run_id"))
    frames["decisions"] = decided.claims
    frames["decision_lines"] = decided.lines
    frames["decision_reasons"] = decided.reasons
    manifest = _manifest(run_id, day, hashed, new, checked, labels, started)
    manifest["counts"]["price"] = _price_counts(priced)
    manifest["counts"]["assess"] = (
        assessed.claims.group_by("outcome").len("claims").sort("outcome").to_dicts()
    )
    manifest["counts"]["decide"] = _decision_counts(decided.claims)
    out = write_run_dir(
        settings.runs_dir,
        day,
        run_id,
        {k: _public(v) for k, v in frames.items()},
        {
            "manifest.json": manifest,
            **{f"receipts/{n}.json": r for n, r in receipts.items()},
        },
    )
    run_row = pl.DataFrame(
        {
            "run_id": [run_id],
            "run_date": [day],
            "manifest": [json.dumps(manifest, sort_keys=True)],
        }
    )
    crash_point("after-run-dir")
    with open_store(settings.store_path) as con:
        store_run(con, frames, run_row, settings.runs_dir)
    crash_point("after-commit")
    if move_files:
        failed = {f.name: receipts[f.name] for f in failures}
        _move(settings, _placements(new, skipped, repeats, failed, known), day)
    files = _file_rows(subs, failures, skipped + repeats, checked)
    reasons = (
        checked.quarantine.group_by("table", "reason_code")
        .len("entries")
        .sort("entries", "table", "reason_code", descending=[True, False, False])
    )
    return RunResult(
        run_id,
        day,
        out,
        files,
        checked.counts,
        checked.claims,
        reasons,
        assessed.claims,
        assessed.hits,
        decided.claims,
    )


def _decision_counts(decisions: pl.DataFrame) -> list[dict[str, Any]]:
    """Claims and money per outcome (amounts as 2-decimal text)."""
    money = ("claimed_t_bhtt", "accepted_t_bhtt", "rejected_amount")
    return (
        decisions.group_by("outcome")
        .agg(pl.len().alias("claims"), *[pl.col(c).sum() for c in money])
        .sort("outcome")
        .with_columns(pl.col(c).cast(pl.String) for c in money)
        .to_dicts()
    )


def make_run_id(run_date: str, inputs: list[str], catalogs: dict[str, str]) -> str:
    """A run id derived from content: same inputs and versions → same id."""
    body = {
        "date": run_date,
        "inputs": inputs,
        "catalogs": catalogs,
        "engine": ENGINE_VERSION,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def _scanner(settings: Settings) -> Callable[[Path], Scan]:
    def scan(path: Path) -> Scan:
        return scan_submission(path, max_bytes=settings.max_file_bytes)

    return scan


def _read_all(
    inputs: list[tuple[Path, Scan]], settings: Settings, progress: Progress | None
) -> list[Submission | FileFailure]:
    """Read the new inputs, two at a time (parsing releases the GIL), in input order."""

    def read(item: tuple[Path, Scan]) -> Submission | FileFailure:
        path, scan = item
        return read_submission(path, max_bytes=settings.max_file_bytes, scan=scan)

    results: list[Submission | FileFailure] = []
    for n, result in enumerate(_POOL.map(read, inputs), start=1):
        results.append(result)
        if progress is not None:
            progress("read", n, len(inputs))
    return results


def _default_date(subs: list[Submission]) -> str:
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


def _frames(
    subs: list[Submission],
    failures: list[FileFailure],
    checked: Validated,
    receipts: dict[str, dict[str, Any]],
    run_id: str,
) -> dict[str, pl.DataFrame]:
    run = pl.lit(run_id).alias("run_id")
    order = checked.claims.select("file_id", "hoso_idx", "file_order")
    claims = (
        checked.tables["XML1"]
        .join(order, on=["file_id", "hoso_idx"], how="left")
        .rename({"file_order": "_file_order"})
        .with_columns(run)
    )
    frames = {
        "submissions": _submissions(subs, failures, receipts),
        "claims": claims,
        **{t.lower(): checked.tables[t].with_columns(run) for t in LINE_TABLES},
        "raw_docs": _raw_docs(subs).with_columns(run),
        "quarantine": checked.quarantine.with_columns(run),
        "claim_status": checked.claims.select(
            "file_id",
            "hoso_idx",
            "ma_cskcb",
            "ma_lk",
            "status",
            "claim_reasons",
            "lines_quarantined",
        ).with_columns(run),
    }
    return frames


def _price_warnings(priced: pl.DataFrame) -> pl.DataFrame:
    """Lines whose code has no valid catalog row, as receipt warnings."""
    code = {"drugs": "MA_THUOC", "services": "MA_DICH_VU", "supplies": "MA_VAT_TU"}
    return priced.filter(pl.col("reason_code").is_not_null()).select(
        "file_id",
        "hoso_idx",
        pl.col("reason_code").alias("code"),
        pl.lit(MESSAGES[R.NOT_IN_CATALOG]).alias("message"),
        "table",
        "line_no",
        pl.col("catalog").replace_strict(code).alias("field"),
    )


def _price_counts(priced: pl.DataFrame) -> list[dict[str, Any]]:
    """Priced lines per catalog and outcome (``reason_code`` null: priced)."""
    return (
        priced.group_by("catalog", "reason_code")
        .len("lines")
        .sort("catalog", "reason_code", nulls_last=False)
        .to_dicts()
    )


def _public(frame: pl.DataFrame) -> pl.DataFrame:
    """Run-output form of a frame: without engine-internal columns."""
    return frame.drop([c for c in frame.columns if c.startswith("_")])


def _raw_docs(subs: list[Submission]) -> pl.DataFrame:
    parts = [s.raw_docs for s in subs if s.raw_docs.height]
    return pl.concat(parts) if parts else pl.DataFrame(schema=RAW_SCHEMA)


def _submissions(
    subs: list[Submission],
    failures: list[FileFailure],
    receipts: dict[str, dict[str, Any]],
) -> pl.DataFrame:
    rows: list[tuple[object, ...]] = [
        (
            s.meta.file_id,
            s.meta.name,
            s.meta.kind,
            s.meta.size,
            s.meta.sender,
            s.meta.ngay_lap,
            s.meta.declared,
            s.meta.hoso_count,
            "read",
            None,
            None,
            json.dumps(receipts[s.meta.name], ensure_ascii=False, sort_keys=True),
        )
        for s in subs
    ]
    rows += [
        (
            f.file_id,
            f.name,
            "xml",
            f.size,
            None,
            None,
            None,
            0,
            "failed",
            f.reason.value,
            f.message,
            json.dumps(receipts[f.name], ensure_ascii=False, sort_keys=True),
        )
        for f in failures
    ]
    return pl.DataFrame(rows, schema=_SUBMISSION_SCHEMA, orient="row")


def _manifest(
    run_id: str,
    day: str,
    hashed: list[tuple[Path, str]],
    new: list[tuple[Path, str]],
    checked: Validated,
    catalogs: dict[str, str],
    started: float,
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "run_date": day,
        "engine_version": ENGINE_VERSION,
        "catalogs": catalogs,
        "inputs": [
            {"file": p.name, "sha256": h, "new": (p, h) in new} for p, h in hashed
        ],
        "counts": {"validate": checked.counts.to_dicts()},
        "claims": checked.claims.group_by("status").len().sort("status").to_dicts(),
        "wall_clock": {
            "started_unix": round(started, 3),
            "seconds": round(time.time() - started, 3),
        },
    }


def _split_inputs(
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


def _placements(
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


def _move(
    settings: Settings,
    placements: list[tuple[Path, str, dict[str, Any] | None]],
    day: str,
) -> None:
    """Move inputs out of the inbox: refused files (with a sidecar) to failed/."""
    for path, digest, sidecar in placements:
        folder = settings.failed_dir if sidecar else settings.processed_dir / day
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / path.name
        if target.exists():
            target = folder / f"{digest[:8]}-{path.name}"
        shutil.move(str(path), str(target))
        if sidecar:
            text = json.dumps(sidecar, ensure_ascii=False, indent=2, sort_keys=True)
            target.with_name(target.name + ".error.json").write_text(
                text + "\n", encoding="utf-8"
            )


def _file_rows(
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


def _empty_counts() -> pl.DataFrame:
    return pl.DataFrame(schema=COUNTS_SCHEMA)
