"""Robust z-scores within peer groups, on literal frames."""

from __future__ import annotations

import polars as pl
import pytest

from claims.anomalies.robust import MAD_SCALE, MEAN_AD_SCALE, robust_z


def _frame(values: list[float], group: str = "a") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "level": [group] * len(values),
            "department": ["K01"] * len(values),
            "province": ["01"] * len(values),
            "claim_type": ["01"] * len(values),
            "x": values,
        }
    ).with_columns(peer_group=pl.lit(f"{group}|K01|01|01"))


def test_median_and_mad() -> None:
    # median 3, |x - 3| = 2 1 0 1 7: MAD 1
    out = robust_z(_frame([1.0, 2.0, 3.0, 4.0, 10.0]), {"x": 0.01}, floor=0.0)
    assert out["x__median"].to_list() == [3.0] * 5
    assert out["x__scale"][0] == pytest.approx(MAD_SCALE)
    assert out["x__z"].to_list() == pytest.approx(
        [-2 / MAD_SCALE, -1 / MAD_SCALE, 0.0, 1 / MAD_SCALE, 7 / MAD_SCALE]
    )


def test_zero_mad_falls_back_to_mean_deviation() -> None:
    # median 0, MAD 0; mean |x - 0| = 5 / 6
    out = robust_z(_frame([0.0, 0.0, 0.0, 0.0, 0.0, 5.0]), {"x": 0.01}, floor=0.0)
    assert out["x__scale"][0] == pytest.approx(MEAN_AD_SCALE * 5 / 6)
    assert out["x__z"][5] == pytest.approx(5 / (MEAN_AD_SCALE * 5 / 6))


def test_min_scale_floors_a_constant_group() -> None:
    out = robust_z(_frame([2.0] * 4), {"x": 0.5}, floor=0.0)
    assert out["x__scale"].to_list() == [0.5] * 4
    assert out["x__z"].to_list() == [0.0] * 4


def test_share_of_overall_scale_floors_a_tight_group() -> None:
    tight = _frame([1.0, 1.0, 1.0, 1.1, 1.0], "a")
    wide = _frame([0.0, 10.0, 20.0, 30.0, 40.0], "b")
    out = robust_z(pl.concat([tight, wide]), {"x": 0.001}, floor=0.5)
    overall = (
        pl.concat([tight, wide])
        .select((pl.col("x") - pl.col("x").median()).abs().median() * MAD_SCALE)
        .item()
    )
    a = out.filter(pl.col("level") == "a")
    assert a["x__scale"][0] == pytest.approx(0.5 * overall)


def test_negative_floor_refused() -> None:
    with pytest.raises(ValueError, match="scale floor"):
        robust_z(_frame([1.0, 2.0]), {"x": 0.1}, floor=-1.0)
