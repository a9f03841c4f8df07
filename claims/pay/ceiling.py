"""The supplies ceilings and the exact split of an amount over lines.

Per item: a supply's THANH_TIEN_BH is at most quantity × its catalog ceiling
(``tran_tt``, the item's "mức thanh toán tối đa"); the excess moves to self-pay
(``ITEM_CEILING``). Per package: the in-scope supplies (MA_NHOM 10, 11) of one GOI_VTYT
package are capped at ``supplies_ceiling_multiple`` × base salary (none for the card
levels the ``policy`` exempts); supplies without GOI_VTYT form one package per claim
when the ``loose_supplies_package`` policy says ``claim``. The excess is spread over the
package's lines in proportion to their amounts (cumulative rounding, so the cuts add up
exactly) and moves to self-pay. Per line, after the shares: a supply line's fund share
is at most the T_TRANTT the facility declared for it (D8); the excess moves to self-pay.
"""

from __future__ import annotations

import polars as pl

from claims.errors import ReasonCode as R
from claims.money import MONEY
from claims.pay.lines import EXACT, cut, money, times
from claims.schema import CLAIM_KEYS, EXAM_GROUPS, SUPPLY_GROUPS

_SUPPLY = (pl.col("table") == "XML3") & pl.col("ma_nhom").is_in(SUPPLY_GROUPS)


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


def item_ceiling(lines: pl.DataFrame) -> pl.DataFrame:
    """A supply's THANH_TIEN_BH at most quantity × its catalog ``tran_tt``."""
    most = money(times(pl.col("law_qty"), pl.col("catalog_ceiling")))
    over = _SUPPLY & pl.col("catalog_ceiling").is_not_null() & (pl.col("law_bh") > most)
    return lines.with_columns(
        pl.when(over)
        .then(most)
        .otherwise(pl.col("law_bh"))
        .cast(MONEY)
        .alias("law_bh"),
        cut(R.ITEM_CEILING, over),
    )


def exam_day_cap(lines: pl.DataFrame) -> pl.DataFrame:
    """The exam fees of a claim's day together at most ``exam_day_cap_multiple`` (a
    ``threshold`` row, 2: HT CK-053) × the price of its dearest exam; the excess is
    spread over the day's exams in proportion and moves to self-pay (``EXAM_DAY_CAP``).
    With exams ranked 100/30/30/30/10 it binds only on quantities above 1. ``lines``
    carry their claim's ``_exam_cap``."""
    zero = pl.lit(0).cast(MONEY)
    exam = (pl.col("table") == "XML3") & pl.col("ma_nhom").is_in(EXAM_GROUPS)
    group = [*CLAIM_KEYS, "line_date"]
    day = (
        lines.select(
            pl.int_range(pl.len(), dtype=pl.UInt32).alias("_i"),
            *CLAIM_KEYS,
            "line_date",
            "law_bh",
            "law_price",
            "_exam_cap",
            exam.alias("_in"),
        )
        .filter(pl.col("_in"))
        .with_columns(
            pl.max_horizontal(
                pl.col("law_bh").sum().over(group)
                - money(
                    times(pl.col("law_price").max().over(group), pl.col("_exam_cap"))
                ),
                zero,
            )
            .fill_null(zero)
            .alias("_excess")
        )
        .filter(pl.col("_excess") > 0)
    )
    if day.height == 0:  # the usual case
        return lines
    cuts = allocate(
        day, total="_excess", weight="law_bh", group=group, name="_exam_cut"
    ).select("_i", "_exam_cut")
    capped = pl.col("_exam_cut").fill_null(zero)
    return (
        lines.with_columns(_by_row(lines.height, cuts, "_exam_cut", MONEY))
        .with_columns(
            (pl.col("law_bh") - capped).cast(MONEY).alias("law_bh"),
            cut(R.EXAM_DAY_CAP, capped > 0),
        )
        .drop("_exam_cut")
    )


def _by_row(
    height: int, values: pl.DataFrame, name: str, dtype: pl.DataType
) -> pl.Series:
    """``name`` of ``values`` put back on the rows ``_i`` of a frame of ``height`` rows
    (null on the others): a scatter, not a join."""
    out = pl.repeat(None, height, dtype=dtype, eager=True).alias(name)
    return out.scatter(values["_i"], values[name].cast(dtype)) if values.height else out


def trantt_cap(lines: pl.DataFrame) -> pl.DataFrame:
    """A supply line's fund share at most its declared T_TRANTT; the rest is self-pay."""
    excess = pl.col("law_bhtt") - pl.col("t_trantt")
    over = (_SUPPLY & pl.col("t_trantt").is_not_null() & (excess > 0)).fill_null(False)
    return lines.with_columns(
        pl.when(over).then(pl.col("t_trantt")).otherwise(pl.col("law_bhtt"))
        .cast(MONEY).alias("law_bhtt"),
        pl.when(over).then(pl.col("law_bntt") + excess).otherwise(pl.col("law_bntt"))
        .cast(MONEY).alias("law_bntt"),
        cut(R.ITEM_CEILING, over),
    )  # fmt: skip


def supplies_ceiling(lines: pl.DataFrame) -> pl.DataFrame:
    """Cap each package's in-scope supplies at the ceiling; spread the excess. A package
    is a GOI_VTYT of the claim, or (``loose_supplies_package`` = ``claim``) the claim's
    supplies without one (``_pkg`` empty). ``lines`` carry their claim's
    ``supplies_ceiling`` and ``_loose``."""
    zero = pl.lit(0).cast(MONEY)
    named = pl.col("goi_vtyt").fill_null("").str.strip_chars()
    loose = (pl.col("_loose") == "claim").fill_null(False)
    package = _SUPPLY & (pl.col("pham_vi").fill_null("1") == "1")
    group = [*CLAIM_KEYS, "_pkg"]
    packaged = (
        lines.select(
            pl.int_range(pl.len(), dtype=pl.UInt32).alias("_i"),
            *CLAIM_KEYS,
            "goi_vtyt",
            "pham_vi",
            "table",
            "ma_nhom",
            "law_bh",
            "supplies_ceiling",
            "_loose",
        )
        .filter(package & ((named != "") | loose))
        .with_columns(named.alias("_pkg"))
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
        lines.with_columns(_by_row(lines.height, cuts, "package_cut", MONEY))
        .with_columns(pl.col("package_cut").fill_null(zero))
        .with_columns((pl.col("law_bh") - pl.col("package_cut")).alias("law_bh"))
    )
