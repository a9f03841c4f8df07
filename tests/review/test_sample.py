"""The stratified sample: allocation, strata, determinism (``claims.review.sample``)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from claims.errors import ConfigError
from claims.review import allocate, draw_sample
from claims.review.sample import MIN_PER_STRATUM


def population(n: int, *, seed: int = 1, scored: bool = True) -> pl.DataFrame:
    """``n`` claims at three facilities of unequal size, two claim types, risks."""
    rng = np.random.default_rng(seed)
    facility = rng.choice(["01001", "01002", "79003"], n, p=[0.6, 0.3, 0.1])
    return pl.DataFrame(
        {
            "ma_cskcb": facility,
            "ma_lk": [f"LK{i:05d}" for i in range(n)],
            "file_id": [f"f{i % 4}" for i in range(n)],
            "hoso_idx": pl.Series(np.arange(n), dtype=pl.UInt32),
            "ma_loai_kcb": rng.choice(["1", "3"], n),
            "claimed_t_bhtt": pl.Series(
                [Decimal(int(v)) for v in rng.integers(10_000, 5_000_000, n)],
                dtype=pl.Decimal(38, 2),
            ),
            "risk": pl.Series(
                rng.random(n) if scored else [None] * n, dtype=pl.Float64
            ),
        }
    )


def test_allocation_is_proportional_with_a_minimum() -> None:
    got = allocate(np.array([1000, 500, 60, 1, 3]), 100)
    assert got.sum() == 100
    assert got.tolist()[3] == 1  # a stratum of one claim is taken whole
    assert got.tolist()[4] == MIN_PER_STRATUM  # its share, 0.19, is below the minimum
    # the other three share the 97 left in proportion 1000:500:60 (62.2, 31.1, 3.7)
    assert got.tolist()[:3] == [62, 31, 4]


@given(
    st.lists(st.integers(1, 400), min_size=1, max_size=12),
    st.floats(0.0, 1.0),
)
def test_allocation_sums_to_the_size_within_bounds(
    counts: list[int], at: float
) -> None:
    sizes = np.array(counts)
    least = np.minimum(sizes, MIN_PER_STRATUM)
    size = int(least.sum()) + round(at * (int(sizes.sum()) - int(least.sum())))
    got = allocate(sizes, size)
    assert int(got.sum()) == size
    assert (got >= least).all()
    assert (got <= sizes).all()
    # one common rate r explains every stratum within one claim: a stratum inside its
    # bounds holds N·r ± 1, one at its minimum has N·r < minimum + 1, one taken whole
    # has N·r > N − 1
    low, high = Fraction(0), Fraction(10**9)
    for n, g, m in zip(counts, got.tolist(), least.tolist(), strict=True):
        if g > m:
            low = max(low, Fraction(g - 1, n))
        if g < n:
            high = min(high, Fraction(g + 1, n))
    assert low <= high, (counts, size, got.tolist())


def test_allocation_refuses_impossible_sizes() -> None:
    with pytest.raises(ConfigError, match="--size 3 cannot give each of the 2 strata"):
        allocate(np.array([10, 10]), 3)
    with pytest.raises(ConfigError, match="larger than the period's 20 claims"):
        allocate(np.array([10, 10]), 21)


def test_same_population_and_seed_give_the_same_sample_in_any_row_order() -> None:
    frame = population(2000)
    first = draw_sample(frame, period="2026-10", size=60, seed=42, strata=["facility"])
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=9)
    again = draw_sample(
        shuffled, period="2026-10", size=60, seed=42, strata=["facility"]
    )
    assert again.claims.equals(first.claims)
    assert again.sample_id == first.sample_id
    other = draw_sample(frame, period="2026-10", size=60, seed=43, strata=["facility"])
    assert not other.claims.equals(first.claims)
    assert other.sample_id != first.sample_id


def test_the_sample_follows_the_allocation() -> None:
    frame = population(3000)
    drawn = draw_sample(
        frame, period="2026-10", size=90, seed=3, strata=["facility", "type"]
    )
    assert drawn.claims.height == 90
    assert drawn.claims.select("file_id", "hoso_idx").is_unique().all()
    counted = drawn.claims.group_by("stratum").len().sort("stratum")
    assert counted["len"].to_list() == drawn.allocation["sampled"].to_list()
    assert drawn.allocation["population"].sum() == 3000
    # each sampled claim's stratum is its facility and type, and N_h is carried
    joined = drawn.claims.join(frame, on=["file_id", "hoso_idx"])
    labels = joined["ma_cskcb_right"] + "/" + joined["ma_loai_kcb"]
    assert (labels == joined["stratum"]).all()
    sizes = dict(drawn.allocation.select("stratum", "population").iter_rows())
    assert all(
        sizes[s] == n
        for s, n in drawn.claims.select("stratum", "population").iter_rows()
    )


def test_risk_bands_and_unscored_periods() -> None:
    frame = population(1000)
    drawn = draw_sample(
        frame, period="2026-10", size=40, seed=1, strata=["risk"], risk_bands=(0.5, 0.9)
    )
    assert drawn.allocation["stratum"].to_list() == ["r0", "r1", "r2"]
    # band r2 holds the claims scored 0.9 or more
    expected = int((frame["risk"] >= 0.9).sum())
    assert (
        drawn.allocation.filter(pl.col("stratum") == "r2")["population"][0] == expected
    )
    unscored = draw_sample(
        population(1000, scored=False),
        period="2026-10",
        size=40,
        seed=1,
        strata=["risk"],
    )
    assert unscored.allocation["stratum"].to_list() == ["r*"]
    partly = frame.with_columns(
        pl.when(pl.col("ma_cskcb") == "79003")
        .then(None)
        .otherwise("risk")
        .alias("risk")
    )
    bands = draw_sample(partly, period="2026-10", size=40, seed=1, strata=["risk"])
    assert "r-" in bands.allocation["stratum"].to_list()


def test_bad_options_are_told() -> None:
    frame = population(100)
    with pytest.raises(ConfigError, match="--strata 'facility,ward'"):
        draw_sample(
            frame, period="2026-10", size=10, seed=1, strata=["facility", "ward"]
        )
    with pytest.raises(ConfigError, match="strictly between 0 and 1"):
        draw_sample(frame, period="2026-10", size=10, seed=1, risk_bands=(1.5,))
    with pytest.raises(ConfigError, match="period 2026-10 holds no claims"):
        draw_sample(frame.head(0), period="2026-10", size=10, seed=1)
