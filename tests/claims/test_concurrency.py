"""Two writers on one store (issue 12, items 1 and 6): two ``giamdinh run`` processes on
one inbox, or on two inboxes sharing files, store every file, claim version and run
once, the same claims as one clean run; a second store of the same file is refused even
by a writer that bypasses the lock; a settlement started during a run ends with the
totals of a settlement after a clean run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from claims.config import Settings
from claims.pipeline import daily
from claims.pipeline.context import Reference
from claims.pipeline.daily import RunResult, run_inbox
from claims.store import AlreadyStored, StoreError, open_store, store_run, writer_lock
from claims.store import runs as store_runs
from claims.store.lock import LOCK_NAME
from tests.conftest import store_snapshot

pytestmark = pytest.mark.e2e

DAY = "2026-10-15"
PERIOD = "2026-10"
POSTED_AT = "2026-11-01T07:00:00+00:00"
CLI = "from claims.cli.app import app; app()"


@dataclass(frozen=True)
class Day:
    """A small generated day (4 facility files and a refused file), run once into a
    clean store and settled there."""

    folder: Path
    clean: Settings
    run_id: str
    settlement_id: str
    facilities: pl.DataFrame
    """The clean settlement's totals per facility."""

    @property
    def files(self) -> list[Path]:
        return sorted(self.folder.iterdir())

    def inbox(self, to: Path, names: list[str] | None = None) -> Path:
        """A copy of the day (or of the files ``names``) at ``to``."""
        to.mkdir(parents=True)
        for path in self.files:
            if names is None or path.name in names:
                shutil.copyfile(path, to / path.name)
        return to


def _run(
    inbox: Path, settings: Settings, reference: Reference, **kwargs: Any
) -> RunResult:
    """``run_inbox`` with the session's reference (loading it again costs seconds)."""
    return run_inbox(inbox, settings=settings, reference=reference, **kwargs)


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory, reference: Reference) -> Day:
    from claims.cli.settle import run_settlement
    from claims.synthetic import generate

    root = tmp_path_factory.mktemp("concurrency")
    folder = root / "day"
    generate(
        folder, claims=200, facilities=4, day=date.fromisoformat(DAY), seed=3,
        error_rate=0.3, fmt="xml",
    )  # fmt: skip
    (folder / "broken.xml").write_bytes(b"<GIAMDINHHS><THONGTINDONVI>")
    clean = Settings(data_dir=root / "clean")
    staged = root / "clean-inbox"
    shutil.copytree(folder, staged)
    result = _run(staged, clean, reference, run_date=DAY)
    assert result.run_id is not None
    settlement, _, _ = run_settlement(
        clean, PERIOD, None, excel=False, posted_at=POSTED_AT
    )
    return Day(
        folder,
        clean,
        result.run_id,
        settlement.settlement_id,
        settlement.frames["facilities"],
    )


# ---- processes


@dataclass
class Proc:
    """A ``giamdinh`` process with its output in files (read while it runs)."""

    popen: subprocess.Popen[bytes]
    log: Path
    ended: float = 0.0

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def stderr(self) -> str:
        """The error output, lines unwrapped."""
        text = self.log.with_suffix(".err").read_text(
            encoding="utf-8", errors="replace"
        )
        return " ".join(text.split())

    def wait(self, timeout: float = 300) -> int:
        code = self.popen.wait(timeout=timeout)
        self.ended = self.ended or time.monotonic()
        return code


def _start(log: Path, *args: str, env: dict[str, str] | None = None) -> Proc:
    with (
        log.with_suffix(".out").open("wb") as out,
        log.with_suffix(".err").open("wb") as err,
    ):
        popen = subprocess.Popen(
            [sys.executable, "-c", CLI, *args],
            stdout=out,
            stderr=err,
            env={**os.environ, "COLUMNS": "250", **(env or {})},
        )
    return Proc(popen, log)


def _run_cmd(log: Path, inbox: Path, data: Path) -> Proc:
    return _start(
        log, "run", "--date", DAY, "--inbox", str(inbox), "--data-dir", str(data)
    )


