"""The population's overpayment estimated from a reviewed stratified sample.

Pure: the reviewed sample and its strata come in as frames, the estimate goes out.

**What is estimated.** A sampled claim's overpayment ``y`` is the T_BHTT the engine
accepted (its first decision) minus the T_BHTT accepted after review (the claim's current
decision): **signed** — a review that accepts more than the engine did counts negative,
so the estimate is the net amount the fund paid too much (what a post-audit recovers or
owes). The auxiliary ``x`` is the claim's claimed T_BHTT, known for every claim.

**The estimator (primary): the stratified expansion (Horvitz–Thompson) estimator.**
Per stratum h with N_h claims, n_h of them reviewed, sample mean ȳ_h and sample variance
s²_h (n_h − 1 in the denominator)::

    Ŷ_h = N_h · ȳ_h            v_h = N_h² · (1 − n_h/N_h) · s²_h / n_h
    Ŷ   = Σ Ŷ_h                V   = Σ v_h

It is unbiased under the stratified simple random design, and additive: a facility's
total (when the strata are facilities, or facility × …) is the sum of its strata's Ŷ_h
with the sum of their v_h, and the facilities' totals add up to Ŷ, which is what a
post-audit posting per facility needs. The **combined ratio estimator** on claimed
money is reported beside it (``ratio``): R̂ = Σ N_h ȳ_h / Σ N_h x̄_h, Ŷ_R = R̂ · X (X the
population's claimed T_BHTT), its variance the expansion formula on the residuals
d = y − R̂ x. It is usually tighter when overpayments scale with the claimed money, but
biased in small samples and not additive per facility, hence not the primary.

**Interval**: Ŷ ± t · √V, t the Student quantile of the confidence (two-sided, 0.95 by
default) with n − H degrees of freedom (n reviewed claims in H strata; at least 1).

**A stratum with one reviewed claim** (and more than one claim: a stratum reviewed whole
has no sampling variance) has no variance of its own: it is *collapsed* with its
neighbour — the next stratum in name order, the previous one for the last — for its
variance only: s²_h is then the sample variance of the two strata's reviewed claims
together. Its estimate Ŷ_h stays its own. A stratum none of whose sampled claims is
reviewed yet cannot be estimated (refused).

**Missing reviews.** :func:`extrapolate` refuses while sampled claims are not reviewed;
with ``allow_partial`` it estimates from the reviewed ones (n_h = reviewed in the
stratum), which assumes the missing reviews are missing at random within each stratum.

Amounts are Decimal đồng (point estimates exact to the đồng's hundredth, then rounded
half-up); variances and the quantile are floats (statistics, not amounts anyone claimed).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import NamedTuple

import numpy as np
import polars as pl

from claims.errors import ClaimsError, ConfigError
from claims.money import MONEY, round_money

ESTIMATOR = (
    "stratified expansion (Horvitz–Thompson): Ŷ = Σ N_h·ȳ_h, "
    "V = Σ N_h²(1 − n_h/N_h)s²_h/n_h; Student t with n − H df; "
    "a stratum with one reviewed claim borrows the variance of it and its neighbour"
)
"""The estimator, as the CLI names it."""
RATIO = "combined ratio on claimed T_BHTT: Ŷ_R = X·Σ N_h·ȳ_h / Σ N_h·x̄_h"
SAMPLE_COLUMNS = ("stratum", "ma_cskcb", "claimed_t_bhtt", "overpayment", "reviewed")
"""What :func:`extrapolate` reads of each sampled claim (``overpayment`` null when
not reviewed)."""
STRATA_COLUMNS = ("stratum", "population", "claimed")
"""What it reads of each stratum: N_h and X_h (claimed T_BHTT of all its claims)."""


class NotReviewed(ClaimsError):
    """Sampled claims are not reviewed yet: the estimate would assume too much."""


class Extrapolation(NamedTuple):
    """The estimate, per estimator, per stratum and per facility."""

    totals: pl.DataFrame
    """One row per estimator (``expansion`` first): estimate, lower, upper,
    standard_error, confidence, degrees of freedom, quantile, claims reviewed."""
    strata: pl.DataFrame
    """One row per stratum: N_h, X_h, sampled, reviewed, Σy, Ŷ_h, its interval, and the
    stratum its variance was collapsed with (if any)."""
    facilities: pl.DataFrame
    """Per facility (when every stratum lies in one facility): Ŷ and its interval."""
    missing: int
    """Sampled claims not reviewed (estimated without them)."""


def extrapolate(
    sample: pl.DataFrame,
    strata: pl.DataFrame,
    *,
    confidence: float = 0.95,
    allow_partial: bool = False,
) -> Extrapolation:
    """Estimate the population's overpayment (see the module docstring).

    Raises:
        NotReviewed: sampled claims are not reviewed and ``allow_partial`` is false.
        ConfigError: a confidence outside (0, 1), a stratum without a reviewed claim,
            or fewer than two reviewed claims.
    """
    if not 0.0 < confidence < 1.0:
        msg = f"--confidence {confidence}: give a level between 0 and 1 (e.g. 0.95)"
        raise ConfigError(msg)
    missing = int((~sample["reviewed"]).sum())
    if missing and not allow_partial:
        msg = (
            f"{missing:,} of the {sample.height:,} sampled claims are not reviewed "
            "yet: review them (`giamdinh review decide`), or estimate from the "
            "reviewed ones with --allow-partial (the interval then assumes the "
            "missing reviews are missing at random)"
        )
        raise NotReviewed(msg)
    per = _per_stratum(sample.filter(pl.col("reviewed")), strata)
    reviewed = int(per["reviewed"].sum())
    if reviewed < 2:
        msg = f"only {reviewed} sampled claim(s) reviewed: an interval needs two"
        raise ConfigError(msg)
    df = max(reviewed - per.height, 1)
    t = t_quantile(0.5 + confidence / 2, df)
    ratio = _ratio(sample.filter(pl.col("reviewed")), per)
    per = per.with_columns(_interval("estimate", "variance", t))
    rows = [
        _total(
            "expansion",
            ESTIMATOR,
            sum(per["estimate"], Decimal(0)),
            float(per["variance"].sum()),
        ),
        _total("ratio", RATIO, ratio[0], ratio[1]),
    ]
    totals = pl.DataFrame(rows).with_columns(
        *_interval("estimate", "variance", t),
        pl.lit(confidence).alias("confidence"),
        pl.lit(df).alias("degrees_of_freedom"),
        pl.lit(t).alias("quantile"),
        pl.lit(reviewed).alias("reviewed"),
        pl.lit(int(strata["population"].sum())).alias("population"),
    )
    return Extrapolation(
        _money(totals).drop("variance"),
        _money(per).drop("variance", "_x_sum"),
        _facilities(sample, per, t),
        missing,
    )


def _per_stratum(reviewed: pl.DataFrame, strata: pl.DataFrame) -> pl.DataFrame:
    """Per stratum: N_h, X_h, n_h, Σy, Ŷ_h (Decimal) and v_h (float), collapsed
    singletons' variances borrowed from their neighbour."""
    y = pl.col("overpayment")
    stats = reviewed.group_by("stratum").agg(
        pl.len().cast(pl.Int64).alias("reviewed"),
        y.sum().alias("overpayment_reviewed"),
        pl.col("claimed_t_bhtt").sum().alias("_x_sum"),
    )
    per = (
        strata.select(STRATA_COLUMNS)
        .join(stats, on="stratum", how="left")
        .sort("stratum")
        .with_columns(pl.col("reviewed").fill_null(0))
    )
    empty = per.filter(pl.col("reviewed") == 0)["stratum"].to_list()
    if empty:
        msg = (
            f"{len(empty)} strata have no reviewed claim ({', '.join(empty[:5])}): "
            "review at least one sampled claim of each"
        )
        raise ConfigError(msg)
    s2, collapsed = _collapse(reviewed, per, "overpayment")
    counts = per["population"].to_numpy().astype(np.float64)
    n = per["reviewed"].to_numpy().astype(np.float64)
    variance = counts**2 * (1 - n / counts) * s2 / n
    estimates = [
        round_money(Decimal(int(big)) * Decimal(total) / Decimal(int(small)))
        for big, total, small in zip(
            per["population"], per["overpayment_reviewed"], per["reviewed"], strict=True
        )
    ]
    return per.with_columns(
        pl.Series("estimate", estimates, dtype=MONEY),
        pl.Series("variance", variance, dtype=pl.Float64),
        pl.Series("collapsed_with", collapsed, dtype=pl.String),
    )


