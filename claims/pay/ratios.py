"""The ratios of a line by law.

Service ratio TYLE_TT_DV: exams ranked by price per claim and day get the ``exam_ratio``
row of their rank (100/30/30/30/10/0); surgeries and procedures of one session, ranked by
amount, get 100 for the first and the ``procedure_ratio`` of their kind and team after it
(same NGUOI_THUC_HIEN set = same team). A session, by the ``operation_session`` policy:
``overlap`` (default) = a run of lines of a claim's day whose NGAY_TH_YL–NGAY_KQ intervals
overlap (a line without NGAY_KQ spans its whole day), so separate operations the same day
are each paid at 100 %; ``day`` = every line of the claim's day. Bed-days keep a claimed
shared-bed ratio of the ``bed_ratio`` rows (floored to the nearest one); the rest keep
the claimed ratio, at most 100.

Payment ratio TYLE_TT_BH: the catalog's (100 where it has none; 100 for a card level
whose ``level_rule`` ignores payment ratios).
"""

from __future__ import annotations

import polars as pl

from claims.benefits import lookup
from claims.errors import ReasonCode as R
from claims.money import QUANTITY
from claims.pay.lines import cut, times
from claims.schema import (
    BED_GROUPS,
    CLAIM_KEYS,
    EXAM_GROUPS,
    PROCEDURE_GROUPS,
    SURGERY_GROUPS,
)


def service_ratios(lines: pl.DataFrame, benefits: pl.DataFrame) -> pl.DataFrame:
    """TYLE_TT_DV by law: exam sequence, surgeries and procedures, shared beds.
    ``lines`` carry their claim's ``_adm``, ``_session`` and ``_bed_low``."""
    xml3 = pl.col("table") == "XML3"
    exam = xml3 & pl.col("ma_nhom").is_in(EXAM_GROUPS)
    works = xml3 & pl.col("ma_nhom").is_in((*SURGERY_GROUPS, *PROCEDURE_GROUPS))
    bed = xml3 & pl.col("ma_nhom").is_in(BED_GROUPS)
    needed = ("_i", *CLAIM_KEYS, "line_date", "stt", "line_no", "ma_nhom", "table")
    ranked = (
        lines.select(
            pl.int_range(pl.len(), dtype=pl.UInt32).alias("_i"),
            *needed[1:],
            "law_price",
            "law_qty",
            "nguoi_thuc_hien",
            "_start",
            "_end",
            "_adm",
            "_session",
        )
        .filter(exam | works)
        .drop("table")
    )
    exams = ranked.filter(pl.col("ma_nhom").is_in(EXAM_GROUPS))
    special = pl.concat(
        [
            _exam_ratios(exams.with_columns(_day_group()), benefits),
            _procedure_ratios(
                _sessions(ranked.filter(~pl.col("ma_nhom").is_in(EXAM_GROUPS))),
                benefits,
            ),
        ]
    )
    claimed = pl.col("claimed_ratio_dv")
    law = (
        pl.when(pl.col("_law").is_not_null())
        .then(pl.col("_law"))
        .when(bed)
        .then(_bed_ratio(claimed, benefits))
        .otherwise(pl.min_horizontal(claimed, pl.lit(100)))
    )
    # the ranked lines' ratios go back to their rows by position (no join)
    ruled = pl.repeat(None, lines.height, dtype=pl.Int64, eager=True).alias("_law")
    if special.height:
        ruled = ruled.scatter(special["_i"], special["_law"])
    return (
        lines.with_columns(ruled)
        .with_columns(law.fill_null(claimed).cast(pl.Int64).alias("law_ratio_dv"))
        .drop("_law")
    )


