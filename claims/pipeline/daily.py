"""The daily run: inbox → read → the pipeline's stages → run outputs → store → file moves.

``run_inbox`` reads the new inputs (``claims.pipeline.inbox``), runs
``claims.pipeline.stages.STAGES`` on them with the store's history, writes the run
folder and commits the run. Settlement runs apart, per period (``claims.settle``). The
run id is derived from content (``claims.ids``: the new inputs' sha256, the catalog and
pack versions, the run date, the engine version), never from the clock; wall-clock
times appear only in the run manifest.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import polars as pl

from claims.config import Settings
from claims.ids import content_id, engine_version
from claims.pipeline.anomalies import score_run
from claims.pipeline.context import History, Reference, RunContext
from claims.pipeline.inbox import (
    Hashed,
    Inputs,
    Listing,
    Progress,
    Scanned,
    default_date,
    empty_counts,
    file_rows,
    list_inbox,
    placements,
    read_inputs,
    scan_inputs,
)
from claims.pipeline.outputs import (
    manifest_of,
    public_form,
    receipts_of,
    run_outputs,
    validated,
)
from claims.pipeline.partitions import (
    DecideTask,
    Executor,
    ReadPart,
    ReadTask,
    Staging,
    default_budget,
    in_process,
    load_inputs,
    oversized,
    plan,
)
from claims.pipeline.placement import PlacementError, place, repair
from claims.pipeline.stages import Frames, OnStage, run_stages
from claims.price import unpriced_warnings
from claims.schema import CLAIM_KEYS, Batch
from claims.store import (
    Holder,
    Lock,
    crash_point,
    discard_run_dir,
    history_of,
    known_files,
    open_store,
    practitioners_of,
    store_run,
    stored_days,
    sweep_temporary,
    write_run_dir,
    writer_lock,
)
from claims.validate import Validated

Engine = Literal["local", "dask"]


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
    notices: tuple[str, ...] = ()
    """What the operator should know: files left in place, repairs, a stale lock."""


def run_id_of(day: str, new: list[tuple[Path, str]], reference: Reference) -> str:
    """The run id: same date, new inputs, versions and engine → same id."""
    return content_id(
        "run",
        date=day,
        inputs=sorted(h for _, h in new),
        catalogs=reference.labels,
        engine=engine_version(),
    )


def store_history(settings: Settings, *, read_only: bool = False) -> History:
    """The history provider of a run on the store: the stored claims a batch can see.

    ``read_only`` for the commands that only read the store (explain, shadow, audit).
    """

    def history(batch: Batch) -> pl.DataFrame | None:
        with open_store(settings.store_path, read_only=read_only) as con:
            return history_of(con, batch.xml1, practitioners=practitioners_of(batch))

    return history


def run_inbox(
    inbox: Path,
    *,
    settings: Settings,
    run_date: str | None = None,
    progress: Progress | None = None,
    move_files: bool = True,
    on_wait: Callable[[Holder | None], None] | None = None,
    command: str = "run",
    reference: Reference | None = None,
    on_stage: OnStage | None = None,
    engine: Engine = "local",
    scheduler: str | None = None,
) -> RunResult:
    """Ingest every submission of ``inbox`` into the store and write the run outputs.

    The whole run holds the store's writer lock (``claims.store.lock``): a second
    writer waits for it, up to ``settings.lock_wait`` seconds.

    ``on_stage(name, seconds, frames)`` is called after reading (``read``), after each
    stage of :data:`claims.pipeline.stages.STAGES` and after writing the run folder and
    committing it (``write``); a partitioned run calls it once per partition and stage.

    The inputs run in partitions when they do not fit ``settings.memory_budget``
    (``claims.pipeline.partitions``); ``engine="dask"`` runs the partitions as tasks
    of a Dask cluster (``scheduler``: its address; none: a local cluster), always
    partitioned, with the same results.

    Example:
        >>> result = run_inbox(Path("inbox"), settings=Settings(data_dir=Path("data")))
        >>> result.counts  # rows in, stored and quarantined per table
    """
    started = time.time()
    # a bad catalog or rule pack stops the run here, before any row is read; a
    # long-lived caller (a server, a test session) passes the reference it loaded
    if reference is None:
        reference = Reference.load(settings.catalog_dir, settings.pack_id)
    if not inbox.is_dir():
        list_inbox(inbox)  # refuses it before the store is touched
    with writer_lock(
        settings.data_dir, command, wait=settings.lock_wait, on_wait=on_wait
    ) as lock:
        # listed under the lock: a writer that waited sees what the first one left
        listing = list_inbox(inbox)
        with executor_for(engine, scheduler) as executor:
            return _run_locked(
                listing,
                reference,
                settings,
                lock,
                run_date=run_date,
                progress=progress,
                move_files=move_files,
                started=started,
                on_stage=on_stage,
                executor=executor,
            )


@contextmanager
def executor_for(engine: Engine, scheduler: str | None) -> Iterator[Executor | None]:
    """None for the single-process run (partitioned only when the budget says so)."""
    if engine == "local":
        yield None
        return
    from claims.pipeline.scaleout import dask_executor

    with dask_executor(scheduler) as executor:
        yield executor


def _run_locked(
    listing: Listing,
    reference: Reference,
    settings: Settings,
    lock: Lock,
    *,
    run_date: str | None,
    progress: Progress | None,
    move_files: bool,
    started: float,
    on_stage: OnStage | None = None,
    executor: Executor | None = None,
) -> RunResult:
    notices = _lock_notices(lock, listing)
    notices += [
        f"removed {p}, left by a run that died"
        for p in sweep_temporary(settings.runs_dir)
    ]
    with open_store(settings.store_path) as con:
        known = known_files(con)
        days = stored_days(con)
    if move_files:
        notices += repair(settings, known)
    scanned = scan_inputs(listing.inputs, known, settings)
    parts = plan(scanned.new, scanned.scans, settings.memory_budget or default_budget())
    if len(parts) > 1 or executor is not None:
        notices += _NOT_SCORED if settings.anomaly_daily else []
        return _run_partitioned(
            _Day(scanned, parts, reference, settings, days, known, started),
            run_date=run_date,
            move_files=move_files,
            notices=notices,
            on_stage=on_stage,
            executor=executor or in_process,
        )
    clock = time.perf_counter()
    results = read_inputs(scanned.new, scanned.scans, settings, progress)
    inputs = dataclasses.replace(scanned.inputs, results=results)
    if on_stage is not None:
        on_stage(
            "read",
            time.perf_counter() - clock,
            Frames(submissions=tuple(inputs.submissions)),
        )
    day = run_date or default_date(inputs.submissions)
    if not inputs.new:
        if move_files:
            moves = placements([], inputs.skipped, [], {}, known)
            notices += _place(settings, moves, day, days)
        files = file_rows([], [], inputs.skipped, None)
        empty = pl.DataFrame()
        counts = empty_counts()
        return RunResult(
            None, day, None, files, counts, empty, empty, notices=tuple(notices)
        )
    run_id = run_id_of(day, inputs.new, reference)
    ctx = RunContext(run_id, day, reference, settings, store_history(settings))
    done = run_stages(
        ctx, Frames(submissions=tuple(inputs.submissions)), on_stage=on_stage
    )
    clock = time.perf_counter()
    notices += unpriced_warnings(
        done.need("prices", done.prices), settings.max_unpriced_share
    )
    checked = validated(done)
    receipts = receipts_of(ctx, inputs, checked, done)
    frames = run_outputs(inputs, checked, done, receipts, run_id)
    manifest = manifest_of(ctx, inputs, checked.counts, frames, started)
    out = _store(ctx, frames, receipts.items(), manifest)
    if on_stage is not None:
        on_stage("write", time.perf_counter() - clock, done)
    if move_files:
        failed = {f.name: receipts[f.name] for f in inputs.failures}
        moves = placements(inputs.new, inputs.skipped, inputs.repeats, failed, known)
        notices += _place(settings, moves, day, days, run_id=run_id)
    result = _result(ctx, out, inputs, checked, done)
    notices += _score(ctx, result.decisions, on_stage, done)
    return dataclasses.replace(result, notices=tuple(notices))


def _score(
    ctx: RunContext, decisions: pl.DataFrame, on_stage: OnStage | None, done: Frames
) -> list[str]:
    """Score the run's months after its commit (``Settings.anomaly_daily``): stage
    ``score``."""
    if not ctx.settings.anomaly_daily or decisions.height == 0:
        return []
    clock = time.perf_counter()
    notices = score_run(ctx.settings, ctx.reference, decisions)
    if on_stage is not None:
        on_stage("score", time.perf_counter() - clock, done)
    return notices


_NOT_SCORED = [
    "a partitioned day is not scored for anomalies (a month's scores do not fit its "
    "memory budget): run `giamdinh anomalies run --period YYYY-MM` for its months"
]


@dataclass(frozen=True)
class _Day:
    """A partitioned run's inputs, plan and reference."""

    scanned: Scanned
    parts: list[Hashed]
    reference: Reference
    settings: Settings
    days: dict[str, str]
    known: dict[str, tuple[str, str]]
    started: float


