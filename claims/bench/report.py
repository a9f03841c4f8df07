"""How the national-day benchmark shows itself: progress of its long steps (stderr) and
its figures as tables (stdout)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from rich.console import Console, Group
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table


class Steps:
    """Progress of the benchmark's steps, one line each with its elapsed time, on
    stderr (or on ``console``)."""

    def __init__(self, console: Console | None = None) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
        )

    def __enter__(self) -> Steps:
        self.progress.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.progress.stop()

    @contextmanager
    def step(self, text: str) -> Iterator[None]:
        """A step shown while it runs, ticked when it ends."""
        task = self.progress.add_task(text, total=1)
        yield
        self.progress.update(task, completed=1)

    def log(self, text: str) -> None:
        """A line above the progress display."""
        self.progress.console.print(text, highlight=False)


def _gb(size: object) -> str:
    return f"{size / 1e9:.2f} GB" if isinstance(size, int | float) and size else "—"


def _rate(rate: object) -> str:
    return f"{rate:,.0f}" if isinstance(rate, int | float) else "—"


def stages_table(result: Mapping[str, Any]) -> Table:
    """Seconds, rows/s and peak RSS per stage, then the totals."""
    table = Table(
        title=f"national day: {result['claims']:,} claims, {result['lines']:,} lines",
        caption="ingest: the XML slice's read rate applied to the day's lines; the "
        "other stages measured on the day; rows/s are lines/s",
    )
    for column in ("stage", "seconds", "rows/s", "peak RSS"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for name, figure in result["stages"].items():
        table.add_row(
            name,
            f"{figure['seconds']:.2f}",
            _rate(figure["rows_per_s"]),
            _gb(figure["peak_rss_bytes"]),
        )
    table.add_section()
    table.add_row("total (ingest + stages)", f"{result['total_seconds']:.2f}", "", "")
    day = result["day"]
    table.add_row(
        "the day's run, wall (from Parquet)",
        f"{day['wall_seconds']:.2f}",
        "",
        _gb(day["peak_rss_bytes"]),
    )
    table.add_row("whole process", "", "", _gb(result["peak_rss_bytes"]))
    return table


def ratios_table(result: Mapping[str, Any]) -> Table:
    """Ours ÷ theirs in throughput, per baseline (above 1: ours is faster)."""
    table = Table(title="baselines (ours ÷ theirs in throughput)")
    table.add_column("ratio")
    table.add_column("value", justify="right")
    for name, ratio in result["ratios"].items():
        table.add_row(name, "—" if ratio is None else f"{ratio:,.2f}×")
    return table


def workers_table(result: Mapping[str, Any]) -> Table:
    """The Dask runs' seconds per number of local workers, or why there are none."""
    table = Table(title="Dask local workers", caption=result.get("workers_note"))
    table.add_column("workers")
    table.add_column("seconds", justify="right")
    for workers, seconds in (result.get("workers") or {}).items():
        table.add_row(workers, f"{seconds:.2f}")
    return table


def report(result: Mapping[str, Any]) -> Group:
    """Every table of a result."""
    return Group(stages_table(result), ratios_table(result), workers_table(result))