def transfer_days(lines: pl.DataFrame) -> pl.DataFrame:
    """The half bed-days of a department transfer (quantity 0.5, §2.6, H5): of a claim's
    half bed-days on one day the highest- and the lowest-priced department each bill
    half a bed-day; any other department that day bills 0 (``BED_TRANSFER_DAY``)."""
    half = (
        (pl.col("table") == "XML3")
        & pl.col("ma_nhom").is_in(BED_GROUPS)
        & (pl.col("law_qty") == pl.lit("0.5").cast(QUANTITY))
    )
    group = [*CLAIM_KEYS, "line_date"]
    halves = (
        lines.select(
            pl.int_range(pl.len(), dtype=pl.UInt32).alias("_i"),
            *group,
            "table",
            "ma_nhom",
            "law_qty",
            "law_price",
            "stt",
            "line_no",
        )
        .filter(half)
        .sort(
            [*group, "law_price", "stt", "line_no"],
            descending=[False] * 3 + [True, False, False],
        )
        .with_columns(
            pl.int_range(pl.len()).over(group).alias("_rank"),
            pl.len().over(group).alias("_n"),
        )
        .filter((pl.col("_rank") > 0) & (pl.col("_rank") < pl.col("_n") - 1))
        .select("_i", pl.lit(True).alias("_idle"))
    )
    if halves.height == 0:  # the usual case: at most two half bed-days a day
        return lines
    idle = pl.col("_idle").fill_null(False)
    return (
        lines.with_row_index("_i")
        .join(halves, on="_i", how="left", maintain_order="left")
        .with_columns(
            pl.when(idle)
            .then(pl.lit(0).cast(QUANTITY))
            .otherwise("law_qty")
            .alias("law_qty"),
            cut(R.BED_TRANSFER_DAY, idle),
        )
        .drop("_i", "_idle")
    )


def payment_ratios(lines: pl.DataFrame) -> pl.DataFrame:
    """TYLE_TT_BH by law (``lines`` carry their claim's ``ignore_payment_ratio``)."""
    ratio = (
        pl.when(pl.col("ignore_payment_ratio"))
        .then(pl.lit(100))
        .otherwise(
            pl.min_horizontal(pl.col("catalog_ratio").fill_null(100), pl.lit(100))
        )
    )
    return lines.with_columns(ratio.cast(pl.Int64).alias("law_ratio_bh"))


def _day_group() -> pl.Expr:
    """``_group``: the line's day (exams are ranked per claim and day)."""
    return pl.col("line_date").cast(pl.Int64).alias("_group")


def _sessions(works: pl.DataFrame) -> pl.DataFrame:
    """``works`` with ``_group``, their session within the claim: a run of lines of one
    day whose [NGAY_TH_YL, NGAY_KQ] intervals overlap (a line without a NGAY_KQ at or
    after its start spans its whole day), or the line's day where the
    ``operation_session`` policy says ``day``."""
    start = pl.col("_start")
    day = start.dt.truncate("1d")
    timed = pl.col("_end").is_not_null() & (pl.col("_end") >= start)
    begin = pl.when(timed).then(start).otherwise(day)
    end = (
        pl.when(timed)
        .then(pl.col("_end"))
        .otherwise(day + pl.duration(days=1) - pl.duration(microseconds=1))
    )
    by_day = (pl.col("_session") == "day").fill_null(False)
    ordered = works.with_columns(
        pl.when(by_day)
        .then(pl.col("line_date").cast(pl.Datetime("us")))
        .otherwise(begin)
        .alias("_s"),
        pl.when(by_day)
        .then(pl.col("line_date").cast(pl.Datetime("us")) + pl.duration(hours=23))
        .otherwise(end)
        .alias("_e"),
    ).sort(*CLAIM_KEYS, "line_date", "_s", "_e", "stt", "line_no")
    # a session belongs to the day it starts on (one that runs past midnight does not
    # take in the next day's lines)
    reach = pl.col("_e").cum_max().shift(1).over(*CLAIM_KEYS, "line_date")
    new = reach.is_null() | (pl.col("_s") > reach)
    return ordered.with_columns(
        new.cast(pl.Int64).cum_sum().over(CLAIM_KEYS).alias("_group")
    ).drop("_s", "_e")


