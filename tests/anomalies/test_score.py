"""Claim and facility risks: order, monotony, explanation."""

from __future__ import annotations

import math
from decimal import Decimal

import polars as pl
import pytest

from claims.anomalies import (
    FEATURES,
    Scoring,
    explanations,
    facility_risk,
    score_claims,
)
from claims.money import MONEY
from tests.anomalies.helpers import profiles


def _keyed(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort("ma_cskcb", "ma_lk")


def test_invariant_to_row_order() -> None:
    frame = profiles()
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=3)
    a = explanations(score_claims(frame))
    b = explanations(score_claims(shuffled))
    assert not frame["ma_lk"].equals(shuffled["ma_lk"])
    columns = ["ma_cskcb", "ma_lk", "risk", "statistic", "peer_group", "explanation"]
    assert _keyed(a.select(columns)).equals(_keyed(b.select(columns)))
    assert facility_risk(score_claims(frame)).equals(
        facility_risk(score_claims(shuffled))
    )


def test_risk_is_share_of_claims_below() -> None:
    scored = score_claims(profiles(n=200))
    assert scored["risk"].min() == 0.0
    assert scored.select(pl.col("risk").max() < 1.0).item()
    top = scored.sort("statistic").tail(1)
    below = scored.filter(pl.col("statistic") < top["statistic"][0]).height
    assert top["risk"][0] == pytest.approx(below / 200)


def _moved(frame: pl.DataFrame, row: int, factor: str) -> pl.DataFrame:
    cost = frame["cost"].to_list()
    cost[row] = cost[row] * Decimal(factor)
    return frame.with_columns(pl.Series("cost", cost, dtype=MONEY))


def test_a_claim_moved_far_from_its_peers_scores_higher() -> None:
    frame = profiles()
    before = score_claims(frame).row(10, named=True)
    after = score_claims(_moved(frame, 10, "4")).row(10, named=True)
    far = score_claims(_moved(frame, 10, "8"))
    further = far.row(10, named=True)
    assert before["statistic"] < after["statistic"] < further["statistic"]
    assert before["risk"] < after["risk"] <= further["risk"]
    assert further["risk"] > 0.95
    # beyond every peer: the largest cost contribution, past what a rank gives (ln n),
    # at the weight of a broad feature
    weight = next(f.weight for f in FEATURES if f.name == "cost")
    assert weight < 1
    assert further["cost__c"] == far["cost__c"].max()
    assert further["cost__c"] > weight * math.log(frame.height)


def test_a_claim_far_out_on_one_specific_feature_is_the_riskiest() -> None:
    frame = profiles(n=1000)
    lines = frame["drug_lines"].to_list()
    lines[10] = 24  # a prescription of 24 drugs where peers write 3 to 8
    scored = score_claims(frame.with_columns(pl.Series("drug_lines", lines)))
    row = scored.row(10, named=True)
    assert row["risk"] == scored["risk"].max()
    assert row["statistic"] == row["drug_lines__c"]
    # alone in its tail: −ln(1/n), what no rank of an ordinary claim reaches
    assert row["drug_lines__c"] == pytest.approx(math.log(frame.height))


def test_one_strong_feature_is_not_drowned_by_several_weak_ones() -> None:
    frame = profiles(n=1000)
    # claim 20 in the tail of three broad features at once, just beyond its peers
    weak = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 20)
        .then(pl.lit(0.62))
        .otherwise(pl.col(c))
        .alias(c)
        for c in ("drug_share", "concentration")
    ).with_columns(
        pl.when(pl.int_range(pl.len()) == 20)
        .then(pl.lit(1.3))
        .otherwise(pl.col("quantity_excess"))
        .alias("quantity_excess")
    )
    # claim 30 far out on one specific feature: every drug at 5 times its usual dose
    strong = weak.with_columns(
        pl.when(pl.int_range(pl.len()) == 30)
        .then(pl.lit(5.0))
        .otherwise(pl.col("dose_excess"))
        .alias("dose_excess")
    )
    scored = score_claims(strong)
    several, one = scored.row(20, named=True), scored.row(30, named=True)
    broad = ("drug_share__c", "concentration__c", "quantity_excess__c")
    assert all(several[c] > 0 for c in broad)
    assert one["risk"] > several["risk"]
    assert one["risk"] == scored["risk"].max()


