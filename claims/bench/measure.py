"""What the national-day benchmark times: the daily run on the day, reading the XML
slice, the period's settlement from the store, and one sample batch for the baselines.

Every run is the product's own: ``claims.pipeline.run_inbox`` (timed per stage through
``on_stage``; a partitioned run reports each stage once per partition, and the seconds
are added up, the peak RSS is the highest), ``claims.pipeline.run_stages`` and
``claims.settle.settle``. Peak RSS per stage comes from :class:`RssSampler` windows
closed at each ``on_stage`` call. Each run writes into a fresh data folder of its own.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from claims.bench.day import LINE_TABLES, Day
from claims.bench.machine import RssSampler
from claims.config import Settings
from claims.money import MONEY
from claims.pipeline import Frames, Reference, RunContext, run_inbox, run_stages

SETTLE_ORDER = (["ma_cskcb", "ma_lk", "file_id", "hoso_idx"], ["file_id", "hoso_idx"])
"""How the store hands a period's decisions to the settlement (``current_decisions``):
decisions by facility, MA_LK, file and claim; lines and reasons by claim."""


@dataclass
class Figure:
    """One stage's time (summed over partitions) and peak RSS (the highest)."""

    seconds: float = 0.0
    peak_rss_bytes: int = 0
    calls: int = 0

    def add(self, seconds: float, peak: int) -> None:
        self.seconds += seconds
        self.peak_rss_bytes = max(self.peak_rss_bytes, peak)
        self.calls += 1


@dataclass
class StageClock:
    """An ``on_stage`` callback: seconds and peak RSS per stage name (the RSS window
    closes at each call, so it covers the stage that just ended)."""

    rss: RssSampler
    stages: dict[str, Figure] = field(default_factory=dict)
    read_lines: int = 0
    """XML2 + XML3 rows of the submissions ``read`` reported."""
    read_claims: int = 0
    stop_after_read: bool = False

    def __call__(self, name: str, seconds: float, frames: Frames) -> None:
        self.stages.setdefault(name, Figure()).add(seconds, self.rss.mark())
        if name == "read":
            for sub in frames.submissions:
                self.read_lines += sum(sub.tables[t].height for t in LINE_TABLES)
                self.read_claims += sub.tables["XML1"].height
            if self.stop_after_read:
                raise _ReadDone


class _ReadDone(Exception):
    """Raised by a clock that measures reading only, to end the run there."""


def day_settings(data_dir: Path, memory_budget: int | None) -> Settings:
    """Settings of a benchmark run: its own data folder and the memory budget (None:
    the engine's default, half the machine's memory). The day's stages only: no
    anomaly scoring after the commit (a partitioned day has none either)."""
    return Settings(data_dir=data_dir, memory_budget=memory_budget, anomaly_daily=False)


FILES_PER_READ = 1_000
"""The XML slice is read by runs of at most this many files: reading keeps about
1.8 MB per file however small (15 tables of empty or few rows), so a run over the
10,609 files of a 50,000-claim slice was OOM-killed at 16.7 GB."""


def read_xml_slice(
    day: Day, reference: Reference, work: Path, rss: RssSampler
) -> dict[str, Any]:
    """Seconds and lines of the daily run reading the XML slice (``read``), by runs of
    at most :data:`FILES_PER_READ` files (each in a fresh data folder; times and lines
    added up, the highest peak RSS).

    Each run stops once ``read`` is reported: only reading is measured here (the stages
    are measured on the bulk day). A partitioned run stops after its first partition's
    read; the lines counted are those it read, so the rate holds either way.
    """
    clock = StageClock(rss, stop_after_read=True)
    files = day.xml_files
    for start in range(0, len(files), FILES_PER_READ):
        inbox = work / "xml-inbox"
        inbox.mkdir()
        for path in files[start : start + FILES_PER_READ]:
            (inbox / path.name).symlink_to(path)
        rss.mark()
        with suppress(_ReadDone):
            run_inbox(
                inbox,
                settings=day_settings(work / "xml-data", None),
                move_files=False,
                reference=reference,
                on_stage=clock,
            )
        shutil.rmtree(inbox)
        shutil.rmtree(work / "xml-data", ignore_errors=True)
    read = clock.stages["read"]
    return {
        "seconds": read.seconds,
        "lines": clock.read_lines,
        "claims": clock.read_claims,
        "files": len(files),
        "runs": read.calls,
        "files_per_run": FILES_PER_READ,
        "lines_per_s": clock.read_lines / read.seconds if read.seconds else None,
        "peak_rss_bytes": read.peak_rss_bytes,
    }


@dataclass(frozen=True)
class DayRun:
    """What the daily run on the bulk day measured."""

    stages: dict[str, Figure]
    wall_seconds: float
    peak_rss_bytes: int
    settings: Settings
    period: str
    decided_claims: int
    counts: list[dict[str, Any]]


