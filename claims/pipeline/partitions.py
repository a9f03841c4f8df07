"""A day in partitions: memory set by a budget, not by the day's size.

The inputs of a run are grouped into partitions of whole inputs (a facility's XML
file, or a bulk folder) and whole facilities (all inputs holding a facility's claims go
together) whose estimated detail lines fit the memory budget (:func:`plan`): every
version of a claim (MA_CSKCB, MA_LK) and the withdrawal that cancels it are in one
partition, numbered as in one batch, the bed, machine and department keys are
facility-local, and each receipt is one partition's.
An input larger than the budget runs alone (a facility's file is bounded by
``max_file_bytes``; a bulk load should be split by facility groups).

Each partition runs in two steps, each written to the run's staging folder
(``<data>/staging/<plan>/``) before the next starts, so a rerun after a crash resumes
at the first missing part:

1. ``read-NNNNN``: its inputs read and validated (the typed tables, the claims, the
   quarantine with each line named as sent, the counts) — :func:`read_part`.
2. ``decided-NNNNN``: the stages from pricing on, with a history that is the store's
   plus the day's other partitions (the day-wide index, ``index``: of each partition,
   the claims that share a patient, practitioner or facility with another partition,
   built in one pass by :func:`claims.store.build_day_index`, read as DuckDB views
   beside the stored tables, :func:`day_sources`), so no cross-claim check (patient,
   practitioner, machine, bed, department, facility) loses a pair because its two
   claims fell into different partitions, and no partition reads the whole day; then
   the run's outputs and receipts of the partition — :func:`decide_part`.

The run then commits once (``claims.pipeline.daily``): the run folder is the parts'
outputs concatenated in order (streamed), the store's tables are appended from them
(DuckDB reads the Parquet), and the staging folder is removed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import duckdb
import polars as pl
import pyarrow.parquet as pq

from claims.config import Settings
from claims.ids import engine_version
from claims.intake import FileFailure, Scan, Submission, facilities_of
from claims.pipeline.context import History, Reference, RunContext
from claims.pipeline.identify import with_identities
from claims.pipeline.inbox import Hashed, Inputs, read_inputs
from claims.pipeline.stages import (
    STORED_STAGES,
    Frames,
    OnStage,
    run_stages,
    stages_named,
)
from claims.schema import Batch
from claims.store import (
    DAY_COLUMNS,
    StoreError,
    build_day_index,
    has_table,
    history_of,
    open_store,
    practitioners_of,
)
from claims.store.runs import parquet_source
from claims.store.window import STORED, Sources
from claims.validate import Validated

GIB = 1024**3
XML_BYTES_PER_LINE = 1650
"""Bytes of wrapper XML per detail line (XML2 + XML3 rows) of a generated day: 1,759 MB
for 1,066,868 lines (benchmarks/README.md, ingest). Estimates an XML input's lines."""
RSS_PER_LINE = 3500
"""Peak resident bytes per detail line of a batch through the stages, above the
reference data: 7.9 GB for 2.25M lines in one batch (issue 14's measurement)."""
BASE_RSS = 2 * GIB
"""The reference data (catalogs, packs) and the interpreter, before any row."""
LINES_PER_INPUT = 520
"""What an input costs beyond its lines, in lines: reading keeps about 1.8 MB per XML
file (its frames per table) until validation, measured by ``giamdinh bench
national-day`` (a run over 10,609 files of a 50,000-claim slice reached 16.7 GB)."""
STAGING = "staging"


