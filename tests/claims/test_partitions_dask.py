"""A day's partitions as Dask tasks equal the single-process run (issue 14, item 5).

The same small generated day, with the same memory budget (a partition per input), run
in this process and as tasks of a 2-worker ``LocalCluster`` (by its address, and by
``scheduler=None``, which starts a cluster of its own): the decisions are
byte-identical Parquet, every other run output, the receipts, the manifest and the
store's tables equal.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from distributed import LocalCluster

from claims.pipeline.context import Reference
from claims.synthetic import generate
from tests.claims.partruns import Ran, assert_same_run, run_day

pytestmark = pytest.mark.e2e  # the cluster's workers are processes

FACILITIES = 3


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as started:  # type: ignore[no-untyped-call]
        yield started


@dataclass(frozen=True)
class Day:
    inbox: Path
    local: Ran
    """The single-process partitioned run."""


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory, reference: Reference) -> Day:
    root = tmp_path_factory.mktemp("dask")
    inbox = root / "inbox"
    generate(
        inbox, claims=120, facilities=FACILITIES, seed=33, fmt="xml", error_rate=0.3
    )
    local = run_day(inbox, root / "local", reference, memory_budget=1)
    assert local.reads == FACILITIES
    return Day(inbox, local)


def _assert_same_as_local(day: Day, ran: Ran) -> None:
    decisions = [r.run_dir / "decisions.parquet" for r in (day.local, ran)]
    assert decisions[0].read_bytes() == decisions[1].read_bytes()
    assert_same_run(day.local, ran)
    # the workers' stage timings come back: every stage of every partition, once
    assert sorted(ran.stages) == sorted(day.local.stages)
    assert ran.stages.count("features") == FACILITIES


def test_partitions_on_a_cluster_equal_the_single_process_run(
    tmp_path: Path, day: Day, reference: Reference, cluster: LocalCluster
) -> None:
    ran = run_day(
        day.inbox,
        tmp_path / "data",
        reference,
        memory_budget=1,
        engine="dask",
        scheduler=cluster.scheduler_address,
    )
    # the partitions ran on the cluster: read and decide tasks, one per partition
    prefix = cluster.scheduler.task_prefixes.get("remote")  # type: ignore[union-attr]
    assert prefix is not None
    assert sum(prefix.state_counts.values()) >= 2 * FACILITIES
    _assert_same_as_local(day, ran)


def test_partitions_on_a_local_cluster_of_their_own_equal_the_single_process_run(
    tmp_path: Path, day: Day, reference: Reference
) -> None:
    ran = run_day(
        day.inbox,
        tmp_path / "data",
        reference,
        memory_budget=1,
        engine="dask",
        scheduler=None,
    )
    _assert_same_as_local(day, ran)
