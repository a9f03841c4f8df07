"""Compare two settlements of a period: what changed per facility, claim and cost group."""

from __future__ import annotations

import polars as pl

from claims.money import MONEY

KEYS = ("ma_cskcb", "ma_lk", "cost_group")


def diff(a: pl.DataFrame, b: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Accepted amounts of ``a`` and ``b`` (settlement ``claims`` frames) side by side.

    Returns:
        ``facilities``, ``claims`` and ``cost_groups``: the rows whose accepted T_BHTT
        differs, with ``accepted_a``, ``accepted_b`` and ``change`` = b − a.
    """
    zero = pl.lit(0).cast(MONEY)
    sides = [
        frame.group_by(KEYS).agg(
            pl.col("accepted_bhtt").sum().alias(f"accepted_{name}")
        )
        for name, frame in (("a", a), ("b", b))
    ]
    both = (
        sides[0]
        .join(sides[1], on=list(KEYS), how="full", coalesce=True)
        .with_columns(pl.col("accepted_a", "accepted_b").fill_null(zero))
    )

    def by(*keys: str) -> pl.DataFrame:
        return (
            both.group_by(keys)
            .agg(pl.col("accepted_a", "accepted_b").sum())
            .with_columns((pl.col("accepted_b") - pl.col("accepted_a")).alias("change"))
            .filter(pl.col("change") != 0)
            .sort(*keys)
        )

    return {
        "facilities": by("ma_cskcb"),
        "claims": by("ma_cskcb", "ma_lk"),
        "cost_groups": by("ma_cskcb", "cost_group"),
    }