def _ranked(subset: pl.DataFrame, by: list[pl.Expr]) -> pl.DataFrame:
    """``subset`` with ``_rank``: 0-based within its claim and ``_group`` (a day or a
    session), ordered by ``by`` (ascending) then STT and line number."""
    group = [*CLAIM_KEYS, "_group"]
    keys = [k.alias(f"_by{i}") for i, k in enumerate(by)]
    return (
        subset.with_columns(keys)
        .sort([*group, *(f"_by{i}" for i in range(len(by))), "stt", "line_no"])
        .with_columns(pl.int_range(pl.len(), dtype=pl.Int64).over(group).alias("_rank"))
        .drop([f"_by{i}" for i in range(len(by))])
    )


def _exam_ratios(exams: pl.DataFrame, benefits: pl.DataFrame) -> pl.DataFrame:
    """``_i, _law``: the exam sequence of each claim and day, highest price first."""
    ranked = _ranked(exams, [-pl.col("law_price")])
    key = (
        pl.when(pl.col("_rank") < 5)
        .then((pl.col("_rank") + 1).cast(pl.String))
        .otherwise(pl.lit("6+"))
    )
    ratio = lookup(
        ranked, benefits, "exam_ratio", {"key": key}, pl.col("_adm"), name="_law"
    )
    return ranked.select("_i", ratio.cast(pl.Int64))


def _procedure_ratios(works: pl.DataFrame, benefits: pl.DataFrame) -> pl.DataFrame:
    """``_i, _law``: surgeries before procedures (the most complex service first), each
    by amount; the first 100, later ones by kind and team (the same NGUOI_THUC_HIEN set
    as the first is the same team)."""
    procedure = pl.col("ma_nhom").is_in(PROCEDURE_GROUPS)
    team = (
        pl.col("nguoi_thuc_hien")
        .fill_null("")
        .str.split(";")
        .list.eval(pl.element().str.strip_chars())
        .list.sort()
        .list.join(";")
    )
    amount = times(pl.col("law_price"), pl.col("law_qty"))
    ranked = _ranked(works.with_columns(team.alias("_team")), [procedure, -amount])
    first_team = (
        pl.col("_team").filter(pl.col("_rank") == 0).first().over(*CLAIM_KEYS, "_group")
    )
    key2 = (
        pl.when(pl.col("_rank") == 0)
        .then(pl.lit("first"))
        .when(procedure)
        .then(pl.lit("additional"))
        .when(pl.col("_team") == first_team)
        .then(pl.lit("same_team"))
        .otherwise(pl.lit("other_team"))
    )
    kind = pl.when(procedure).then(pl.lit("procedure")).otherwise(pl.lit("surgery"))
    ranked = ranked.with_columns(kind.alias("_kind"), key2.alias("_key2"))
    ratio = lookup(
        ranked,
        benefits,
        "procedure_ratio",
        {"key": pl.col("_kind"), "key2": pl.col("_key2")},
        pl.col("_adm"),
        name="_law",
    )
    return ranked.select("_i", ratio.cast(pl.Int64))


def _bed_ratio(claimed: pl.Expr, benefits: pl.DataFrame) -> pl.Expr:
    """The claimed bed ratio floored to the nearest allowed one: 100 or a ``shared``
    ``bed_ratio`` row of the catalog; below them all, the claimed ratio where the
    ``bed_ratio_below_shared`` policy says ``claimed`` (never more than asked: a
    transfer day on a shared bed is 0.5 × 50 % or 0.5 × 33 %, §2.6), else 0."""
    shared = sorted(
        {
            int(v)
            for v in benefits.filter(
                (pl.col("kind") == "bed_ratio") & (pl.col("key") == "shared")
            )["value"]
        },
        reverse=True,
    )
    below = (pl.col("_bed_low") == "claimed").fill_null(False)
    ratio: pl.Expr = pl.when(below).then(pl.max_horizontal(claimed, 0)).otherwise(0)
    for value in reversed([100, *shared]):  # floored to the nearest allowed ratio
        ratio = pl.when(claimed >= value).then(pl.lit(value)).otherwise(ratio)
    return ratio