def _run_partitioned(
    day: _Day,
    *,
    run_date: str | None,
    move_files: bool,
    notices: list[str],
    on_stage: OnStage | None,
    executor: Executor,
) -> RunResult:
    """The run in partitions (``claims.pipeline.partitions``): read and validate each,
    then the stages from pricing on with the day-wide index, then one commit."""
    settings, reference, parts = day.settings, day.reference, day.parts
    staging = Staging.of(settings, parts, reference)
    notices += [f"removed {p}, left by a run that died" for p in staging.sweep()]
    budget = settings.memory_budget or default_budget()
    notices += oversized(parts, day.scanned.scans, budget)
    reads = [staging.read(n) for n in range(len(parts))]
    scans = day.scanned.scans
    read_tasks = [ReadTask(settings, p, scans, reads[n]) for n, p in enumerate(parts)]
    executor(read_tasks, reference, on_stage)
    results = [r for folder in reads for r in load_inputs(folder, meta=True)]
    inputs = dataclasses.replace(day.scanned.inputs, results=results)
    run_day = run_date or default_date(inputs.submissions)
    run_id = run_id_of(run_day, inputs.new, reference)
    decided = [staging.decided(run_id, n) for n in range(len(parts))]
    clock = time.perf_counter()
    index = staging.index(reads)
    if on_stage is not None:
        on_stage("index", time.perf_counter() - clock, Frames())
    tasks = [
        DecideTask(
            settings,
            (run_id, run_day),
            (folder, (*index[:n], *index[n + 1 :])),
            decided[n],
            _finish,
            read_only=executor is not in_process,
        )
        for n, folder in enumerate(reads)
    ]
    executor(tasks, reference, on_stage)
    ctx = RunContext(run_id, run_day, reference, settings)
    clock = time.perf_counter()
    result, receipts = _commit_parts(ctx, inputs, reads, decided, day.started)
    if on_stage is not None:
        on_stage("write", time.perf_counter() - clock, Frames())
    staging.remove()
    notices += result.notices
    if move_files:
        failed = {f.name: receipts[f.name] for f in inputs.failures}
        moves = placements(
            inputs.new, inputs.skipped, inputs.repeats, failed, day.known
        )
        notices += _place(settings, moves, run_day, day.days, run_id=run_id)
    return dataclasses.replace(result, notices=tuple(notices))