def test_explanation_names_value_median_and_peers() -> None:
    frame = _moved(profiles(), 10, "4")
    scored = explanations(score_claims(frame))
    row = scored.row(10, named=True)
    median = row["cost__median"]
    ratio = float(row["cost"]) / median
    words = row["explanation"]
    assert words.startswith("Chi phí hồ sơ ")
    assert f"gấp {round(ratio, 1):.1f}".replace(".", ",") in words
    assert "lần trung vị nhóm (" in words
    assert (
        "so với nhóm cấp cơ bản · khoa K01 · tỉnh 01 · loại KCB 01 · chẩn đoán J00 "
        "(300 hồ sơ)" in words
    )
    assert row["top_features"][0] == "cost"
    # thousands with dots: the cost as the assessor reads it
    whole = f"{round(float(row['cost'])):,}".replace(",", ".")
    assert f"Chi phí hồ sơ {whole} đ" in words


def test_a_typical_claim_is_given_no_reasons() -> None:
    scored = explanations(score_claims(profiles()))
    calm = scored.sort("statistic").row(0, named=True)
    assert calm["explanation"].startswith("Không có đặc điểm nào cách xa trung vị nhóm")
    assert calm["top_features"] == []


def test_facility_risk_ranks_the_facility_whose_claims_stand_out() -> None:
    frame = profiles(n=600, facilities=6)
    costly = frame.with_columns(
        pl.when(pl.col("ma_cskcb") == "01003")
        .then(pl.col("cost") * Decimal("1.6"))
        .otherwise(pl.col("cost"))
        .cast(MONEY)
        .alias("cost")
    )
    facilities = facility_risk(score_claims(costly))
    assert facilities.sort("risk")["ma_cskcb"][-1] == "01003"
    earlier = pl.DataFrame(
        {"ma_cskcb": [f"01{i:03d}" for i in range(1, 7)], "median_cost": [2.7e5] * 6}
    )
    trended = facility_risk(score_claims(costly), earlier)
    assert trended.sort("trend_z")["ma_cskcb"][-1] == "01003"
    assert trended["trend_z"].is_not_null().all()


def test_only_the_tail_share_of_a_feature_contributes() -> None:
    frame = profiles(n=400)
    for share in (0.01, 0.05):
        scored = score_claims(frame, Scoring(tail_share=share))
        for feature in FEATURES:
            contributing = scored.filter(pl.col(f"{feature.name}__c") > 0)
            # the claims at or above the tail's threshold, at most the share (no ties)
            assert contributing.height <= math.ceil(share * 400), feature.name
            if contributing.height:
                # each contributes at least -ln of the share of claims in its tail
                least = -math.log(contributing.height / 400) * feature.weight
                assert contributing[f"{feature.name}__c"].min() == pytest.approx(least)
    with pytest.raises(ValueError, match="tail share"):
        score_claims(frame, Scoring(tail_share=0.0))


def test_explanation_names_the_specific_feature_that_drove_the_risk() -> None:
    frame = profiles(n=1000)
    dose = frame["dose_excess"].to_list()
    dose[10] = 4.5  # every drug at four and a half times its usual dose
    scored = explanations(
        score_claims(frame.with_columns(pl.Series("dose_excess", dose)))
    )
    row = scored.row(10, named=True)
    assert row["top_features"][0] == "dose_excess"
    assert row["explanation"].startswith(
        "Liều mỗi lần dùng của các thuốc trung bình gấp 4,5 lần liều thường dùng của "
        "cùng mã thuốc (trung vị nhóm 1"
    )