def _collapse(
    reviewed: pl.DataFrame, per: pl.DataFrame, column: str
) -> tuple[np.ndarray, list[str | None]]:
    """Each stratum's s² of ``column``; a stratum with one reviewed claim (and more
    claims than that) takes the s² of its reviewed claims pooled with its neighbour's.
    The neighbour of each such stratum, else None."""
    names = per["stratum"].to_list()
    own = reviewed.group_by("stratum").agg(pl.col(column).cast(pl.Float64).var())
    s2 = (
        per.select("stratum")
        .join(own, on="stratum", how="left")[column]
        .fill_null(0.0)
        .to_numpy()
        .copy()
    )
    single = (per["reviewed"] == 1) & (per["population"] > 1)
    collapsed: list[str | None] = [None] * len(names)
    for i in np.flatnonzero(single.to_numpy()):
        if len(names) == 1:
            continue
        j = i + 1 if i + 1 < len(names) else i - 1
        pair = reviewed.filter(pl.col("stratum").is_in([names[i], names[j]]))
        s2[i] = float(pair[column].cast(pl.Float64).var() or 0.0)  # type: ignore[arg-type]
        collapsed[i] = names[j]
    return s2, collapsed


def _ratio(reviewed: pl.DataFrame, per: pl.DataFrame) -> tuple[Decimal, float]:
    """The combined ratio estimate and its variance."""
    x_mean = [
        Decimal(x) / Decimal(int(n))
        for x, n in zip(per["_x_sum"], per["reviewed"], strict=True)
    ]
    xs = sum(
        (Decimal(int(b)) * m for b, m in zip(per["population"], x_mean, strict=True)),
        Decimal(0),
    )
    ys = sum(per["estimate"], Decimal(0))
    if xs == 0:
        return Decimal(0), 0.0
    rate = ys / xs
    total = round_money(rate * Decimal(per["claimed"].sum()))
    residual = reviewed.with_columns(
        (
            pl.col("overpayment").cast(pl.Float64)
            - float(rate) * pl.col("claimed_t_bhtt").cast(pl.Float64)
        ).alias("_d")
    )
    s2, _ = _collapse(residual, per, "_d")
    counts = per["population"].to_numpy().astype(np.float64)
    n = per["reviewed"].to_numpy().astype(np.float64)
    return total, float(np.sum(counts**2 * (1 - n / counts) * s2 / n))


