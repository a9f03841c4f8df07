"""``giamdinh bench national-day``: every stage of a peak day, its baselines, one JSON.

:func:`national_day` generates (or reuses) the day (:mod:`claims.bench.day`) and, in this
process, measures:

1. the daily run on the bulk day (``run_inbox``, a fresh data folder, the memory budget
   when the engine has one): seconds and peak RSS per stage (``validate`` … ``decide``,
   ``write``), its wall time and peak RSS (:mod:`claims.bench.measure`);
2. ``settle``: the period's settlement from that store, as ``giamdinh settle run``
   computes it, timed without writing it;
3. ``ingest``: the daily run reading the XML slice, per detail line, applied to the
   day's lines (the bulk day is read from Parquet, which a national day is not);
4. one sample batch of the day through every stage, and the baselines on it
   (:mod:`claims.bench.baselines`: lxml, DuckDB, rule-engine), as ratios;
5. with ``workers_compare``, the day again on Dask at 1 and 2 local workers
   (:mod:`claims.bench.workers`).

``total_seconds`` is the ingest estimate plus every stage after reading, settle
included: the day from XML to settlement on this machine.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from claims.bench.day import BULK_CLAIMS, Day, prepare_day, sample_inbox
from claims.bench.machine import RssSampler, git_commit, machine, status_bytes
from claims.bench.measure import (
    DayRun,
    read_xml_slice,
    run_day,
    run_sample,
    settle_from_store,
)
from claims.config import Settings
from claims.pipeline import Reference

RATIOS = (
    "ingest_vs_lxml",
    "pricing_vs_duckdb",
    "rules_vs_rule_engine",
    "rules_vs_duckdb",
    "pay_vs_duckdb",
    "settle_vs_duckdb",
)
"""The ratios a result always carries (ours ÷ theirs in throughput; None: not run)."""
SAMPLE = 20_000
"""Claims of the sample batch the baselines compare on (default)."""
WORKERS_UP_TO = 200_000
"""``workers_compare`` defaults to on up to this many claims."""


class Progress(Protocol):
    """Where the benchmark tells what it is doing (``claims.bench.report.Steps``)."""

    def step(self, text: str) -> Any: ...
    def log(self, text: str) -> None: ...


class Quiet:
    """A :class:`Progress` that shows nothing."""

    @contextmanager
    def step(self, text: str) -> Iterator[None]:  # noqa: ARG002 - shows nothing
        yield

    def log(self, text: str) -> None:
        pass


@functools.cache
def _reference(pack_id: str) -> Reference:
    """The built-in catalogs and the pack's released versions, loaded once per process
    (a second benchmark in one process, as in the tests, reuses them)."""
    return Reference.load(None, pack_id)


def default_cache() -> Path:
    """Where generated days are kept by default: under the system's temp folder."""
    return Path(tempfile.gettempdir()) / "giamdinh-bench-national"


