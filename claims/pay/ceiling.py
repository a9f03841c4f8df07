"""The supplies ceiling and the exact split of an amount over lines.

The in-scope supplies (MA_NHOM 10, 11) of one GOI_VTYT package are capped at
``supplies_ceiling_multiple`` × base salary; the excess is spread over the package's
lines in proportion to their amounts (cumulative rounding, so the cuts add up exactly)
and moves to self-pay.
"""

from __future__ import annotations

import polars as pl

from claims.money import MONEY
from claims.pay.lines import EXACT, money
from claims.schema import CLAIM_KEYS, SUPPLY_GROUPS


def allocate(
    frame: pl.DataFrame, *, total: str, weight: str, group: list[str], name: str
) -> pl.DataFrame:
    """Add ``name``: ``total`` (one value per group) split over the group's rows in
    proportion to ``weight``, rounded half-up to 2 decimals so the parts add up exactly.

    Cumulative rounding: row i gets round(total × W_i / W) − round(total × W_{i−1} / W)
    where W_i is the running sum of weights in frame order (input order, the same every
    run). Callers pass only the rows that share something: it runs windows per group.
    """
    zero = pl.lit(0).cast(MONEY)
    whole = pl.col("_whole")
    safe = pl.when(whole > 0).then(whole).otherwise(pl.lit(1).cast(MONEY))
    return (
        frame.with_columns(
            pl.col(weight).cum_sum().over(group).alias("_running"),
            pl.col(weight).sum().over(group).alias("_whole"),
        )
        .with_columns(
            money(
                pl.col(total).cast(EXACT)
                * pl.col("_running").cast(EXACT)
                / safe.cast(EXACT)
            ).alias("_share")
        )
        .with_columns(
            (pl.col("_share") - pl.col("_share").shift(1, fill_value=zero).over(group))
            .cast(MONEY)
            .alias(name)
        )
        .drop("_running", "_whole", "_share")
    )


def supplies_ceiling(lines: pl.DataFrame, claims: pl.DataFrame) -> pl.DataFrame:
    """Cap each GOI_VTYT package's in-scope supplies at the ceiling; spread the excess."""
    zero = pl.lit(0).cast(MONEY)
    package = (
        (pl.col("table") == "XML3")
        & pl.col("ma_nhom").is_in(SUPPLY_GROUPS)
        & (pl.col("goi_vtyt").fill_null("").str.strip_chars() != "")
    )
    group = [*CLAIM_KEYS, "goi_vtyt"]
    packaged = (
        lines.select(*CLAIM_KEYS, "goi_vtyt", "law_bh", package.alias("_in"))
        .with_row_index("_i")
        .filter(pl.col("_in"))
        .join(
            claims.select(*CLAIM_KEYS, "supplies_ceiling"),
            on=CLAIM_KEYS,
            how="left",
            maintain_order="left",
        )
        .with_columns(
            pl.max_horizontal(
                pl.col("law_bh").sum().over(group) - pl.col("supplies_ceiling"), zero
            )
            .fill_null(zero)
            .alias("_excess")
        )
    )
    cuts = allocate(
        packaged.filter(pl.col("_excess").max().over(group) > 0),
        total="_excess",
        weight="law_bh",
        group=group,
        name="package_cut",
    ).select("_i", "package_cut")
    if cuts.height == 0:  # the usual case: no package above the ceiling
        return lines.with_columns(zero.alias("package_cut"))
    return (
        lines.with_row_index("_i")
        .join(cuts, on="_i", how="left", maintain_order="left")
        .drop("_i")
        .with_columns(pl.col("package_cut").fill_null(zero))
        .with_columns((pl.col("law_bh") - pl.col("package_cut")).alias("law_bh"))
    )