def _until(check: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _end_all(procs: list[Proc]) -> list[int]:
    """Wait for every process, noting when each ended."""
    codes: dict[int, int] = {}
    deadline = time.monotonic() + 300
    while len(codes) < len(procs):
        for n, proc in enumerate(procs):
            if n not in codes and (code := proc.popen.poll()) is not None:
                proc.ended = time.monotonic()
                codes[n] = code
        assert time.monotonic() < deadline, "a giamdinh process did not end"
        time.sleep(0.02)
    return [codes[n] for n in range(len(procs))]


def _says(proc: Proc, text: str) -> Callable[[], bool]:
    return lambda: text in proc.stderr


def _race(tmp_path: Path, inboxes: list[Path], data: Path) -> list[Proc]:
    """Start one ``giamdinh run`` per inbox on ``data`` while this test holds the
    store's lock; release it once every one of them waits for it."""
    me = f"pid {os.getpid()} (test"
    procs: list[Proc] = []
    try:
        with writer_lock(data, "test", wait=0):
            procs += [
                _run_cmd(tmp_path / f"run{n}", inbox, data)
                for n, inbox in enumerate(inboxes)
            ]
            for proc in procs:
                _until(_says(proc, me), f"run {proc.pid} to wait for the lock")
    except BaseException:
        _stop(procs)
        raise
    _end_all(procs)
    return procs


def _stop(procs: list[Proc]) -> None:
    """End the processes of a test that failed before they did."""
    for proc in procs:
        if proc.popen.poll() is None:
            proc.popen.kill()
        proc.popen.wait(timeout=60)


# ---- what the store holds


def _sql(settings: Settings, query: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(settings.store_path), read_only=True) as con:
        return con.execute(query).fetchall()


def _assert_each_once(settings: Settings, day: Day) -> None:
    """No file, claim version or run stored twice; the clean run's counts."""
    counts = (
        "SELECT (SELECT count(*) FROM submissions), "
        "(SELECT count(DISTINCT file_id) FROM submissions), "
        "(SELECT count(*) FROM claims), "
        "(SELECT count(DISTINCT (ma_cskcb, ma_lk)) FROM claims), "
        "(SELECT max(version) FROM claims), "
        "(SELECT count(*) - count(DISTINCT run_id) FROM runs)"
    )
    files, distinct, claims, keys, version, repeated = _sql(settings, counts)[0]
    assert files == distinct == len(day.files)
    assert claims == keys == _sql(day.clean, "SELECT count(*) FROM claims")[0][0]
    assert version == 1
    assert repeated == 0


def _without_run_ids(snapshot: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The stored rows without what names the run that stored them."""
    out = {}
    for name, frame in snapshot.items():
        if name == "runs":
            continue
        kept = frame.drop([c for c in ("run_id", "receipt") if c in frame.columns])
        sortable = [c for c, t in kept.schema.items() if not isinstance(t, pl.List)]
        out[name] = kept.sort(sortable, nulls_last=True)
    return out


def _assert_same_tables(
    got: dict[str, pl.DataFrame], expected: dict[str, pl.DataFrame]
) -> None:
    assert got.keys() == expected.keys()
    for name, frame in expected.items():
        assert_frame_equal(got[name], frame, check_row_order=True)


def _money(settings: Settings) -> list[tuple[Any, ...]]:
    return _sql(
        settings,
        "SELECT ma_cskcb, count(*), sum(claimed_t_bhtt), sum(accepted_t_bhtt), "
        "sum(rejected_amount) FROM decisions GROUP BY ALL ORDER BY ALL",
    )


def _assert_placed(data: Path, day: Day, inboxes: list[Path]) -> None:
    for inbox in inboxes:
        assert sorted(inbox.iterdir()) == []
    read = sorted(p.name for p in day.files if p.name != "broken.xml")
    assert sorted(p.name for p in (data / "processed" / DAY).iterdir()) == read
    refused = sorted(p.name for p in (data / "failed").iterdir())
    assert refused == ["broken.xml", "broken.xml.error.json"]
    assert not list((data / "runs").rglob("*.tmp"))
    assert (data / LOCK_NAME).read_text(encoding="utf-8") == ""  # released


# ---- two runs


def test_two_runs_on_one_inbox_store_it_once(tmp_path: Path, day: Day) -> None:
    inbox = day.inbox(tmp_path / "inbox")
    data = tmp_path / "data"
    procs = _race(tmp_path, [inbox, inbox], data)
    _check_one_inbox(procs, data, day)
    _assert_placed(data, day, [inbox])


def _check_one_inbox(procs: list[Proc], data: Path, day: Day) -> None:
    codes = [p.popen.returncode for p in procs]
    print(f"two runs on one inbox: exit codes {codes}")
    assert all("Traceback" not in p.stderr for p in procs)
    stored = [p for p in procs if f"run {day.run_id} ({DAY})" in p.stderr]
    assert len(stored) == 1, [p.stderr[-300:] for p in procs]
    assert stored[0].popen.returncode == 0
    (other,) = (p for p in procs if p is not stored[0])
    # the writer that waited lists the inbox under the lock: what the first left
    assert other.popen.returncode == 0, (codes, other.stderr)
    assert "the inbox is empty" in other.stderr or "nothing new" in other.stderr
    settings = Settings(data_dir=data)
    _assert_same_tables(
        store_snapshot(settings.store_path), store_snapshot(day.clean.store_path)
    )
    _assert_each_once(settings, day)
    assert _sql(settings, "SELECT run_id FROM runs") == [(day.run_id,)]


def test_two_runs_on_inboxes_sharing_files_store_each_once(
    tmp_path: Path, day: Day
) -> None:
    names = [p.name for p in day.files]
    facilities = [n for n in names if n != "broken.xml"]
    shared = facilities[1]
    first = day.inbox(tmp_path / "a", [*facilities[:2], "broken.xml"])
    second = day.inbox(tmp_path / "b", [*facilities[1:], "broken.xml"])
    data = tmp_path / "data"
    procs = _race(tmp_path, [first, second], data)
    _check_shared_inboxes(procs, data, day, shared)
    _assert_placed(data, day, [first, second])


def _check_shared_inboxes(procs: list[Proc], data: Path, day: Day, shared: str) -> None:
    assert [p.popen.returncode for p in procs] == [0, 0], [p.stderr for p in procs]
    assert all("Traceback" not in p.stderr for p in procs)
    # the writer that came second found the shared files stored, placed not read
    later = [p for p in procs if f"{shared}: already in" in p.stderr]
    assert len(later) == 1
    assert "broken.xml: already in" in later[0].stderr
    settings = Settings(data_dir=data)
    _assert_each_once(settings, day)
    assert len(_sql(settings, "SELECT run_id FROM runs")) == 2
    _assert_same_tables(
        _without_run_ids(store_snapshot(settings.store_path)),
        _without_run_ids(store_snapshot(day.clean.store_path)),
    )
    assert _money(settings) == _money(day.clean)


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(5))
def test_two_runs_started_together_without_help(
    tmp_path: Path, day: Day, trial: int
) -> None:
    """The same races with no lock held by the test: both started at once."""
    del trial
    inbox = day.inbox(tmp_path / "inbox")
    data = tmp_path / "data"
    procs = [_run_cmd(tmp_path / f"run{n}", inbox, data) for n in range(2)]
    _end_all(procs)
    _check_one_inbox(procs, data, day)
    _assert_placed(data, day, [inbox])
    names = [p.name for p in day.files if p.name != "broken.xml"]
    first = day.inbox(tmp_path / "a", [*names[:2], "broken.xml"])
    second = day.inbox(tmp_path / "b", [*names[1:], "broken.xml"])
    shared_data = tmp_path / "shared"
    procs = [
        _run_cmd(tmp_path / f"shared{n}", inbox, shared_data)
        for n, inbox in enumerate((first, second))
    ]
    _end_all(procs)
    _check_shared_inboxes(procs, shared_data, day, names[1])


# ---- a writer that bypasses the lock


def test_a_second_store_of_the_same_run_is_refused_even_without_the_lock(
    tmp_path: Path, day: Day, reference: Reference, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    stored: dict[str, Any] = {}

    def keep(con: Any, frames: Any, run_row: Any, runs_dir: Path) -> None:
        stored.update(frames=frames, run_row=run_row)
        store_run(con, frames, run_row, runs_dir)

    monkeypatch.setattr(daily, "store_run", keep)
    result = _run(day.inbox(tmp_path / "inbox"), settings, reference, run_date=DAY)
    assert result.run_id == day.run_id
    before = store_snapshot(settings.store_path)
    frames: dict[str, pl.DataFrame] = stored["frames"]
    run_row: pl.DataFrame = stored["run_row"]
    for attempt in _attempts(frames, run_row, monkeypatch):
        with open_store(settings.store_path) as con:
            attempt(con, settings.runs_dir)
        _assert_same_tables(store_snapshot(settings.store_path), before)
    _assert_each_once(settings, day)


def _attempts(
    frames: dict[str, pl.DataFrame],
    run_row: pl.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[[Any, Path], None]]:
    """Stores of what is stored already, each refused; the later ones with the check
    inside the transaction switched off, so that only the unique indexes refuse."""
    no_files = {name: frame.clear() for name, frame in frames.items()}
    other_run = run_row.with_columns(pl.lit("another-run-id").alias("run_id"))

    def again(con: Any, runs_dir: Path) -> None:
        with pytest.raises(AlreadyStored, match="stored by another writer"):
            store_run(con, frames, run_row, runs_dir)

    def same_run_no_files(con: Any, runs_dir: Path) -> None:
        with pytest.raises(AlreadyStored, match=str(run_row["run_id"][0])):
            store_run(con, no_files, run_row, runs_dir)

    def files_as_another_run(con: Any, runs_dir: Path) -> None:
        with pytest.raises(StoreError) as refused:
            store_run(con, frames, other_run, runs_dir)
        _assert_unique_index_refused(refused.value, "file_id")

    def run_id_again(con: Any, runs_dir: Path) -> None:
        with pytest.raises(StoreError) as refused:
            store_run(con, no_files, run_row, runs_dir)
        _assert_unique_index_refused(refused.value, "run_id")

    yield again
    yield same_run_no_files
    monkeypatch.setattr(store_runs, "_refuse_stored", lambda *_: None)
    yield files_as_another_run
    yield run_id_again


def _assert_unique_index_refused(error: StoreError, column: str) -> None:
    """The store's unique index on ``column`` refused the insert.

    The message itself names the violation (a failing clean-up in the aborted
    transaction does not replace it).
    """
    assert "violates unique constraint" in str(error), str(error)
    chain: list[BaseException] = []
    cause: BaseException | None = error
    while cause is not None:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    violations = [c for c in chain if isinstance(c, duckdb.ConstraintException)]
    assert violations, [str(c) for c in chain]
    assert "violates unique constraint" in str(violations[0])
    assert f'Duplicate key "{column}: ' in str(violations[0])
    assert str(error).startswith("the run could not be stored, nothing of it")


# ---- a settlement during a run


def test_a_settlement_started_during_a_run_settles_what_a_clean_run_gives(
    tmp_path: Path, day: Day, record_property: Callable[[str, object], None]
) -> None:
    from claims.cli.settle import run_settlement

    data = tmp_path / "data"
    settings = Settings(data_dir=data)
    inbox = day.inbox(tmp_path / "inbox")
    with open_store(settings.store_path):
        pass  # an empty store, so that a reader can hold it open
    # a reader holds the store open: the run, once it holds the writer lock, retries
    # opening it; the settlement starts while the run is in the middle of its work
    reader = duckdb.connect(str(settings.store_path), read_only=True)
    procs: list[Proc] = []
    try:
        run = _run_cmd(tmp_path / "run", inbox, data)
        procs.append(run)
        _until(lambda: _lock_pid(data) == run.pid, "the run to hold the lock")
        settle = _start(
            tmp_path / "settle",
            "settle", "run", "--period", PERIOD, "--no-excel", "--data-dir", str(data),
        )  # fmt: skip
        procs.append(settle)
        time.sleep(3.0)  # the settlement is up and at the store
    except BaseException:
        _stop(procs)
        raise
    finally:
        reader.close()
    run_code, settle_code = _end_all([run, settle])
    # the settlement said it waited for the run's lock (the commands' on_wait notice)
    waited = "waiting up to" in settle.stderr and f"pid {run.pid} (run" in settle.stderr
    print(
        f"settle during a run: exit {settle_code}, waited for the run's lock: "
        f"{waited}, ended {settle.ended - run.ended:+.2f} s after the run"
    )
    record_property("settle_waited_for_run", waited)
    if waited:
        assert settle_code == 0, settle.stderr
    assert run_code == 0, run.stderr
    assert "Traceback" not in run.stderr + settle.stderr
    _assert_same_tables(
        store_snapshot(settings.store_path), store_snapshot(day.clean.store_path)
    )
    folder = data / "settlements" / PERIOD
    if settle_code == 0:
        written = pl.read_parquet(folder / day.settlement_id / "facilities.parquet")
        assert_frame_equal(written, day.facilities)
        assert _ledger(settings) == _ledger(day.clean)
    else:
        # it did not wait for the run: refused cleanly, nothing written or posted
        assert settle_code == 1
        assert settle.stderr.count("error:") == 1
        assert not folder.exists()
        assert _ledger(settings) == []
    settlement, _, _ = run_settlement(
        settings, PERIOD, None, excel=False, posted_at=POSTED_AT
    )
    assert settlement.settlement_id == day.settlement_id
    assert_frame_equal(settlement.frames["facilities"], day.facilities)
    assert _ledger(settings) == _ledger(day.clean)


def _lock_pid(data: Path) -> int | None:
    try:
        return int(json.loads((data / LOCK_NAME).read_text(encoding="utf-8"))["pid"])
    except (OSError, ValueError, KeyError):
        return None


def _ledger(settings: Settings) -> list[tuple[Any, ...]]:
    """The ledger's totals per facility and kind (empty when nothing was posted)."""
    with open_store(settings.store_path, read_only=True) as con:
        if not store_runs.has_table(con, "ledger"):
            return []
        return con.execute(
            "SELECT ma_cskcb, kind, count(*), sum(debit), sum(credit) FROM ledger "
            "GROUP BY ALL ORDER BY ALL"
        ).fetchall()
