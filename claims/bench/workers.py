"""The day's run on Dask at 1 and 2 local workers (``run_inbox(..., engine="dask",
scheduler=ADDRESS)``), when the engine and ``dask.distributed`` are there.

Each run gets a ``LocalCluster`` of that many worker processes (one thread each) and a
fresh data folder; its wall time from ``run_inbox``'s call to its return is recorded.
Where the daily run has no Dask engine yet, or Dask is not installed, nothing runs and
the note says why; a Dask run that fails leaves the other figures standing, and the
note carries its error.
"""

from __future__ import annotations

import importlib
import inspect
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from claims.bench.day import Day
from claims.bench.measure import day_settings
from claims.pipeline import Reference, run_inbox

WORKERS = (1, 2)


def why_not() -> str | None:
    """Why the Dask runs cannot happen here (None: they can)."""
    if "engine" not in inspect.signature(run_inbox).parameters:
        return "the daily run has no Dask engine yet (run_inbox takes no engine=)"
    try:
        importlib.import_module("dask.distributed")
    except ImportError:
        return "dask.distributed is not installed"
    return None


def compare_workers(
    day: Day,
    reference: Reference,
    work: Path,
    budget: int | None,
    log: Callable[[str], None],
) -> tuple[dict[str, float] | None, str]:
    """Seconds of the day's run on 1 and 2 local Dask workers, and a note."""
    reason = why_not()
    if reason is not None:
        return None, reason
    distributed: Any = importlib.import_module("dask.distributed")
    run: Any = run_inbox  # engine= and scheduler= are checked for above
    seconds: dict[str, float] = {}
    for workers in WORKERS:
        data = work / f"dask-{workers}"
        try:
            with distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True
            ) as cluster:
                started = time.perf_counter()
                run(
                    day.bulk_inbox,
                    settings=day_settings(data, budget),
                    move_files=False,
                    reference=reference,
                    engine="dask",
                    scheduler=cluster.scheduler_address,
                )
                seconds[str(workers)] = time.perf_counter() - started
        except Exception as exc:  # the other figures stand; the note says why
            return None, f"the Dask run with {workers} worker(s) failed: {exc!r}"
        finally:
            shutil.rmtree(data, ignore_errors=True)
        log(f"dask, {workers} worker(s): {seconds[str(workers)]:.1f} s")
    note = (
        "wall time of run_inbox(engine='dask') on a LocalCluster of 1 and 2 worker "
        "processes (one thread each), fresh data folder each"
    )
    return seconds, note