def _finish(
    ctx: RunContext, part: ReadPart, done: Frames
) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
    """A decided partition's run outputs and receipts, as a one-batch run makes them."""
    receipts = receipts_of(ctx, part.inputs, part.checked, done)
    return run_outputs(part.inputs, part.checked, done, receipts, ctx.run_id), receipts


_STORE_TABLES = ("claims", "quarantine", "claim_status")
"""The run outputs a partitioned run appends to the store's tables from Parquet."""


def _commit_parts(
    ctx: RunContext,
    inputs: Inputs,
    reads: list[Path],
    decided: list[Path],
    started: float,
) -> tuple[RunResult, dict[str, dict[str, Any]]]:
    """Write the run folder from the parts (streamed, in partition order) and commit
    it; returns the run's result (its frames read back) and every receipt."""
    names = sorted(p.stem for p in decided[0].glob("*.parquet"))
    files = {n: [d / f"{n}.parquet" for d in decided] for n in names}
    lazy = {n: pl.scan_parquet(f) for n, f in files.items()}
    counts = (
        pl.concat([pl.read_parquet(r / "counts.parquet") for r in reads])
        .group_by("table", maintain_order=True)
        .sum()
    )
    manifest = manifest_of(ctx, inputs, counts, lazy, started)
    # the store appends from the parts' Parquet (DuckDB streams it) and the receipts
    # are written one part at a time: the commit holds no frame of the whole day
    stored: dict[str, pl.DataFrame | Sequence[Path]] = {
        n: files[n] for n in ("submissions", *_STORE_TABLES)
    }
    out = _store(ctx, dict(lazy), _part_receipts(decided), manifest, stored)
    statuses = lazy["claim_status"].select("file_id", "status").collect()
    files_frame = file_rows(
        inputs.submissions,
        inputs.failures,
        inputs.skipped + inputs.repeats,
        Validated({}, pl.DataFrame(), statuses, counts),
    )
    reasons = (
        lazy["quarantine"]
        .group_by("table", "reason_code")
        .len("entries")
        .sort("entries", "table", "reason_code", descending=[True, False, False])
        .collect()
    )
    priced = lazy["prices"].select("catalog", "reason_code").collect()
    result = RunResult(
        ctx.run_id,
        ctx.run_date,
        out,
        files_frame,
        counts,
        statuses,
        reasons,
        lazy["assessments"].select(*CLAIM_KEYS, "outcome").collect(),
        lazy["rule_hits"]
        .select("rule_id", "action", "outcome", "reason_code")
        .collect(),
        lazy["decisions"].select(*CLAIM_KEYS, *_DECISION_TALLY).collect(),
        notices=tuple(unpriced_warnings(priced, ctx.settings.max_unpriced_share)),
    )
    failed = {f.name for f in inputs.failures}
    receipts = {n: r for n, r in _part_receipts(decided) if n in failed}
    return result, receipts


