"""Robust z-scores within peer groups: (x − median) / scale, vectorized.

scale = the larger of 1.4826 × MAD (the MAD of a normal sample times 1.4826 estimates
its standard deviation) and the tail spread: (q90 − median) / 1.2816 for a feature
scored on its upper tail, (q90 − q10) / 2.5631 for one scored on both (each also a
standard deviation for a normal sample). The tail spread keeps a skewed or
zero-inflated feature (most claims hold no supplies, a tenth hold many) from making its
ordinary tail look enormous, and stays robust while less than a tenth of a group is
contaminated. When both are 0 the scale is 1.2533 × the mean absolute deviation from
the median (the normal-consistent correction for the mean deviation); it is never
below a floor: the feature's ``min_scale`` (in its transformed units) nor ``floor`` ×
the feature's scale over the whole frame (so that a tightly packed group does not make
a small deviation enormous).

Stats of a group are computed over every claim of the group at its level (a claim that
fell back to a coarser group is compared with all of that group, including claims that
stayed in finer ones).
"""

from __future__ import annotations

import polars as pl

from claims.anomalies.peers import PEER_LEVELS, peer_label

MAD_SCALE = 1.4826
"""1 / Φ⁻¹(3/4): MAD → standard deviation for a normal sample."""
MEAN_AD_SCALE = 1.2533
"""√(π/2): mean absolute deviation → standard deviation for a normal sample."""
TAIL = 0.9
"""The quantile of the tail spread."""
TAIL_SCALE = 1.2816
"""Φ⁻¹(0.9): (q90 − median) → standard deviation for a normal sample."""
SCALE_FLOOR = 0.25
"""The default ``floor`` (``Settings.anomaly_scale_floor``)."""


def _scale(column: str, *, upper: bool) -> pl.Expr:
    """The robust scale of ``column`` within the aggregation context."""
    value = pl.col(column)
    deviation = (value - value.median()).abs()
    high = value.quantile(TAIL, interpolation="linear")
    if upper:
        tail = (high - value.median()) / TAIL_SCALE
    else:
        low = value.quantile(1 - TAIL, interpolation="linear")
        tail = (high - low) / (2 * TAIL_SCALE)
    scale = pl.max_horizontal(deviation.median() * MAD_SCALE, tail)
    return pl.when(scale > 0).then(scale).otherwise(deviation.mean() * MEAN_AD_SCALE)


def peer_stats(
    frame: pl.DataFrame, columns: list[str], upper: frozenset[str] = frozenset()
) -> pl.DataFrame:
    """``peer_group`` and, per column ``c``, ``c__median`` and ``c__scale`` for every
    group of every level of :data:`PEER_LEVELS` (one row per group label); ``upper``:
    the columns scored on their upper tail only."""
    parts = []
    for keys in PEER_LEVELS:
        stats = [
            e
            for c in columns
            for e in (
                pl.col(c).median().alias(f"{c}__median"),
                _scale(c, upper=c in upper).alias(f"{c}__scale"),
            )
        ]
        grouped = frame.group_by(list(keys)).agg(*stats)
        parts.append(
            grouped.with_columns(peer_label(keys).alias("peer_group")).select(
                "peer_group", pl.exclude("peer_group", *keys)
            )
        )
    return pl.concat(parts, how="vertical_relaxed").unique("peer_group", keep="first")


def robust_z(
    frame: pl.DataFrame,
    min_scales: dict[str, float],
    floor: float = SCALE_FLOOR,
    upper: frozenset[str] = frozenset(),
) -> pl.DataFrame:
    """``frame`` (with ``peer_group`` and the numeric columns of ``min_scales``) plus,
    per column ``c``, ``c__median`` (its peer group's), ``c__scale`` (after the floors)
    and ``c__z``, the robust z of the claim's value within its peer group; ``upper``:
    the columns scored on their upper tail only (their tail spread is one-sided).

    Raises:
        ValueError: ``floor`` is negative.
    """
    if floor < 0:
        msg = f"the scale floor is a share of a feature's overall scale, >= 0, not {floor}"
        raise ValueError(msg)
    columns = list(min_scales)
    overall = frame.select(
        _scale(c, upper=c in upper).fill_null(0.0).alias(c) for c in columns
    ).row(0)
    stats = peer_stats(frame, columns, upper)
    joined = frame.join(stats, on="peer_group", how="left", maintain_order="left")
    return joined.with_columns(
        pl.max_horizontal(
            pl.col(f"{c}__scale").fill_null(0.0),
            pl.lit(floor * g),
            pl.lit(min_scales[c]),
        ).alias(f"{c}__scale")
        for c, g in zip(columns, overall, strict=True)
    ).with_columns(
        ((pl.col(c) - pl.col(f"{c}__median")) / pl.col(f"{c}__scale")).alias(f"{c}__z")
        for c in columns
    )
