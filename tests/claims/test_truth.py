"""The generator's labelled structural faults are exactly what validation finds."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from claims.config import Settings
from claims.pipeline.daily import run_inbox
from claims.synthetic.generate import generate


def test_every_injected_fault_is_found_and_nothing_else(tmp_path: Path) -> None:
    summary = generate(
        tmp_path / "inbox",
        claims=1500,
        facilities=12,
        day=date(2026, 10, 15),
        seed=5,
        error_rate=0.1,
        fmt="xml",
    )
    truth = pl.read_parquet(summary.truth)
    settings = Settings(data_dir=tmp_path / "data")
    result = run_inbox(tmp_path / "inbox", settings=settings)
    assert result.run_id is not None
    with duckdb.connect(str(settings.store_path), read_only=True) as con:
        found = con.sql(
            'SELECT DISTINCT c.ma_cskcb, q.ma_lk, q."table", q.reason_code AS expected_reason '
            "FROM quarantine q JOIN claim_status c USING (file_id, hoso_idx) "
            "WHERE q.reason_code <> 'LINE_OF_REJECTED_CLAIM'"
        ).pl()
    expected = truth.filter(pl.col("expected_reason").is_not_null())
    assert expected.height > 50  # the check is not vacuous
    keys = ["ma_cskcb", "ma_lk", "table", "expected_reason"]
    missed = expected.join(found, on=keys, how="anti")
    assert missed.height == 0, missed
    unexplained = found.join(
        truth.select("ma_cskcb", "ma_lk").unique(), on=["ma_cskcb", "ma_lk"], how="anti"
    )
    assert unexplained.height == 0, unexplained
    rejected = (
        result.claims.filter(pl.col("status") == "rejected").select("ma_lk").to_series()
    )
    claim_faults = expected.filter(pl.col("level") == "claim")["ma_lk"]
    assert set(claim_faults) <= set(rejected)
