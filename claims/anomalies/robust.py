"""Robust z-scores within peer groups: (x − median) / scale, vectorized.

scale = 1.4826 × MAD (the MAD of a normal sample times 1.4826 estimates its standard
deviation). When a group's MAD is 0 (more than half its claims share one value: every
outpatient's SO_NGAY_DTRI is 0) the scale is 1.2533 × the mean absolute deviation from
the median (the same normal-consistent correction for the mean deviation), and never
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
SCALE_FLOOR = 0.25
"""The default ``floor`` (``Settings.anomaly_scale_floor``)."""


def _scale(column: str) -> pl.Expr:
    """The robust scale of ``column`` within the aggregation context."""
    deviation = (pl.col(column) - pl.col(column).median()).abs()
    mad = deviation.median() * MAD_SCALE
    return pl.when(mad > 0).then(mad).otherwise(deviation.mean() * MEAN_AD_SCALE)


def peer_stats(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """``peer_group`` and, per column ``c``, ``c__median`` and ``c__scale`` for every
    group of every level of :data:`PEER_LEVELS` (one row per group label)."""
    parts = []
    for keys in PEER_LEVELS:
        stats = [
            e
            for c in columns
            for e in (
                pl.col(c).median().alias(f"{c}__median"),
                _scale(c).alias(f"{c}__scale"),
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
) -> pl.DataFrame:
    """``frame`` (with ``peer_group`` and the numeric columns of ``min_scales``) plus,
    per column ``c``, ``c__median`` (its peer group's), ``c__scale`` (after the floors)
    and ``c__z``, the robust z of the claim's value within its peer group.

    Raises:
        ValueError: ``floor`` is negative.
    """
    if floor < 0:
        msg = f"the scale floor is a share of a feature's overall scale, >= 0, not {floor}"
        raise ValueError(msg)
    columns = list(min_scales)
    overall = frame.select(_scale(c).fill_null(0.0).alias(c) for c in columns).row(0)
    stats = peer_stats(frame, columns)
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
