"""Shared test setup: hypothesis profiles (bounded in CI) and store helpers."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, settings

from claims.config import Settings
from claims.store.runs import STORE_TABLES

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