def _total(
    name: str, text: str, estimate: Decimal, variance: float
) -> dict[str, object]:
    return {
        "estimator": name,
        "method": text,
        "estimate": estimate,
        "variance": variance,
    }


def _interval(estimate: str, variance: str, t: float) -> list[pl.Expr]:
    """standard_error, lower and upper (as floats; :func:`_money` makes them Decimal)."""
    se = pl.col(variance).clip(lower_bound=0.0).sqrt()
    point = pl.col(estimate).cast(pl.Float64)
    return [
        se.alias("standard_error"),
        (point - t * se).alias("lower"),
        (point + t * se).alias("upper"),
    ]


def _money(frame: pl.DataFrame) -> pl.DataFrame:
    """The interval's bounds and the standard error as Decimal đồng: the estimate
    (exact) ∓ the margin rounded half-up to the hundredth."""
    margin = (pl.col("upper") - pl.col("estimate").cast(pl.Float64)).round(2)
    exact = pl.col("estimate").cast(MONEY)
    return frame.with_columns(
        exact,
        (exact - margin.cast(MONEY)).alias("lower"),
        (exact + margin.cast(MONEY)).alias("upper"),
        pl.col("standard_error").round(2).cast(MONEY),
    )


def _facilities(sample: pl.DataFrame, per: pl.DataFrame, t: float) -> pl.DataFrame:
    """Per facility: the sum of its strata's estimates and variances, when each
    stratum lies in one facility (the strata include ``facility``); else empty."""
    owner = sample.group_by("stratum").agg(
        pl.col("ma_cskcb").n_unique().alias("_n"), pl.col("ma_cskcb").first()
    )
    columns: dict[str, pl.DataType] = {
        "ma_cskcb": pl.String(),
        "estimate": MONEY,
        "lower": MONEY,
        "upper": MONEY,
        "standard_error": MONEY,
    }
    if owner["_n"].max() != 1:
        return pl.DataFrame(schema=columns)
    summed = (
        per.join(owner.drop("_n"), on="stratum")
        .group_by("ma_cskcb")
        .agg(pl.col("estimate").sum(), pl.col("variance").sum())
        .sort("ma_cskcb")
        .with_columns(_interval("estimate", "variance", t))
    )
    return _money(summed).select(list(columns))


def t_quantile(p: float, df: int) -> float:
    """The Student t quantile of probability ``p`` (0.5 < p < 1) with ``df`` degrees of
    freedom: the t density integrated by Simpson's rule, inverted by bisection
    (accurate to about 1e-6; numpy has no t quantile, and the package no scipy)."""
    log_c = (
        math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    )

    def cdf(x: float) -> float:
        grid = np.linspace(0.0, x, 4001)
        density = np.exp(log_c - (df + 1) / 2 * np.log1p(grid**2 / df))
        weights = np.ones(grid.size)
        weights[1:-1:2], weights[2:-1:2] = 4.0, 2.0
        return 0.5 + float(weights @ density) * float(grid[1] - grid[0]) / 3

    low, high = 0.0, 1.0
    while cdf(high) < p:
        low, high = high, high * 2
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if cdf(middle) < p else (low, middle)
    return float((low + high) / 2)
