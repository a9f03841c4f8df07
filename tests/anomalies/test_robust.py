"""Robust z-scores within peer groups, on literal frames."""

from __future__ import annotations

import polars as pl
import pytest

from claims.anomalies.robust import MAD_SCALE, MEAN_AD_SCALE, TAIL_SCALE, robust_z


def _frame(values: list[float], group: str = "a") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "level": [group] * len(values),
            "department": ["K01"] * len(values),
            "province": ["01"] * len(values),
            "claim_type": ["01"] * len(values),
            "icd3": ["J00"] * len(values),
            "x": values,
        }
    ).with_columns(peer_group=pl.lit(f"{group}|K01|01|01|J00"))


def test_median_and_mad() -> None:
    # 0 … 20: median 10, MAD 5; the tail spread (q90 18 − q10 2) / 2.5631 is smaller
    values = [float(v) for v in range(21)]
    out = robust_z(_frame(values), {"x": 0.01}, floor=0.0)
    assert out["x__median"].unique().to_list() == [10.0]
    assert out["x__scale"][0] == pytest.approx(5 * MAD_SCALE)
    assert out["x__z"].to_list() == pytest.approx(
        [(v - 10) / (5 * MAD_SCALE) for v in values]
    )


def test_upper_tail_spread_when_most_share_one_value() -> None:
    # 18 zeros, then 1, 2, 10: MAD 0; q90 (linear) is 1, so scale (1 − 0) / 1.2816
    values = [0.0] * 18 + [1.0, 2.0, 10.0]
    out = robust_z(_frame(values), {"x": 0.01}, floor=0.0, upper=frozenset({"x"}))
    assert out["x__scale"][0] == pytest.approx(1 / TAIL_SCALE)
    assert out["x__z"][20] == pytest.approx(10 * TAIL_SCALE)


def test_zero_spreads_fall_back_to_mean_deviation() -> None:
    # 20 zeros then 5: MAD 0, q90 0; mean |x - 0| = 5 / 21
    values = [0.0] * 20 + [5.0]
    out = robust_z(_frame(values), {"x": 0.01}, floor=0.0, upper=frozenset({"x"}))
    assert out["x__scale"][0] == pytest.approx(MEAN_AD_SCALE * 5 / 21)
    assert out["x__z"][20] == pytest.approx(5 / (MEAN_AD_SCALE * 5 / 21))


def test_min_scale_floors_a_constant_group() -> None:
    out = robust_z(_frame([2.0] * 4), {"x": 0.5}, floor=0.0)
    assert out["x__scale"].to_list() == [0.5] * 4
    assert out["x__z"].to_list() == [0.0] * 4


def test_share_of_overall_scale_floors_a_tight_group() -> None:
    tight = _frame([1.0] * 20 + [1.1], "a")
    wide = _frame([float(v) for v in range(0, 42, 2)], "b")
    both = pl.concat([tight, wide])
    out = robust_z(both, {"x": 0.001}, floor=0.5)
    x = pl.col("x")
    mad = (x - x.median()).abs().median() * MAD_SCALE
    spread = (
        x.quantile(0.9, interpolation="linear")
        - x.quantile(0.1, interpolation="linear")
    ) / (2 * TAIL_SCALE)
    overall = both.select(pl.max_horizontal(mad, spread)).item()
    assert out.filter(pl.col("level") == "a")["x__scale"][0] == pytest.approx(
        0.5 * overall
    )


def test_negative_floor_refused() -> None:
    with pytest.raises(ValueError, match="scale floor"):
        robust_z(_frame([1.0, 2.0]), {"x": 0.1}, floor=-1.0)
