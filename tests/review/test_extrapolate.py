"""The overpayment estimate from a reviewed sample (``claims.review.extrapolate``):
hand computations, collapsed strata, refusals, and the interval's coverage."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import polars as pl
import pytest

from claims.errors import ConfigError
from claims.review import NotReviewed, draw_sample, estimate_overpayment, t_quantile

D = Decimal
MONEY = pl.Decimal(38, 2)


def reviewed(rows: list[tuple[str, str, str, str]]) -> pl.DataFrame:
    """Sampled claims ``(stratum, facility, claimed, overpayment)``, all reviewed."""
    return pl.DataFrame(
        {
            "stratum": [r[0] for r in rows],
            "ma_cskcb": [r[1] for r in rows],
            "claimed_t_bhtt": pl.Series([D(r[2]) for r in rows], dtype=MONEY),
            "overpayment": pl.Series([D(r[3]) for r in rows], dtype=MONEY),
            "reviewed": [True] * len(rows),
        }
    )


def strata(rows: list[tuple[str, int, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "stratum": [r[0] for r in rows],
            "population": [r[1] for r in rows],
            "claimed": pl.Series([D(r[2]) for r in rows], dtype=MONEY),
        }
    )


SAMPLE = reviewed(
    [
        ("a", "01001", "100000", "10000"),
        ("a", "01001", "200000", "0"),
        ("a", "01001", "300000", "30000"),
        ("b", "01002", "50000", "5000"),
        ("b", "01002", "150000", "15000"),
        ("b", "01002", "400000", "0"),
        ("c", "79003", "80000", "8000"),
        ("c", "79003", "120000", "-2000"),
    ]
)
STRATA = strata([("a", 30, "6500000"), ("b", 40, "9000000"), ("c", 10, "1100000")])


def _var(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / (len(values) - 1)


def test_the_expansion_estimate_equals_a_hand_computation() -> None:
    got = estimate_overpayment(SAMPLE, STRATA)
    # Ŷ = 30·40000/3 + 40·20000/3 + 10·6000/2
    expected = D(400000) + D("266666.666666") + D(30000)
    row = got.totals.row(0, named=True)
    assert row["estimator"] == "expansion"
    assert row["estimate"] == expected.quantize(D("0.01"))
    variance = (
        30**2 * (1 - 3 / 30) * _var([10000, 0, 30000]) / 3
        + 40**2 * (1 - 3 / 40) * _var([5000, 15000, 0]) / 3
        + 10**2 * (1 - 2 / 10) * _var([8000, -2000]) / 2
    )
    t = t_quantile(0.975, 8 - 3)
    assert row["degrees_of_freedom"] == 5
    assert float(row["standard_error"]) == pytest.approx(math.sqrt(variance), abs=0.01)
    margin = float(row["upper"] - row["estimate"])
    assert margin == pytest.approx(t * math.sqrt(variance), abs=0.011)
    assert row["lower"] + row["upper"] == 2 * row["estimate"]
    per = dict(got.strata.select("stratum", "estimate").iter_rows())
    assert per == {"a": D("400000.00"), "b": D("266666.67"), "c": D("30000.00")}


def test_the_combined_ratio_estimate_equals_a_hand_computation() -> None:
    row = estimate_overpayment(SAMPLE, STRATA).totals.row(1, named=True)
    assert row["estimator"] == "ratio"
    ys = 400000 + 40 * 20000 / 3 + 30000
    xs = 30 * 600000 / 3 + 40 * 600000 / 3 + 10 * 200000 / 2
    rate = ys / xs
    assert float(row["estimate"]) == pytest.approx(
        rate * (6500000 + 9000000 + 1100000), abs=0.01
    )

    def residuals(pairs: list[tuple[int, int]]) -> float:
        return _var([y - rate * x for x, y in pairs])

    variance = (
        30**2
        * (1 - 3 / 30)
        * residuals([(100000, 10000), (200000, 0), (300000, 30000)])
        / 3
        + 40**2
        * (1 - 3 / 40)
        * residuals([(50000, 5000), (150000, 15000), (400000, 0)])
        / 3
        + 10**2 * (1 - 2 / 10) * residuals([(80000, 8000), (120000, -2000)]) / 2
    )
    assert float(row["standard_error"]) == pytest.approx(math.sqrt(variance), abs=0.01)


def test_a_stratum_with_one_reviewed_claim_borrows_its_neighbours_variance() -> None:
    sample = SAMPLE.filter(~((pl.col("stratum") == "c") & (pl.col("overpayment") < 0)))
    got = estimate_overpayment(sample, STRATA).strata.row(2, named=True)
    assert got["stratum"] == "c"
    assert got["collapsed_with"] == "b"  # the last stratum's neighbour is the previous
    assert got["estimate"] == D("80000.00")  # its own estimate: 10 × 8000
    pooled = _var([8000, 5000, 15000, 0])
    assert float(got["standard_error"]) == pytest.approx(
        math.sqrt(10**2 * (1 - 1 / 10) * pooled), abs=0.01
    )
    # a stratum reviewed whole has no sampling variance, and is not collapsed
    whole = estimate_overpayment(
        sample,
        STRATA.with_columns(
            pl.when(pl.col("stratum") == "c")
            .then(1)
            .otherwise("population")
            .alias("population")
        ),
    ).strata.row(2, named=True)
    assert whole["collapsed_with"] is None
    assert whole["standard_error"] == 0


def test_facility_totals_add_up_to_the_total() -> None:
    got = estimate_overpayment(SAMPLE, STRATA)
    assert got.facilities["ma_cskcb"].to_list() == ["01001", "01002", "79003"]
    assert got.facilities["estimate"].sum() == got.strata["estimate"].sum()
    mixed = SAMPLE.with_columns(
        pl.when(pl.col("overpayment") == 0)
        .then(pl.lit("01009"))
        .otherwise("ma_cskcb")
        .alias("ma_cskcb")
    )
    assert estimate_overpayment(mixed, STRATA).facilities.height == 0


def test_unreviewed_claims_are_refused_unless_partial_is_allowed() -> None:
    partial = SAMPLE.with_columns(
        (pl.col("claimed_t_bhtt") != D(300000)).alias("reviewed"),
        pl.when(pl.col("claimed_t_bhtt") == D(300000))
        .then(None)
        .otherwise("overpayment")
        .alias("overpayment"),
    )
    with pytest.raises(NotReviewed, match="1 of the 8 sampled claims are not reviewed"):
        estimate_overpayment(partial, STRATA)
    got = estimate_overpayment(partial, STRATA, allow_partial=True)
    assert got.missing == 1
    assert got.strata.row(0, named=True)["estimate"] == D("150000.00")  # 30 × 10000/2
    none_in_c = partial.with_columns((pl.col("stratum") != "c").alias("reviewed"))
    with pytest.raises(ConfigError, match="1 strata have no reviewed claim \\(c\\)"):
        estimate_overpayment(none_in_c, STRATA, allow_partial=True)
    with pytest.raises(ConfigError, match=r"--confidence 1\.5"):
        estimate_overpayment(SAMPLE, STRATA, confidence=1.5)


def test_t_quantiles() -> None:
    assert t_quantile(0.975, 1) == pytest.approx(12.7062, abs=1e-3)
    assert t_quantile(0.975, 5) == pytest.approx(2.5706, abs=1e-4)
    assert t_quantile(0.995, 30) == pytest.approx(2.7500, abs=1e-4)
    assert t_quantile(0.975, 10_000) == pytest.approx(1.9602, abs=1e-3)


def synthetic_population(seed: int = 11) -> pl.DataFrame:
    """6,000 claims at 4 facilities; 10–40 % of a facility's claims overpaid by 10–60 %
    of their claimed T_BHTT (lognormal); ``_over`` is the truth."""
    rng = np.random.default_rng(seed)
    sizes = {"01001": 3000, "01002": 1500, "02003": 1100, "03004": 400}
    rates = {"01001": 0.1, "01002": 0.25, "02003": 0.4, "03004": 0.15}
    facility = np.concatenate([[f] * n for f, n in sizes.items()])
    claimed = np.round(rng.lognormal(13, 0.6, facility.size))
    hit = rng.random(facility.size) < np.array([rates[f] for f in facility])
    over = np.where(hit, np.round(claimed * rng.uniform(0.1, 0.6, facility.size)), 0)
    return pl.DataFrame(
        {
            "ma_cskcb": facility,
            "ma_lk": [f"LK{i:06d}" for i in range(facility.size)],
            "file_id": "f",
            "hoso_idx": pl.Series(np.arange(facility.size), dtype=pl.UInt32),
            "ma_loai_kcb": "1",
            "claimed_t_bhtt": pl.Series([D(int(v)) for v in claimed], dtype=MONEY),
            "risk": pl.Series([None] * facility.size, dtype=pl.Float64),
            "_over": pl.Series([D(int(v)) for v in over], dtype=MONEY),
        }
    )


def coverage(repetitions: int, size: int = 300) -> dict[str, float]:
    """The share of seeded samples whose 95 % interval holds the true total."""
    frame = synthetic_population()
    truth = frame["_over"].sum()
    covered = {"expansion": 0, "ratio": 0}
    for seed in range(repetitions):
        drawn = draw_sample(
            frame, period="2026-10", size=size, seed=seed, strata=["facility"]
        )
        found = drawn.claims.join(
            frame.select("file_id", "hoso_idx", "_over"), on=["file_id", "hoso_idx"]
        ).select(
            "stratum",
            "ma_cskcb",
            "claimed_t_bhtt",
            pl.col("_over").alias("overpayment"),
            pl.lit(True).alias("reviewed"),
        )
        got = estimate_overpayment(found, drawn.allocation)
        for row in got.totals.iter_rows(named=True):
            covered[row["estimator"]] += row["lower"] <= truth <= row["upper"]
    return {name: hits / repetitions for name, hits in covered.items()}


def test_the_interval_covers_the_truth_fast() -> None:
    got = coverage(60)
    assert 0.83 <= got["expansion"] <= 1.0, got
    assert 0.83 <= got["ratio"] <= 1.0, got


@pytest.mark.slow
def test_the_interval_covers_the_truth_about_95_percent() -> None:
    got = coverage(400)
    assert 0.92 <= got["expansion"] <= 0.98, got
    assert 0.92 <= got["ratio"] <= 0.98, got
