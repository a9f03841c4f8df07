"""Claim profiles from the stored tables of a generated day."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from claims.anomalies import FEATURES, claim_profiles
from claims.pipeline.context import Reference
from claims.store import StoredClaims, stored_claims
from tests.conftest import GeneratedDay


@pytest.fixture(scope="module")
def stored(generated_day: GeneratedDay) -> StoredClaims:
    path = str(generated_day.settings.store_path)
    with duckdb.connect(path, read_only=True) as con:
        return stored_claims(con, "TRUE", [])


def _profiles(
    stored: StoredClaims, reference: Reference, seed: int | None
) -> pl.DataFrame:
    tables = stored.tables
    if seed is not None:
        tables = {
            t: f.sample(fraction=1.0, shuffle=True, seed=seed)
            for t, f in tables.items()
        }
    return claim_profiles(
        tables["XML1"], tables["XML2"], tables["XML3"], reference.facilities
    )


def test_profiles_do_not_depend_on_row_order(
    stored: StoredClaims, reference: Reference
) -> None:
    a = _profiles(stored, reference, None).sort("file_id", "hoso_idx")
    b = _profiles(stored, reference, 5).sort("file_id", "hoso_idx")
    assert a.height == stored.tables["XML1"].height
    assert a.equals(b)


def test_profile_counts_and_shares(stored: StoredClaims, reference: Reference) -> None:
    profiles = _profiles(stored, reference, None)
    assert {f.name for f in FEATURES} <= set(profiles.columns)
    lines = (
        pl.concat(
            [stored.tables[t].select("file_id", "hoso_idx") for t in ("XML2", "XML3")]
        )
        .group_by("file_id", "hoso_idx")
        .len()
    )
    joined = profiles.join(lines, on=["file_id", "hoso_idx"], how="left").with_columns(
        pl.col("len").fill_null(0)
    )
    assert (joined["lines"] == joined["len"]).all()
    for share in ("drug_share", "supply_share", "concentration"):
        assert profiles[share].is_between(0.0, 1.0 + 1e-9).all(), share
    with_lines = profiles.filter(pl.col("lines") > 0)
    assert (with_lines["concentration"] > 0).all()
    assert profiles["level"].is_in(["primary", "basic", "specialised", "unknown"]).all()
    assert (profiles["province"] == profiles["ma_cskcb"].str.slice(0, 2)).all()


def test_a_batch_scores_its_own_tables(
    stored: StoredClaims, reference: Reference
) -> None:
    from claims.config import Settings
    from claims.pipeline import score_tables

    scored = score_tables(stored.tables, reference, Settings())
    assert scored.height == stored.tables["XML1"].height
    assert scored.select("file_id", "hoso_idx").n_unique() == scored.height
    assert scored["risk"].is_between(0.0, 1.0).all()
    assert scored["explanation"].str.contains("so với nhóm").all()
    riskiest = scored.sort("statistic", descending=True).row(0, named=True)
    assert riskiest["top_features"]
    assert riskiest["statistic"] > 0
