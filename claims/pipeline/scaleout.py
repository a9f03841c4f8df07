"""A day's partitions as tasks on a Dask cluster (``giamdinh run --engine dask``).

The partitioned run (``claims.pipeline.partitions``) is already a list of independent
tasks per step: each reads its inputs and the staging folder and writes its own part.
Here they are submitted to a ``dask.distributed`` scheduler (``--scheduler ADDRESS``; a
``LocalCluster`` of one worker process per core when none is given) and gathered; the
commit stays in the calling process, under the store's writer lock; the seconds of each
stage a worker ran come back with its task (the caller's ``on_stage`` hears them then,
without the frames). Workers load the
reference data themselves, once per process, from the same settings (the catalogs and
packs of ``--catalog-dir`` and ``pack_id``): the tasks ship paths, not data. A worker
must see the data folder and the inputs at the same paths (a shared file system).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from claims.errors import ConfigError
from claims.pipeline.context import Reference
from claims.pipeline.partitions import Executor, Task
from claims.pipeline.stages import Frames, OnStage


@functools.lru_cache(maxsize=4)
def _reference(catalog_dir: Path | None, pack_id: str, pack: str | None) -> Reference:
    return Reference.load(catalog_dir, pack_id, pack)


def remote(task: Task) -> tuple[Any, list[tuple[str, float]]]:
    """A task as a worker runs it: with the reference its settings (and pin) name.
    Returns its result and the seconds of each stage it ran, in order (the caller's
    ``on_stage`` hears them when the task comes back; the frames stay on the worker)."""
    settings = task.settings
    stages: list[tuple[str, float]] = []

    def heard(name: str, seconds: float, _frames: Frames) -> None:
        stages.append((name, seconds))

    reference = _reference(settings.catalog_dir, settings.pack_id, task.pack)
    return task.run(reference, heard), stages


@contextmanager
def dask_executor(
    scheduler: str | None, workers: int | None = None
) -> Iterator[Executor]:
    """An executor on the scheduler at ``scheduler``, or on a local cluster of
    ``workers`` processes (default: one per core)."""
    from dask.distributed import Client, LocalCluster

    # the cluster's own chatter (a worker killed at shutdown) is not the run's news
    logging.getLogger("distributed").setLevel(logging.ERROR)

    def run(
        tasks: Sequence[Task], _reference: Reference, on_stage: OnStage | None
    ) -> list[Any]:
        futures = client.map(remote, list(tasks), pure=False)
        done: list[tuple[Any, list[tuple[str, float]]]] = client.gather(futures)
        if on_stage is not None:
            for name, seconds in (s for _, stages in done for s in stages):
                on_stage(name, seconds, Frames())
        return [result for result, _ in done]

    try:
        if scheduler is None:
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )  # type: ignore[no-untyped-call]
            with cluster, Client(cluster) as client:  # type: ignore[no-untyped-call]
                yield run
        else:
            with Client(scheduler, timeout=30) as client:  # type: ignore[no-untyped-call]
                yield run
    except OSError as exc:
        msg = f"cannot reach the Dask scheduler {scheduler!r}: {exc}"
        raise ConfigError(msg) from exc
