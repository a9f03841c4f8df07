"""A stratified random sample of a period's claims, for review and extrapolation.

Pure: the population is a frame (one row per current claim of the period), the seed is
given; the CLI draws a seed when none is given and records it, the store keeps the
sample.

**Strata** are the combinations of any of:

- ``facility``: the claim's MA_CSKCB;
- ``type``: its MA_LOAI_KCB (the claim type: outpatient, day care, inpatient …);
- ``risk``: the band of its anomaly risk score (0–1), cut at :data:`RISK_BANDS`
  (``--risk-bands``): ``r0`` below the first cut, ``r1`` up to the second, …; a claim
  the period's scoring did not score is in band ``r-`` ; a period without scores has one
  band, ``r*``.

**Allocation**: proportional to the stratum's number of claims N_h, with at least
:data:`MIN_PER_STRATUM` (2) claims per stratum (so that each stratum's variance can be
estimated; a stratum with fewer claims is taken whole) and never more than N_h. A
stratum whose proportional share ``size × N_h / N`` is below its minimum gets the
minimum, and the rest of ``size`` is shared again, proportionally, among the other
strata (repeated until no share falls below a minimum); the shares are then floored and
the claims left go one by one to the largest remainders (ties by stratum name). The
allocation sums to ``size`` exactly, and every stratum above its minimum is within one
claim of its proportional share of what the minimums leave.

**Draw**: the population is sorted by stratum and claim version (file_id, HOSO
index: unique), a ``numpy.random.Generator`` (PCG64) seeded with the recorded seed gives
that order a random permutation, and each stratum keeps its ``n_h`` claims with the
smallest permutation ranks: a simple random sample without replacement per stratum.
The same population and seed give the same sample whatever the population's row order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import polars as pl

from claims.errors import ConfigError
from claims.ids import content_id, frame_digest

STRATA = ("facility", "type", "risk")
"""The dimensions a sample can be stratified by (``--strata``)."""
RISK_BANDS = (0.5, 0.9, 0.99)
"""Default cuts of the risk bands: the scores are calibrated so that a risk of r
ranks above a share r of the period's claims, so these bands hold about 50 %, 40 %, 9 %
and 1 % of a scored period's claims."""
MIN_PER_STRATUM = 2
"""The fewest claims drawn from a stratum (all of it when it has fewer): two sampled
claims are the fewest that give the stratum a variance."""
KEYS = ("ma_cskcb", "ma_lk", "file_id", "hoso_idx")
"""A claim version's keys in the population and the sample."""
POPULATION_COLUMNS = (*KEYS, "ma_loai_kcb", "claimed_t_bhtt", "risk")
"""What :func:`draw_sample` needs of each claim (``risk`` null where unscored)."""
ORDER = ("file_id", "hoso_idx")
"""What orders the claims of a stratum before the draw: a claim version's unique key."""
_DIMENSION_COLUMN = {"facility": "ma_cskcb", "type": "ma_loai_kcb"}


class Sample(NamedTuple):
    """A drawn sample and what was drawn from."""

    sample_id: str
    seed: int
    strata: tuple[str, ...]
    risk_bands: tuple[float, ...]
    size: int
    allocation: pl.DataFrame
    """``stratum, population (N_h), claimed (X_h), sampled (n_h)``, by stratum."""
    claims: pl.DataFrame
    """``stratum, ma_cskcb, ma_lk, file_id, hoso_idx, population, claimed_t_bhtt``."""

    def spec(self) -> str:
        """The strata spec as stored (JSON: dimensions, risk cuts, allocation rule)."""
        return strata_spec(self.strata, self.risk_bands)


def parse_strata(text: str) -> tuple[str, ...]:
    """``facility,type,risk`` → the dimensions, checked, in the order given.

    Raises:
        ConfigError: a name is not one of :data:`STRATA`, or appears twice.
    """
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in STRATA]
    if unknown or len(set(names)) != len(names):
        msg = (
            f"--strata {text!r}: give distinct names among {', '.join(STRATA)} "
            "separated by commas (e.g. --strata facility,type)"
        )
        raise ConfigError(msg)
    return names


def strata_spec(strata: Sequence[str], risk_bands: Sequence[float]) -> str:
    """The stored description of how a sample was stratified and allocated."""
    return json.dumps(
        {
            "strata": list(strata),
            "risk_bands": list(risk_bands),
            "allocation": f"proportional, min {MIN_PER_STRATUM} per stratum",
        },
        sort_keys=True,
    )


def stratum_labels(
    population: pl.DataFrame, strata: Sequence[str], risk_bands: Sequence[float]
) -> pl.Expr:
    """The expression naming each claim's stratum: its dimensions' values joined by
    ``/`` (``01002/1/r2``), or ``all`` when there is no dimension."""
    parts: list[pl.Expr] = []
    for name in strata:
        if name == "risk":
            parts.append(_risk_band(population, risk_bands))
        else:
            parts.append(pl.col(_DIMENSION_COLUMN[name]).fill_null("?"))
    if not parts:
        return pl.lit("all")
    return pl.concat_str(parts, separator="/")


