"""Shared test setup: hypothesis profiles (bounded in CI), store helpers and the one
generated day (generated, run and settled once per session)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, settings

from claims.config import Settings
from claims.store.runs import STORE_TABLES

if TYPE_CHECKING:
    from claims.pipeline.context import Reference
    from claims.pipeline.daily import RunResult
    from claims.settle import Settlement

for name, examples in (("ci", 40), ("dev", 15), ("slow", 500)):
    settings.register_profile(
        name,
        max_examples=examples,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
        ],
    )
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
)


@pytest.fixture
def data_settings(tmp_path: Path) -> Settings:
    """Settings with a fresh data folder."""
    return Settings(data_dir=tmp_path / "data")


def store_snapshot(path: Path) -> dict[str, pl.DataFrame]:
    """Every store table, rows sorted, without run-time-only columns."""
    out: dict[str, pl.DataFrame] = {}
    with duckdb.connect(str(path), read_only=True) as con:
        names = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables"
            ).fetchall()
        }
        for name in STORE_TABLES:
            if name not in names:
                continue
            frame = con.sql(f'SELECT * FROM "{name}"').pl()
            if name == "runs":
                frame = frame.drop("manifest")
            sortable = [
                c for c, t in frame.schema.items() if not isinstance(t, pl.List)
            ]
            out[name] = frame.sort(sortable, nulls_last=True)
    return out


DAY = date(2026, 10, 15)
"""The generated day's last discharge date (its claims declare 2026-10)."""
PERIOD = "2026-10"
POSTED_AT = "2026-11-01T07:00:00+00:00"
"""When the generated day's settlement was posted."""


@dataclass(frozen=True)
class GeneratedDay:
    """A generated day (600 claims, 8 facilities, one in five with an injected fault),
    run into a fresh store and settled for :data:`PERIOD`.

    Shared by the whole session: read it, never write to it. A test that changes the
    store (a settlement, an advance, an audit, a new run) works on :meth:`copy`.
    """

    files: tuple[Path, ...]
    """The submissions, one XML wrapper per facility (left in place by the run)."""
    truth: pl.DataFrame
    """The generator's truth: one row per injected fault."""
    settings: Settings
    result: RunResult
    settlement: Settlement
    posted: pl.DataFrame
    """The ledger rows the settlement posted."""
    folder: Path
    """The settlement's output folder."""

    @property
    def inbox(self) -> Path:
        return self.files[0].parent

    def sql(self, query: str) -> pl.DataFrame:
        """``query`` on the store, read-only."""
        with duckdb.connect(str(self.settings.store_path), read_only=True) as con:
            return con.sql(query).pl()

    def copy(self, to: Path) -> Settings:
        """A copy of the data folder (store, runs, settlements) at ``to``; its settings.

        The copy's views still read the run folders of the original (they never change).
        """
        shutil.copytree(self.settings.data_dir, to)
        return Settings(data_dir=to)


@pytest.fixture(scope="session")
def reference() -> Reference:
    """The built-in catalogs and the ``vn-bhyt`` pack versions, loaded once."""
    from claims.pipeline.context import Reference

    return Reference.load(None, "vn-bhyt")


@pytest.fixture(scope="session")
def generated_day(tmp_path_factory: pytest.TempPathFactory) -> GeneratedDay:
    """The session's generated, run and settled day (see :class:`GeneratedDay`)."""
    from claims.cli.settle import run_settlement
    from claims.pipeline.daily import run_inbox
    from claims.synthetic import generate

    root = tmp_path_factory.mktemp("generated-day")
    summary = generate(
        root / "inbox",
        claims=600,
        facilities=8,
        day=DAY,
        seed=5,
        error_rate=0.2,
        fmt="xml",
    )
    data = Settings(data_dir=root / "data")
    result = run_inbox(root / "inbox", settings=data, move_files=False)
    settlement, posted, folder = run_settlement(
        data, PERIOD, None, excel=False, posted_at=POSTED_AT
    )
    return GeneratedDay(
        files=tuple(summary.files),
        truth=pl.read_parquet(summary.truth),
        settings=data,
        result=result,
        settlement=settlement,
        posted=posted,
        folder=folder,
    )
