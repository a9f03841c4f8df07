"""One 0–1 risk per claim and per facility, calibrated on the frame scored.

Claim risk. Each feature of :data:`~claims.anomalies.profile.FEATURES` is transformed
(log1p for costs, days and counts; as is for shares) and turned into a robust z within
the claim's peer group (``claims.anomalies.robust``). Features differ in how heavy
their tails are (most claims hold no supplies; a few hold many), so a z is not read
against a normal curve but against the frame itself (a z below 0 counts as 0 for a
one-sided feature; ``|z|`` for a two-sided one). A feature contributes only when the
claim is in the frame's top ``Scoring.tail_share`` (1 % by default) of that feature's
z's; it then contributes ``−ln P(Z ≥ z)`` under a peaks-over-threshold model of that
tail: ``P(Z ≥ z) = P(Z ≥ u) · exp(−(z − u) / s)``, u the smallest z in the tail and s
the tail's mean excess over u (an exponential tail, so a claim far beyond the others
keeps rising instead of stopping at 1/n), times the feature's ``weight`` (1, or ½ for
the broad features that sum up the whole claim: ``claims.anomalies.profile.Feature``).
The claim's ``statistic`` is the LARGEST of its contributions (Tippett's minimum
p-value: with 15 features, a sum lets many ordinary claims that sit in the tails of two
or three correlated broad features (cost, lines, shares) outrank the claim that is far
out on one specific feature; on a generated month the sum found 46 % of the anomalies
in the riskiest 1 %, the largest 80 %). The explanation names the feature that drove
it first. It is calibrated empirically: ``risk`` = the share
of the frame's claims whose statistic is lower, so a risk of 0.99 means the claim is
further from its peers than 99 % of the period's claims, and reviewing the claims with
risk ≥ 1 − c reviews a share c of them. Ties share a risk (most claims, with no
feature in its tail, have risk 0). The ranking is invariant to row order and
deterministic; money does not enter the risk (the review queue weighs it by the money
at risk).

The defaults (tail share 1 %, the features and their weights) were chosen on a
generated 30,000-claim month (seed 11) and checked on another (100,000 claims, seed
12): see the report in
``docs/architecture.md`` and the commit that set them.

Facility risk. A facility's claims' mid-rank risks (the share of the frame's claims
below each, ties counted half) are uniform on [0, 1] when nothing sets it apart, so
``claims_z`` = (their mean − ½) · √(12 n) is a standard normal statistic of how far its
n claims sit above their peers (conservative when many claims tie at 0). When an
earlier month is known, ``trend_z`` is the robust z, among the facilities of the same
level, of the change of the log of the facility's median cost per claim from that
month to this one. The facility's
statistic is ``½ · max(claims_z, 0)² + ½ · max(trend_z, 0)²`` and its risk the share of
the frame's facilities with a lower statistic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

from claims.anomalies.peers import MIN_GROUP, assign_peers
from claims.anomalies.profile import FEATURES, Feature
from claims.anomalies.robust import SCALE_FLOOR, robust_z

KEYS = ("file_id", "hoso_idx", "ma_cskcb", "ma_lk")
TAIL_SHARE = 0.01
"""The default ``Scoring.tail_share`` (``Settings.anomaly_tail_share``)."""


@dataclass(frozen=True)
class Scoring:
    """The parameters of a scoring (``Settings.anomaly_*``).

    Attributes:
        min_group: the smallest peer group (``claims.anomalies.peers``).
        scale_floor: the smallest within-group scale as a share of the feature's
            scale over the frame (``claims.anomalies.robust``).
        tail_share: a feature contributes to a claim's statistic when the claim's z
            is in the frame's top ``tail_share`` of that feature's z's.
    """

    min_group: int = MIN_GROUP
    scale_floor: float = SCALE_FLOOR
    tail_share: float = TAIL_SHARE


def _transformed(feature: Feature) -> pl.Expr:
    value = pl.col(feature.name).cast(pl.Float64)
    if feature.transform == "log":
        value = value.clip(lower_bound=0).log1p()
    elif feature.transform == "neglog":
        value = -value.clip(lower_bound=0).log1p()
    return value.alias(f"{feature.name}__x")


def _contribution(feature: Feature, tail_share: float) -> pl.Expr:
    """``−ln P(Z ≥ z)`` of the claim's z under the frame's tail of the feature's z's
    (a peaks-over-threshold model) times the feature's weight, for claims in that
    tail; else 0."""
    z = pl.col(f"{feature.name}__x__z").fill_null(0.0)
    z = z.clip(lower_bound=0.0) if feature.tail == "upper" else z.abs()
    at_least = pl.len() - z.rank("min") + 1
    in_tail = (at_least.cast(pl.Float64) / pl.len() <= tail_share) & (z > 0)
    threshold = z.filter(in_tail).min()
    entered = (z >= threshold).mean()
    excess = z - threshold
    mean_excess = excess.filter(in_tail).mean()
    scale = pl.when(mean_excess > 0).then(mean_excess).otherwise(1.0)
    surprise = (-entered.log() + excess / scale) * feature.weight
    return pl.when(in_tail).then(surprise).otherwise(0.0).alias(f"{feature.name}__c")


def score_claims(profiles: pl.DataFrame, scoring: Scoring = Scoring()) -> pl.DataFrame:
    """``profiles`` (``claims.anomalies.profile.claim_profiles``) scored, in their order.

    Adds ``peer_level, peer_group, peer_n``; per feature ``f``: ``f__median`` (the peer
    group's median of the raw value), ``f__z`` and ``f__c`` (its contribution);
    ``statistic`` and ``risk`` (0–1, see the module).

    Raises:
        ValueError: ``scoring.tail_share`` is not in (0, 1].
    """
    if not 0 < scoring.tail_share <= 1:
        msg = f"the tail share is a share of the claims in (0, 1], not {scoring.tail_share}"
        raise ValueError(msg)
    transformed = profiles.with_columns(_transformed(f) for f in FEATURES)
    peered = assign_peers(transformed, scoring.min_group)
    raw_medians = _raw_medians(peered)
    scored = robust_z(
        peered,
        {f"{f.name}__x": f.min_scale for f in FEATURES},
        scoring.scale_floor,
        frozenset(f"{f.name}__x" for f in FEATURES if f.tail == "upper"),
    )
    contributions = [f"{f.name}__c" for f in FEATURES]
    scored = scored.with_columns(
        _contribution(f, scoring.tail_share) for f in FEATURES
    ).with_columns(
        pl.max_horizontal(contributions).alias("statistic"),
        *(pl.col(f"{f.name}__x__z").alias(f"{f.name}__z") for f in FEATURES),
    )
    n = scored.height
    risk = (
        (pl.col("statistic").rank("min") - 1).cast(pl.Float64) / n if n else pl.lit(0.0)
    )
    kept = [
        *profiles.columns,
        "peer_level",
        "peer_group",
        "peer_n",
        *(f"{f.name}__z" for f in FEATURES),
        *contributions,
        "statistic",
    ]
    return (
        scored.select(kept)
        .join(raw_medians, on="peer_group", how="left", maintain_order="left")
        .with_columns(risk.alias("risk"))
    )


def _raw_medians(peered: pl.DataFrame) -> pl.DataFrame:
    """``peer_group`` and ``f__median`` of each feature's raw value (what an assessor
    reads beside the claim's own)."""
    from claims.anomalies.robust import peer_stats

    raw = peered.with_columns(pl.col(f.name).cast(pl.Float64) for f in FEATURES)
    stats = peer_stats(raw, [f.name for f in FEATURES])
    return stats.select("peer_group", *(f"{f.name}__median" for f in FEATURES))


def facility_risk(
    scores: pl.DataFrame, earlier: pl.DataFrame | None = None
) -> pl.DataFrame:
    """One row per facility of ``scores``, by MA_CSKCB: ``ma_cskcb, level, claims,
    mean_risk, claims_z, median_cost, earlier_median_cost, trend_z, statistic, risk``.

    ``earlier``: ``ma_cskcb, median_cost`` of an earlier month (None: no trend).
    """
    mid_rank = (pl.col("statistic").rank("average") - 0.5) / pl.len()
    facilities = (
        scores.with_columns(mid_rank.alias("_mid"))
        .group_by("ma_cskcb")
        .agg(
            pl.col("level").first(),
            pl.len().alias("claims"),
            pl.col("_mid").mean().alias("mean_risk"),
            pl.col("cost").cast(pl.Float64).median().alias("median_cost"),
        )
    )
    facilities = facilities.with_columns(
        ((pl.col("mean_risk") - 0.5) * (12 * pl.col("claims")).sqrt()).alias("claims_z")
    )
    if earlier is None or earlier.height == 0:
        facilities = facilities.with_columns(
            pl.lit(None, pl.Float64).alias("earlier_median_cost"),
            pl.lit(None, pl.Float64).alias("trend_z"),
        )
    else:
        facilities = _with_trend(facilities, earlier)
    half_square = [
        (0.5 * pl.col(c).fill_null(0.0).clip(lower_bound=0.0) ** 2)
        for c in ("claims_z", "trend_z")
    ]
    n = facilities.height
    return (
        facilities.with_columns(pl.sum_horizontal(half_square).alias("statistic"))
        .with_columns(
            ((pl.col("statistic").rank("min") - 1).cast(pl.Float64) / max(n, 1)).alias(
                "risk"
            )
        )
        .sort("ma_cskcb")
    )


def _with_trend(facilities: pl.DataFrame, earlier: pl.DataFrame) -> pl.DataFrame:
    before = earlier.select(
        "ma_cskcb", pl.col("median_cost").cast(pl.Float64).alias("earlier_median_cost")
    )
    joined = facilities.join(before, on="ma_cskcb", how="left")
    change = (
        pl.col("median_cost").log1p() - pl.col("earlier_median_cost").log1p()
    ).alias("_change")
    joined = joined.with_columns(change)
    centre = pl.col("_change").median().over("level")
    deviation = (pl.col("_change") - centre).abs()
    scale = pl.max_horizontal(
        deviation.median().over("level") * 1.4826, pl.lit(math.log(1.1))
    )
    return joined.with_columns(
        ((pl.col("_change") - centre) / scale).alias("trend_z")
    ).drop("_change")