def _risk_band(population: pl.DataFrame, cuts: Sequence[float]) -> pl.Expr:
    if population["risk"].null_count() == population.height:
        return pl.lit("r*")
    band = pl.lit(0, dtype=pl.Int32)
    for cut in cuts:
        band = band + (pl.col("risk") >= cut).cast(pl.Int32)
    return (
        pl.when(pl.col("risk").is_null())
        .then(pl.lit("r-"))
        .otherwise(pl.lit("r") + band.cast(pl.String))
    )


def allocate(populations: np.ndarray, size: int) -> np.ndarray:
    """Proportional allocation of ``size`` over strata of ``populations`` claims, at
    least :data:`MIN_PER_STRATUM` (or the whole stratum) each, at most the stratum.

    Raises:
        ConfigError: ``size`` is below the minimums' sum or above the population.
    """
    counts = populations.astype(np.int64)
    floor = np.minimum(counts, MIN_PER_STRATUM)
    total = int(counts.sum())
    if size > total:
        msg = f"--size {size} is larger than the period's {total:,} claims"
        raise ConfigError(msg)
    if size < int(floor.sum()):
        msg = (
            f"--size {size} cannot give each of the {counts.size:,} strata its "
            f"{MIN_PER_STRATUM} claims: give --size {int(floor.sum())} or more, or "
            "fewer strata"
        )
        raise ConfigError(msg)
    fixed = np.zeros(counts.size, dtype=bool)
    sampled = floor.copy()
    while True:  # at most one pass per stratum: each pass fixes one or ends
        rest = size - int(sampled[fixed].sum())
        share = np.where(fixed, 0.0, rest * counts / max(int(counts[~fixed].sum()), 1))
        low, high = ~fixed & (share < floor), ~fixed & (share > counts)
        if not (low.any() or high.any()):
            break
        sampled = np.where(low, floor, np.where(high, counts, sampled))
        fixed |= low | high
    free = ~fixed
    sampled[free] = np.floor(share[free]).astype(np.int64)
    gap = size - int(sampled.sum())
    order = np.lexsort((np.arange(counts.size), -(share - sampled)))
    sampled[order[free[order]][:gap]] += 1
    return sampled


def draw_sample(
    population: pl.DataFrame,
    *,
    period: str,
    size: int,
    seed: int,
    strata: Sequence[str] = (),
    risk_bands: Sequence[float] = RISK_BANDS,
) -> Sample:
    """Draw the stratified sample of ``size`` claims from ``population``
    (:data:`POPULATION_COLUMNS`) with ``seed`` (see the module docstring).

    Raises:
        ConfigError: an unknown stratum, bad risk cuts, an empty population, or a size
            the allocation cannot meet.
    """
    strata = parse_strata(",".join(strata))
    bands = tuple(sorted(float(b) for b in risk_bands))
    if any(not 0.0 < b < 1.0 for b in bands):
        msg = f"--risk-bands {list(risk_bands)}: give cuts strictly between 0 and 1"
        raise ConfigError(msg)
    if population.height == 0:
        msg = f"period {period} holds no claims to sample; check --period"
        raise ConfigError(msg)
    if size < 1:
        msg = f"--size {size}: give a positive number of claims"
        raise ConfigError(msg)
    labelled = (
        population.select(POPULATION_COLUMNS)
        .with_columns(stratum_labels(population, strata, bands).alias("stratum"))
        .sort("stratum", *ORDER)
    )
    allocation = _allocation(labelled, size)
    rng = np.random.Generator(np.random.PCG64(seed))
    chosen = (
        labelled.with_columns(
            pl.Series("_rank", rng.permutation(labelled.height)),
        )
        .join(allocation, on="stratum", how="left", maintain_order="left")
        .filter(pl.col("_rank").rank("ordinal").over("stratum") <= pl.col("sampled"))
        .select("stratum", *KEYS, pl.col("population").cast(pl.Int64), "claimed_t_bhtt")
    )
    sample_id = content_id(
        "sample",
        period=period,
        seed=seed,
        strata=strata_spec(strata, bands),
        size=size,
        allocation="proportional-min2",
        population=frame_digest(labelled.select("stratum", *KEYS, "claimed_t_bhtt")),
    )
    return Sample(sample_id, seed, strata, bands, size, allocation, chosen)


def _allocation(labelled: pl.DataFrame, size: int) -> pl.DataFrame:
    per = (
        labelled.group_by("stratum")
        .agg(
            pl.len().cast(pl.Int64).alias("population"),
            pl.col("claimed_t_bhtt").sum().alias("claimed"),
        )
        .sort("stratum")
    )
    sampled = allocate(per["population"].to_numpy(), size)
    return per.with_columns(pl.Series("sampled", sampled, dtype=pl.Int64))