def national_day(
    claims: int,
    *,
    seed: int = 7,
    memory_budget: int | None = None,
    cache: Path | None = None,
    workers_compare: bool | None = None,
    sample: int = SAMPLE,
    facilities: int | None = None,
    folder_claims: int = BULK_CLAIMS,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run the benchmark on a day of ``claims`` claims; every figure, as JSON values.

    Args:
        claims: claims of the day (N).
        seed: the generator's seed.
        memory_budget: bytes the daily run may use (passed as
            ``Settings.memory_budget`` once the engine has it; None: its default).
        cache: where days are generated and kept (default :func:`default_cache`).
        workers_compare: run the day on Dask at 1 and 2 workers (None: when ``claims``
            ≤ :data:`WORKERS_UP_TO`).
        sample: claims of the sample batch the baselines run on.
        facilities: facilities sending (None: every one of the built-in catalog open
            on the day, up to 13,000).
        folder_claims: claims per bulk folder of the day (whole facilities): the
            daily run's partitions are groups of whole folders.
        progress: where the steps are shown (default: nowhere).
    """
    shown = progress or Quiet()
    load_at_start = list(os.getloadavg())
    with shown.step(f"the day: {claims:,} claims (generated once, then cached)"):
        day = prepare_day(
            cache or default_cache(), claims, seed, facilities, folder_claims
        )
    shown.log(f"day: {day.folder} ({day.lines:,} lines)")
    reference = _reference(Settings().pack_id)
    work = Path(tempfile.mkdtemp(prefix="work-", dir=day.folder))
    compare = claims <= WORKERS_UP_TO if workers_compare is None else workers_compare
    try:
        with RssSampler() as rss:
            result = _measure(day, reference, work, rss, memory_budget, sample, shown)
        result |= _workers(
            day, reference, work, memory_budget, compare=compare, shown=shown
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["peak_rss_bytes"] = max(status_bytes("VmHWM"), rss.peak)
    result["machine"]["load_average_at_start"] = load_at_start
    return result


def _measure(
    day: Day,
    reference: Reference,
    work: Path,
    rss: RssSampler,
    budget: int | None,
    sample: int,
    shown: Progress,
) -> dict[str, Any]:
    with shown.step("the daily run on the day (bulk Parquet)"):
        ran = run_day(day, reference, work, rss, budget)
    with shown.step(f"settling {ran.period} from the store"):
        settled = settle_from_store(ran.settings, ran.period, rss)
    shutil.rmtree(ran.settings.data_dir, ignore_errors=True)
    with shown.step(f"reading the XML slice ({len(day.xml_files):,} files)"):
        xml = read_xml_slice(day, reference, work, rss)
    with shown.step(f"one sample batch of {sample:,} claims through every stage"):
        batch = run_sample(sample_inbox(day, sample), reference, work, ran.period)
    with shown.step("baselines on the sample (lxml, DuckDB, rule-engine)"):
        baselines = _baselines(day, batch, xml, sample)
    stages = _stages(day, ran, xml, settled)
    return {
        "claims": day.claims,
        "lines": day.lines,
        "total_seconds": sum(s["seconds"] for s in stages.values()),
        "stages": stages,
        "ratios": {
            name: baselines[name]["ratio"] if name in baselines else None
            for name in dict.fromkeys([*RATIOS, *baselines])
        },
        "baselines": baselines,
        "day": _day_figures(day, ran, settled),
        "xml_slice": xml,
        "sample": {
            "claims": batch.claims,
            "lines": batch.lines,
            "seconds": batch.seconds,
        },
        "seed": day.seed,
        "facilities": day.facilities,
        "bulk_folders": len(day.bulk_folders()),
        "memory_budget": _budget(ran.settings),
        "machine": machine(),
        "git_commit": git_commit(),
        "pid": os.getpid(),
    }


def _stages(
    day: Day, ran: DayRun, xml: dict[str, Any], settled: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Every stage from XML to settlement: ingest estimated from the XML slice, the
    others measured on the day; rows are the day's lines (XML2 + XML3)."""
    per_line = xml["seconds"] / xml["lines"] if xml["lines"] else 0.0
    stages = {
        "ingest": {
            "seconds": per_line * day.lines,
            "peak_rss_bytes": xml["peak_rss_bytes"],
            "estimated": "the XML slice's read seconds per line × the day's lines",
        }
    }
    for name, measured in ran.stages.items():
        if name != "read":  # the day is read from Parquet: ingest stands for it
            stages[name] = {
                "seconds": measured.seconds,
                "peak_rss_bytes": measured.peak_rss_bytes,
                "calls": measured.calls,
            }
    stages["settle"] = {
        "seconds": settled["seconds"],
        "peak_rss_bytes": settled["peak_rss_bytes"],
    }
    for figure in stages.values():
        seconds = figure["seconds"]
        figure["rows"] = "lines"
        figure["rows_per_s"] = day.lines / seconds if seconds else None
    return stages


def _day_figures(day: Day, ran: DayRun, settled: dict[str, Any]) -> dict[str, Any]:
    read = ran.stages.get("read")
    return {
        "date": day.summary["date"],
        "wall_seconds": ran.wall_seconds,
        "partitions": ran.stages["validate"].calls if "validate" in ran.stages else 0,
        "peak_rss_bytes": ran.peak_rss_bytes,
        "read_parquet_seconds": read.seconds if read else None,
        "decided_claims": ran.decided_claims,
        "counts": ran.counts,
        "settlement": settled,
        "rows_by_table": day.summary["day"],
        "faults": day.summary["faults"],
        "generator": day.summary["generator"],
        "generate_seconds": day.summary["generate_seconds"],
        "generated_now": day.generated_now,
        "folder": str(day.folder),
    }


def _budget(settings: Settings) -> int:
    """The memory budget the day's run had: the one asked for, else the engine's
    default."""
    from claims.pipeline.partitions import default_budget

    return settings.memory_budget or default_budget()


def _baselines(
    day: Day, batch: Any, xml: dict[str, Any], sample: int
) -> dict[str, dict[str, Any]]:
    """Each baseline's figures with its ratio (:func:`claims.bench.baselines.run_baselines`)."""
    from claims.bench.baselines import run_baselines

    found = run_baselines(
        batch.ctx,
        batch.done,
        batch.seconds,
        xml_slice=day.xml_files,
        ingest_lines_per_s=xml["lines_per_s"],
        sample=sample,
    )
    return {name: {**b.as_json(), "ratio": b.ratio} for name, b in found.items()}


def _workers(
    day: Day,
    reference: Reference,
    work: Path,
    budget: int | None,
    *,
    compare: bool,
    shown: Progress,
) -> dict[str, Any]:
    if not compare:
        return {"workers": None, "workers_note": "not asked (--no-workers-compare)"}
    from claims.bench.workers import compare_workers

    with shown.step("the day on Dask, 1 and 2 local workers"):
        seconds, note = compare_workers(day, reference, work, budget, shown.log)
    return {"workers": seconds, "workers_note": note}
