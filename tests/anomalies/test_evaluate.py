"""Evaluation against a literal truth, computed by hand."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest

from claims.anomalies import evaluate, reviewed
from claims.errors import ConfigError
from claims.money import MONEY


def _scores() -> pl.DataFrame:
    # ten claims: LK9 riskiest; T_BHTT (i + 1) * 100
    return pl.DataFrame(
        {
            "ma_cskcb": ["01001"] * 10,
            "ma_lk": [f"LK{i}" for i in range(10)],
            "risk": [i / 10 for i in range(10)],
            "statistic": [float(i) for i in range(10)],
            "t_bhtt": [Decimal((i + 1) * 100) for i in range(10)],
        },
        schema_overrides={"t_bhtt": MONEY},
    )


def _truth() -> pl.DataFrame:
    rows = [
        ("LK9", "cost", "anomaly"),
        ("LK9", "cost", "anomaly"),  # the same claim twice: counts once
        ("LK8", "cost", "anomaly"),
        ("LK8", "split", "anomaly"),  # one claim, two kinds: once overall
        ("LK2", "split", "anomaly"),
        ("LK5", "cost", "anomaly"),
        ("LK7", "bad_code", "fault"),  # a rule fault: ignored
        ("LK6", "cost", "fault"),
    ]
    return pl.DataFrame(
        [("01001", lk, kind, cat) for lk, kind, cat in rows],
        schema=["ma_cskcb", "ma_lk", "kind", "category"],
        orient="row",
    )


def test_by_hand() -> None:
    # capacity 0.3 of 10 claims: LK9, LK8, LK7 reviewed
    result = evaluate(_truth(), _scores(), 0.3)
    assert result["reviewed"] == 3
    overall = result["overall"]
    # anomalous claims LK9, LK8, LK2, LK5; found LK9, LK8
    assert (overall["claims"], overall["found"]) == (4, 2)
    assert overall["precision"] == pytest.approx(2 / 3)
    assert overall["recall"] == pytest.approx(2 / 4)
    assert overall["money_recall"] == pytest.approx(
        (1000 + 900) / (1000 + 900 + 300 + 600)
    )
    cost, split = result["kinds"]["cost"], result["kinds"]["split"]
    assert set(result["kinds"]) == {"cost", "split"}
    assert (cost["claims"], cost["found"]) == (3, 2)
    assert cost["precision"] == pytest.approx(2 / 3)
    assert cost["recall"] == pytest.approx(2 / 3)
    assert cost["money_recall"] == pytest.approx(1900 / 2500)
    assert (split["claims"], split["found"]) == (2, 1)
    assert split["precision"] == pytest.approx(1 / 3)
    assert split["recall"] == pytest.approx(1 / 2)
    assert split["money_recall"] == pytest.approx(900 / 1200)


def test_without_category_every_row_counts() -> None:
    truth = _truth().drop("category")
    result = evaluate(truth, _scores(), 0.3)
    # LK7 and LK6 now count: LK9, LK8, LK7 found of LK9, LK8, LK7, LK6, LK5, LK2
    assert (result["overall"]["claims"], result["overall"]["found"]) == (6, 3)
    assert result["overall"]["precision"] == pytest.approx(1.0)


def test_ties_broken_by_statistic_money_then_keys() -> None:
    scores = _scores().with_columns(risk=pl.lit(0.5), statistic=pl.lit(1.0))
    # every risk and statistic equal: the most money first
    assert reviewed(scores, 0.2)["ma_lk"].to_list() == ["LK9", "LK8"]
    same = scores.with_columns(t_bhtt=pl.lit(Decimal(1)).cast(MONEY))
    assert reviewed(same.reverse(), 0.2)["ma_lk"].to_list() == ["LK0", "LK1"]


def test_truth_of_other_claims_is_left_out_and_counted() -> None:
    truth = pl.concat(
        [
            _truth(),
            pl.DataFrame(
                [("79001", "ELSEWHERE", "cost", "anomaly")],
                schema=["ma_cskcb", "ma_lk", "kind", "category"],
                orient="row",
            ),
        ]
    )
    result = evaluate(truth, _scores(), 0.3)
    assert result["truth_unmatched"] == 1
    assert result["overall"]["claims"] == 4


def test_missing_column_named() -> None:
    with pytest.raises(ConfigError, match=r"lacks the column.*kind"):
        evaluate(_truth().drop("kind"), _scores(), 0.3)


def test_truth_naming_no_scored_claim() -> None:
    truth = _truth().with_columns(ma_cskcb=pl.lit("99999"))
    with pytest.raises(ConfigError, match="none of them among the scored claims"):
        evaluate(truth, _scores(), 0.3)


def test_capacity_outside_zero_one_refused() -> None:
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        evaluate(_truth(), _scores(), 0.0)