def run_day(
    day: Day, reference: Reference, work: Path, rss: RssSampler, budget: int | None
) -> DayRun:
    """The daily run on the bulk day (``move_files=False``), each stage timed."""
    settings = day_settings(work / "day-data", budget)
    clock = StageClock(rss)
    rss.mark()
    started = time.perf_counter()
    result = run_inbox(
        day.bulk_inbox,
        settings=settings,
        move_files=False,
        reference=reference,
        on_stage=clock,
    )
    wall = time.perf_counter() - started
    peak = max([rss.mark(), *(f.peak_rss_bytes for f in clock.stages.values())])
    period, decided = _main_period(settings)
    return DayRun(
        clock.stages, wall, peak, settings, period, decided, result.counts.to_dicts()
    )


def _main_period(settings: Settings) -> tuple[str, int]:
    """The period most of the stored decisions declare, and how many claims were
    decided (read from the store: a partitioned run need not hand them back)."""
    from claims.store import open_store

    with open_store(settings.store_path, read_only=True) as con:
        rows = con.sql(
            "SELECT period, count(*) FROM decisions WHERE period IS NOT NULL "
            "GROUP BY period ORDER BY count(*) DESC, period LIMIT 1"
        ).fetchall()
        decided = con.sql("SELECT count(*) FROM decisions").fetchall()
    if not rows:
        msg = f"the day's run stored no decision with a period in {settings.data_dir}"
        raise RuntimeError(msg)
    return str(rows[0][0]), int(decided[0][0])


@contextmanager
def _timed(into: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    into[name] = time.perf_counter() - started


def settle_from_store(
    settings: Settings, period: str, rss: RssSampler
) -> dict[str, Any]:
    """The period's settlement as ``giamdinh settle run`` computes it (the store's
    current decisions, advances, carried-in balances and kept quarantine amounts), then
    its reconciliation; only ``settle`` + ``reconcile`` are timed (reading the store is
    reported apart). Nothing is written: no folder, no posting."""
    from claims.settle import earlier, months_of, reconcile, settle
    from claims.store import (
        advance_balances,
        advances_for,
        current_decisions,
        ledger_periods,
        open_store,
        quarantined_amounts,
    )

    seconds: dict[str, float] = {}
    rss.mark()
    with (
        _timed(seconds, "read"),
        open_store(settings.store_path, read_only=True) as con,
    ):
        months = months_of(period)
        decisions, lines, reasons = current_decisions(con, months, None)
        advances = advances_for(con, [period, *months], None)
        carried = advance_balances(con, earlier(period, ledger_periods(con)), None)
        amounts = quarantined_amounts(con, decisions)
    read_peak = rss.mark()
    with _timed(seconds, "settle"):
        settlement = settle(
            decisions,
            lines,
            reasons,
            advances,
            period=period,
            carried_in=carried,
            amounts=amounts,
        )
        reconcile(settlement.frames)
    return {
        "seconds": seconds["settle"],
        "read_seconds": seconds["read"],
        "period": period,
        "claims": decisions.height,
        "lines": lines.height,
        "groups": settlement.frames["groups"].height,
        "peak_rss_bytes": rss.mark(),
        "read_peak_rss_bytes": read_peak,
    }


@dataclass(frozen=True)
class SampleRun:
    """One batch of the day through every stage, as the baselines compare with it."""

    ctx: RunContext
    done: Frames
    seconds: dict[str, float]
    """Per stage (``validate`` … ``decide``) and ``settle``."""
    claims: int
    lines: int


def run_sample(inbox: Path, reference: Reference, work: Path, day: str) -> SampleRun:
    """Read the sample's bulk folder, run every stage on it with a context without
    history (``run_stages``, timed by ``on_stage``), and settle its decisions."""
    from claims.intake import Submission, read_submission

    folder = next(p for p in sorted(inbox.iterdir()) if p.is_dir())
    read = read_submission(folder, max_bytes=1 << 40)
    if not isinstance(read, Submission):
        msg = f"the sample {folder} could not be read: {read.message}"
        raise RuntimeError(msg)
    settings = day_settings(work / "sample-data", None)
    ctx = RunContext("bench-sample", day, reference, settings)
    seconds: dict[str, float] = {}
    done = run_stages(
        ctx,
        Frames(submissions=(read,)),
        on_stage=lambda name, spent, _f: seconds.__setitem__(name, spent),
    )
    seconds["settle"] = _settle_batch(done)
    lines = sum(read.tables[t].height for t in LINE_TABLES)
    return SampleRun(ctx, done, seconds, read.tables["XML1"].height, lines)


def _settle_batch(done: Frames) -> float:
    """Seconds settling a batch's decisions of its main period (ordered as the store
    hands them over, no advances, no kept quarantine amounts)."""
    from claims.settle import reconcile, settle

    decided = done.need("decisions", done.decisions)
    period = str(decided.claims["period"].drop_nulls().mode().sort()[0])
    decisions = decided.claims.filter(pl.col("period") == period).sort(SETTLE_ORDER[0])
    keys = decisions.select(SETTLE_ORDER[1])
    lines = decided.lines.join(keys, on=SETTLE_ORDER[1], how="semi").sort(
        "file_id", "hoso_idx", "table", "line_no"
    )
    reasons = decided.reasons.join(keys, on=SETTLE_ORDER[1], how="semi")
    advances = pl.DataFrame(schema={"ma_cskcb": pl.String(), "amount": MONEY})
    started = time.perf_counter()
    settlement = settle(decisions, lines, reasons, advances, period=period)
    reconcile(settlement.frames)
    return time.perf_counter() - started
