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


def _keys(frame: pl.DataFrame, row: int) -> pl.Expr:
    first = frame.row(row, named=True)
    return (pl.col("file_id") == first["file_id"]) & (
        pl.col("hoso_idx") == first["hoso_idx"]
    )


def test_drug_and_test_lines_count_their_tables(
    stored: StoredClaims, reference: Reference
) -> None:
    profiles = _profiles(stored, reference, None)
    drugs = stored.tables["XML2"].group_by("file_id", "hoso_idx").len("drugs")
    tests = (
        stored.tables["XML3"]
        .filter(pl.col("ma_nhom").is_in(["1", "2", "3"]))
        .group_by("file_id", "hoso_idx")
        .len("tests")
    )
    joined = (
        profiles.join(drugs, on=["file_id", "hoso_idx"], how="left")
        .join(tests, on=["file_id", "hoso_idx"], how="left")
        .with_columns(pl.col("drugs", "tests").fill_null(0))
    )
    assert (joined["drug_lines"] == joined["drugs"]).all()
    assert (joined["test_lines"] == joined["tests"]).all()
    assert joined["tests"].sum() > 0


def test_doses_times_four_make_dose_excess_four_times(
    stored: StoredClaims, reference: Reference
) -> None:
    xml1, xml2 = stored.tables["XML1"], stored.tables["XML2"]
    with_drugs = xml1.join(
        xml2.select("file_id", "hoso_idx").unique(), on=["file_id", "hoso_idx"]
    )
    mine = _keys(with_drugs, 0)
    number = r"^[0-9]+(?:\.[0-9]+)?"
    dose = pl.col("lieu_dung").str.extract(f"({number})", 1).cast(pl.Float64)
    rest = pl.col("lieu_dung").str.replace(number, "")
    inflated = xml2.with_columns(
        pl.when(mine)
        .then(pl.format("{}{}", dose * 4, rest))
        .otherwise(pl.col("lieu_dung"))
        .alias("lieu_dung")
    )
    assert inflated.filter(mine)["lieu_dung"].str.contains(number + " ").all()
    facilities = reference.facilities
    before = claim_profiles(xml1, xml2, stored.tables["XML3"], facilities)
    after = claim_profiles(xml1, inflated, stored.tables["XML3"], facilities)
    was = before.filter(mine)["dose_excess"][0]
    now = after.filter(mine)["dose_excess"][0]
    assert now == pytest.approx(4 * was, rel=1e-9)
    assert before["dose_excess"].median() == pytest.approx(1.0)


def test_a_longer_stay_with_the_same_care_has_less_care_per_day(
    stored: StoredClaims, reference: Reference
) -> None:
    xml1 = stored.tables["XML1"]
    stays = xml1.filter(pl.col("so_ngay_dtri") >= 2)
    mine = _keys(stays, 0)
    longer = xml1.with_columns(
        pl.when(mine)
        .then(pl.col("so_ngay_dtri") * 4)
        .otherwise(pl.col("so_ngay_dtri"))
        .alias("so_ngay_dtri")
    )
    tables = stored.tables
    facilities = reference.facilities
    before = claim_profiles(xml1, tables["XML2"], tables["XML3"], facilities)
    after = claim_profiles(longer, tables["XML2"], tables["XML3"], facilities)
    was = before.filter(mine)["care_per_day"][0]
    assert was > 0
    assert after.filter(mine)["care_per_day"][0] == pytest.approx(was / 4)
    # a claim without a day of treatment has no care per day (it is not scored)
    outpatients = before.filter(pl.col("los") == 0)
    assert outpatients.height > 0
    assert outpatients["care_per_day"].is_null().all()


def test_overlaps_count_the_patients_claims_at_another_facility_at_the_same_time(
    stored: StoredClaims, reference: Reference
) -> None:
    xml1, tables = stored.tables["XML1"], stored.tables
    base = claim_profiles(xml1, tables["XML2"], tables["XML3"], reference.facilities)
    # claims of patients with no other claim
    alone = xml1.join(
        base.filter(pl.col("visits") == 1).select("file_id", "hoso_idx"),
        on=["file_id", "hoso_idx"],
    )
    facilities = alone["ma_cskcb"].unique().sort()
    a = alone.filter(pl.col("ma_cskcb") == facilities[0]).row(0, named=True)
    b = alone.filter(pl.col("ma_cskcb") == facilities[1]).row(0, named=True)
    c = alone.filter(pl.col("ma_cskcb") == facilities[0]).row(1, named=True)

    def is_(row: dict[str, object]) -> pl.Expr:
        return (pl.col("file_id") == row["file_id"]) & (
            pl.col("hoso_idx") == row["hoso_idx"]
        )

    # b and c: a's patient; b at another facility during a's stay, c at a's own
    moved = xml1.with_columns(
        pl.when(is_(b) | is_(c))
        .then(pl.lit(a["ma_the_bhyt"]))
        .otherwise(pl.col("ma_the_bhyt"))
        .alias("ma_the_bhyt"),
        pl.when(is_(b) | is_(c))
        .then(pl.lit(a["ngay_vao"]))
        .otherwise(pl.col("ngay_vao"))
        .alias("ngay_vao"),
        pl.when(is_(b) | is_(c))
        .then(pl.lit(a["ngay_ra"]))
        .otherwise(pl.col("ngay_ra"))
        .alias("ngay_ra"),
    )
    profiles = claim_profiles(
        moved, tables["XML2"], tables["XML3"], reference.facilities
    )

    def got(row: dict[str, object]) -> int:
        return int(profiles.filter(is_(row))["overlaps"][0])

    assert got(a) == 1  # b; c is at the same facility (readmits' business)
    assert got(b) == 2  # a and c, both at another facility
    assert got(c) == 1
    assert profiles["overlaps"].sum() == base["overlaps"].sum() + 4
    # a near miss: b the day after a's discharge does not overlap
    later = moved.with_columns(
        pl.when(is_(b))
        .then(pl.lit(a["ngay_ra"]) + pl.duration(days=1))
        .otherwise(pl.col("ngay_vao"))
        .alias("ngay_vao"),
        pl.when(is_(b))
        .then(pl.lit(a["ngay_ra"]) + pl.duration(days=2))
        .otherwise(pl.col("ngay_ra"))
        .alias("ngay_ra"),
    )
    apart = claim_profiles(later, tables["XML2"], tables["XML3"], reference.facilities)
    assert apart["overlaps"].sum() == base["overlaps"].sum()