def default_budget() -> int:
    """Half the machine's memory: the default ``--memory-budget``."""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 8 * GIB
    return max(GIB, pages * size // 2)


LINES_PER_CLAIM = 21
"""Detail lines per claim nationally (reference §6): sizes a partition of stored claims."""


def partition_lines(budget: int) -> int:
    """The detail lines one partition may hold under ``budget`` bytes (at least 1)."""
    return max(1, (budget - BASE_RSS) // RSS_PER_LINE)


def estimated_lines(path: Path, size: int) -> int:
    """An input's detail lines: a bulk folder's XML2 + XML3 rows (Parquet metadata;
    CSV by size), an XML file's by its size."""
    if not path.is_dir():
        return max(1, size // XML_BYTES_PER_LINE)
    lines = 0
    for table in ("xml2", "xml3"):
        parquet, csv = path / f"{table}.parquet", path / f"{table}.csv"
        if parquet.is_file():
            lines += pq.read_metadata(parquet).num_rows
        elif csv.is_file():
            lines += csv.stat().st_size // 200
    return max(1, lines)


def plan(new: Hashed, scans: dict[Path, Scan], budget: int) -> list[Hashed]:
    """``new`` inputs grouped into partitions that fit ``budget``: the inputs of one
    facility (its files of the day, the bulk folders holding its claims) always in
    the same partition, each partition's inputs in inbox order."""
    capacity = partition_lines(budget)
    order = {path: n for n, (path, _) in enumerate(new)}
    parts: list[Hashed] = []
    current: Hashed = []
    held = 0
    for group in _facility_groups(new, scans):
        lines = sum(
            estimated_lines(p, scans[p].size) + LINES_PER_INPUT for p, _ in group
        )
        if current and held + lines > capacity:
            parts.append(sorted(current, key=lambda i: order[i[0]]))
            current, held = [], 0
        current += group
        held += lines
    if current:
        parts.append(sorted(current, key=lambda i: order[i[0]]))
    return parts


def _facility_groups(new: Hashed, scans: dict[Path, Scan]) -> list[Hashed]:
    """The inputs in groups that share a facility (transitively), in inbox order of
    their first input: every version of a claim (MA_CSKCB, MA_LK) and its withdrawal
    fall in one group."""
    root = list(range(len(new)))

    def find(n: int) -> int:
        while root[n] != n:
            root[n] = root[root[n]]
            n = root[n]
        return n

    first: dict[str, int] = {}
    for n, (path, _) in enumerate(new):
        for facility in sorted(facilities_of(path, scans[path])):
            other = first.setdefault(facility, n)
            a, b = find(n), find(other)
            root[max(a, b)] = min(a, b)
    groups: dict[int, Hashed] = {}
    for n, item in enumerate(new):
        groups.setdefault(find(n), []).append(item)
    return [groups[k] for k in sorted(groups)]


def oversized(parts: list[Hashed], scans: dict[Path, Scan], budget: int) -> list[str]:
    """A notice per input that alone holds more lines than ``budget`` allows: it runs
    in a partition of its own, above the budget."""
    capacity = partition_lines(budget)
    notices = []
    for part in parts:
        for path, _ in part:
            lines = estimated_lines(path, scans[path].size)
            if lines > capacity:
                notices.append(
                    f"{path.name} holds about {lines:,} detail lines, more than the "
                    f"memory budget's {capacity:,} per partition: it runs alone and "
                    "may use more memory (split a bulk load into folders of facility "
                    "groups, or raise --memory-budget)"
                )
    return notices


@dataclass(frozen=True)
class Staging:
    """The staging folder of one partitioned run (one plan of inputs)."""

    root: Path

    @classmethod
    def of(
        cls, settings: Settings, parts: list[Hashed], reference: Reference
    ) -> Staging:
        """The folder for these partitions, versions and engine: the same plan finds
        the same folder (and resumes), any other starts afresh."""
        key = {
            "parts": [[d for _, d in part] for part in parts],
            "versions": reference.labels,
            "engine": engine_version(),
        }
        text = json.dumps(key, sort_keys=True)
        name = hashlib.sha256(text.encode()).hexdigest()[:16]
        return cls(settings.data_dir / STAGING / name)

    def sweep(self) -> list[Path]:
        """Remove every other staging folder (left by runs that died or changed);
        call under the writer lock."""
        parent = self.root.parent
        gone = (
            [p for p in sorted(parent.glob("*")) if p != self.root]
            if parent.is_dir()
            else []
        )
        for p in gone:
            shutil.rmtree(p, ignore_errors=True)
        return gone

    def read(self, n: int) -> Path:
        return self.root / f"read-{n:05d}"

    def index(self, reads: Sequence[Path]) -> list[Path]:
        """The day-wide index of each read partition, built once (resumed when there)."""
        final = self.root / "index"
        names = [f"index-{n:05d}" for n in range(len(reads))]
        if not final.exists():
            _atomic(final, lambda tmp: build_day_index(reads, [tmp / n for n in names]))
        return [final / n for n in names]

    def decided(self, run_id: str, n: int) -> Path:
        return self.root / run_id / f"decided-{n:05d}"

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        parent = self.root.parent
        if parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()


def _atomic(final: Path, write: Callable[[Path], None]) -> None:
    """Write a part into a private folder, then rename it into place.

    Raises:
        StoreError: a write failed (disk full…); the parts already written stay for
            the rerun, nothing of the run is committed.
    """
    tmp = final.parent / f".{final.name}.{os.getpid()}.tmp"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        write(tmp)
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    except (OSError, pl.exceptions.PolarsError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        free = (
            shutil.disk_usage(final.parent.parent).free
            if final.parent.parent.exists()
            else 0
        )
        msg = (
            f"could not write the partition {final} ({free:,} bytes free there), "
            f"nothing of the run was committed: {exc}. Free space (or fix the cause) "
            "and run again: the partitions already written are reused"
        )
        raise StoreError(msg) from exc


def _stand_in(result: Submission | FileFailure) -> Submission | FileFailure:
    """What receipts and the run's rows need of a read input: its meta, claim-level
    errors, warnings and raw XML1 rows (not its detail lines)."""
    if isinstance(result, FileFailure):
        return result
    xml1 = result.tables.get("XML1")
    tables = {} if xml1 is None else {"XML1": xml1}
    return Submission(
        result.meta,
        tables,
        result.raw_docs.clear(),
        result.hoso_errors,
        result.warnings,
    )


def read_part(
    settings: Settings,
    reference: Reference,
    part: Hashed,
    scans: dict[Path, Scan],
    out: Path,
    on_stage: OnStage | None = None,
) -> None:
    """Read and validate one partition's inputs into ``out`` (skipped when done)."""
    if out.exists():
        return
    clock = time.perf_counter()
    results = read_inputs(part, scans, settings)
    subs = tuple(r for r in results if isinstance(r, Submission))
    if on_stage is not None:
        on_stage("read", time.perf_counter() - clock, Frames(submissions=subs))
    ctx = RunContext("", "", reference, settings)
    done = run_stages(
        ctx,
        Frames(submissions=subs),
        stages=stages_named("validate"),
        on_stage=on_stage,
    )
    quarantine = with_identities(done.need("quarantine", done.quarantine), subs)

    def write(tmp: Path) -> None:
        (tmp / "tables").mkdir()
        for name, frame in done.tables.items():
            frame.write_parquet(tmp / "tables" / f"{name}.parquet", statistics=False)
        done.need("claims", done.claims).write_parquet(tmp / "claims.parquet")
        done.need("quarantine", done.quarantine).write_parquet(
            tmp / "quarantine.parquet"
        )
        quarantine.write_parquet(tmp / "quarantine_named.parquet")
        done.need("counts", done.counts).write_parquet(tmp / "counts.parquet")
        with (tmp / "inputs.pkl").open("wb") as handle:
            pickle.dump([_stand_in(r) for r in results], handle)

    _atomic(out, write)


@dataclass(frozen=True)
class ReadPart:
    """A partition as its first step left it."""

    inputs: Inputs
    checked: Validated
    named: pl.DataFrame
    """The quarantine with each line named as sent (``stt``, ``item_code``)."""

    @classmethod
    def load(cls, folder: Path, part: Hashed) -> ReadPart:
        results = load_inputs(folder)
        tables = {
            p.stem: pl.read_parquet(p)
            for p in sorted((folder / "tables").glob("*.parquet"))
        }
        checked = Validated(
            tables,
            pl.read_parquet(folder / "quarantine.parquet"),
            pl.read_parquet(folder / "claims.parquet"),
            pl.read_parquet(folder / "counts.parquet"),
        )
        named = pl.read_parquet(folder / "quarantine_named.parquet")
        return cls(Inputs(part, part, [], [], results), checked, named)


DAY_SOURCES = Sources("_day_claims", "_day_xml2", "_day_xml3", day=True)


def day_sources(con: duckdb.DuckDBPyConnection, others: Sequence[Path]) -> Sources:
    """The day-wide index seen from one partition: temporary views that add the
    indexes of the day's ``others`` (:func:`claims.store.build_day_index`: their
    claims that share a key with another partition) to the store's tables.

    A stored claim that one of them re-submits is left out (its new version replaces
    it, as in a one-batch run); the day's claims count as current and not withdrawn,
    as a batch's own claims do.
    """

    def files(table: str) -> str:
        return parquet_source([o / "tables" / f"{table}.parquet" for o in others])

    def columns(table: str) -> str:
        return ", ".join(DAY_COLUMNS[table])

    keys = parquet_source([o / "keys.parquet" for o in others])
    day = f"SELECT {columns('XML1')} FROM {files('XML1')}"
    stored_claims = (
        f"SELECT {columns('XML1')}, is_current, withdrawn, false AS _day "
        "FROM claims s "
        "WHERE NOT EXISTS (SELECT 1 FROM _day_keys d "
        "WHERE d.ma_cskcb = s.ma_cskcb AND d.ma_lk = s.ma_lk) UNION ALL "
        if has_table(con, "claims")
        else ""
    )
    con.execute(f"CREATE OR REPLACE TEMP VIEW _day_keys AS SELECT * FROM {keys}")
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {DAY_SOURCES.claims} AS {stored_claims}"
        f"SELECT *, true AS is_current, false AS withdrawn, true AS _day FROM ({day})"
    )
    for table, view in (("xml2", DAY_SOURCES.xml2), ("xml3", DAY_SOURCES.xml3)):
        name = table.upper()
        stored = (
            f"SELECT {columns(name)} FROM {table} UNION ALL "
            if has_table(con, table)
            else ""
        )
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {view} AS {stored}"
            f"SELECT {columns(name)} FROM {files(name)}"
        )
    return DAY_SOURCES


def partition_history(
    settings: Settings, others: Sequence[Path], *, read_only: bool
) -> History:
    """The history of one partition: the store's claims plus the day's ``others``."""

    def history(batch: Batch) -> pl.DataFrame | None:
        xml1, practitioners = batch.xml1, practitioners_of(batch)
        if settings.store_path.is_file():
            with open_store(settings.store_path, read_only=read_only) as con:
                sources = day_sources(con, others) if others else STORED
                return history_of(con, xml1, sources, practitioners)
        if not others:  # the day's only partition, and nothing stored yet
            return None
        with duckdb.connect() as con:
            return history_of(con, xml1, day_sources(con, others), practitioners)

    return history


Finish = Callable[
    [RunContext, ReadPart, Frames], tuple[dict[str, pl.DataFrame], dict[str, Any]]
]
"""``finish(ctx, part, done)``: a decided partition's run outputs and receipts."""


def decide_part(
    settings: Settings,
    reference: Reference,
    run: tuple[str, str],
    folders: tuple[Path, Sequence[Path]],
    out: Path,
    finish: Finish,
    *,
    read_only: bool = False,
    on_stage: OnStage | None = None,
) -> None:
    """The stages from pricing on for one partition (``folders``: its read folder and
    the day's other partitions'), with its run outputs and receipts, into ``out``."""
    if out.exists():
        return
    own, others = folders
    run_id, run_date = run
    part = ReadPart.load(own, [])  # its inputs' hashes are not needed here
    history = partition_history(settings, others, read_only=read_only)
    ctx = RunContext(run_id, run_date, reference, settings, history)
    checked = part.checked
    frames = Frames(
        tables=checked.tables,
        claims=checked.claims,
        quarantine=part.named,
        counts=checked.counts,
    )
    done = run_stages(ctx, frames, stages=STORED_STAGES, on_stage=on_stage)
    outputs, receipts = finish(ctx, part, done)

    def write(tmp: Path) -> None:
        for name, frame in outputs.items():
            frame.write_parquet(tmp / f"{name}.parquet", statistics=False)
        text = json.dumps(receipts, ensure_ascii=False, sort_keys=True, default=str)
        (tmp / "receipts.json").write_text(text, encoding="utf-8")

    _atomic(out, write)


def load_inputs(folder: Path, *, meta: bool = False) -> list[Submission | FileFailure]:
    """The stand-ins of a read partition's inputs (meta, errors, raw XML1 rows).

    ``meta``: what the commit of a whole day needs of each input, kept for every
    partition at once: the XML1 rows dropped for the latest NGAY_RA (the run's date
    of a bulk input, ``claims.pipeline.inbox.default_date``), so the day's claims are
    not held in memory.
    """
    with (folder / "inputs.pkl").open("rb") as handle:
        results: list[Submission | FileFailure] = pickle.load(handle)
    if not meta:
        return results
    return [
        dataclasses.replace(r, tables={"XML1": r.tables["XML1"].select(_LATEST)})
        if isinstance(r, Submission) and "XML1" in r.tables
        else r
        for r in results
    ]


_LATEST = pl.col("ngay_ra").max()


class Task(Protocol):
    """One independent piece of a partitioned job: it reads paths and the store and
    writes its own part (or returns a small result), so any executor may run it."""

    @property
    def settings(self) -> Settings: ...

    @property
    def pack(self) -> str | None:
        """``ID@VERSION`` a task decides with (None: the packs by date)."""
        ...

    def run(self, reference: Reference, on_stage: OnStage | None = None) -> Any: ...


@dataclass(frozen=True)
class ReadTask:
    """Step 1 of one partition (:func:`read_part`)."""

    settings: Settings
    part: Hashed
    scans: dict[Path, Scan]
    out: Path
    pack: str | None = None

    def run(self, reference: Reference, on_stage: OnStage | None = None) -> None:
        read_part(self.settings, reference, self.part, self.scans, self.out, on_stage)


@dataclass(frozen=True)
class DecideTask:
    """Step 2 of one partition (:func:`decide_part`)."""

    settings: Settings
    ids: tuple[str, str]
    """The run id and date."""
    folders: tuple[Path, tuple[Path, ...]]
    out: Path
    finish: Finish
    read_only: bool = False
    pack: str | None = None

    def run(self, reference: Reference, on_stage: OnStage | None = None) -> None:
        decide_part(
            self.settings,
            reference,
            self.ids,
            self.folders,
            self.out,
            self.finish,
            read_only=self.read_only,
            on_stage=on_stage,
        )


Executor = Callable[[Sequence[Task], Reference, OnStage | None], list[Any]]
"""``executor(tasks, reference, on_stage)``: runs every task (in any order: they are
independent) and returns their results in the tasks' order."""


def in_process(
    tasks: Sequence[Task], reference: Reference, on_stage: OnStage | None
) -> list[Any]:
    """The single-process executor: the tasks one after the other."""
    return [task.run(reference, on_stage) for task in tasks]