_DECISION_TALLY = (
    "outcome",
    "period",
    "claimed_t_bhtt",
    "accepted_t_bhtt",
    "rejected_amount",
)
"""The columns of a partitioned run's result ``decisions`` (what the CLI tallies)."""


def _part_receipts(decided: list[Path]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every receipt of the parts, one part read at a time."""
    for folder in decided:
        text = (folder / "receipts.json").read_text(encoding="utf-8")
        yield from json.loads(text).items()


def _lock_notices(lock: Lock, listing: Listing) -> list[str]:
    notices = [
        f"{p.name} left in the inbox: not a .xml file nor a bulk folder"
        for p in listing.ignored
    ]
    if lock.took_over is not None:
        notices.append(
            f"took over the store's lock from {lock.took_over.describe()}, "
            "which ended without releasing it"
        )
    if not listing.inputs:
        notices.append("the inbox is empty: no .xml file or bulk folder to read")
    return notices


def _store(
    ctx: RunContext,
    frames: Mapping[str, pl.DataFrame | pl.LazyFrame],
    receipts: Iterable[tuple[str, dict[str, Any]]],
    manifest: dict[str, Any],
    stored: Mapping[str, pl.DataFrame | Sequence[Path]] | None = None,
) -> Path:
    """Write the run folder, then commit the run; a failed commit removes the folder.

    ``stored``: what the store's tables get (default: ``frames``, which are then
    DataFrames; a partitioned run passes its parts' Parquet files)."""
    settings = ctx.settings
    out = write_run_dir(
        settings.runs_dir,
        ctx.run_date,
        ctx.run_id,
        {k: public_form(v) for k, v in frames.items()},
        itertools.chain(
            [("manifest.json", manifest)],
            ((f"receipts/{n}.json", r) for n, r in receipts),
        ),
    )
    run_row = pl.DataFrame(
        {
            "run_id": [ctx.run_id],
            "run_date": [ctx.run_date],
            "manifest": [json.dumps(manifest, sort_keys=True)],
        }
    )
    crash_point("after-run-dir")
    try:
        with open_store(settings.store_path) as con:
            store_run(con, stored or _eager(frames), run_row, settings.runs_dir)
    except BaseException:
        discard_run_dir(out)
        raise
    crash_point("after-commit")
    return out


def _place(
    settings: Settings,
    moves: list[Any],
    day: str,
    days: dict[str, str],
    *,
    run_id: str | None = None,
) -> list[str]:
    """Place the inputs (a file stored earlier under its run's date, as a clean run
    would); a write failure says the run is stored and how to finish."""
    try:
        return place(settings, moves, day, days)
    except OSError as exc:
        stored = f"run {run_id} is stored" if run_id else "nothing new was stored"
        msg = (
            f"{stored}, but the inputs could not all be moved out of the inbox: {exc}. "
            "Run again once the cause is fixed: stored files are only placed, not "
            "read again"
        )
        raise PlacementError(msg) from exc


def _result(
    ctx: RunContext, out: Path, inputs: Inputs, checked: Validated, done: Frames
) -> RunResult:
    assessed = done.need("assessment", done.assessment)
    files = file_rows(
        inputs.submissions, inputs.failures, inputs.skipped + inputs.repeats, checked
    )
    reasons = (
        checked.quarantine.group_by("table", "reason_code")
        .len("entries")
        .sort("entries", "table", "reason_code", descending=[True, False, False])
    )
    return RunResult(
        ctx.run_id,
        ctx.run_date,
        out,
        files,
        checked.counts,
        checked.claims,
        reasons,
        assessed.claims,
        assessed.hits,
        done.need("decisions", done.decisions).claims,
    )


def _eager(
    frames: Mapping[str, pl.DataFrame | pl.LazyFrame],
) -> dict[str, pl.DataFrame]:
    return {k: v for k, v in frames.items() if isinstance(v, pl.DataFrame)}
