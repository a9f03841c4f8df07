"""Eligibility per claim: card level, benefit percent, card cover of the stay, exemption.

Everything comes from the ``benefits`` catalog as valid on the admission date
(``claims.dates``): the object code (first two characters of the first card) gives the
benefit level (``object_level``), which gives the percent (``benefit_level``). The level
digit printed on the card (third character) must agree with it. The cards of the
``;``-list together give the card's window: the earliest GT_THE_TU to the latest
GT_THE_DEN. An outpatient visit must lie inside it. An inpatient stay must overlap it: a
card that ends during the stay pays until discharge, at most ``card_end_grace_days``
(a ``threshold`` row) past its end (NĐ 146/2018 art. 27.9), and a card that starts during
the stay pays from its start; ``cover_from``/``cover_to`` bound the line dates paid.
NGAY_MIEN_CCT on or before admission exempts the patient from co-pay (the
5-consecutive-years rule, §2.3).

Only the facts are computed here; rules and the payment stage decide what they mean.
"""

from __future__ import annotations

import polars as pl

from claims.benefits import lookup
from claims.dates import admission_date
from claims.errors import ReasonCode as R
from claims.schema import CLAIM_KEYS, INPATIENT

ELIGIBILITY_SCHEMA: dict[str, pl.DataType] = {
    "file_id": pl.String(),
    "hoso_idx": pl.UInt32(),
    "object_code": pl.String(),
    "card_level": pl.Int64(),
    "benefit_level": pl.Int64(),
    "benefit_percent": pl.Decimal(38, 4),
    "card_covers_stay": pl.Boolean(),
    "cover_from": pl.Date(),
    "cover_to": pl.Date(),
    "copay_exempt": pl.Boolean(),
    "eligibility_reason": pl.String(),
}


def eligibility(xml1: pl.DataFrame, benefits: pl.DataFrame) -> pl.DataFrame:
    """One row per claim of ``xml1`` (:data:`ELIGIBILITY_SCHEMA`).

    Args:
        xml1: typed XML1 rows with ``file_id, hoso_idx``, ``ma_the_bhyt``, ``gt_the_tu``,
            ``gt_the_den``, ``ngay_vao``, ``ngay_ra``, ``ngay_mien_cct``.
        benefits: the resolved ``benefits`` catalog.
    """
    parsed = pl.element().str.strptime(pl.Date, "%Y%m%d", strict=False)
    claims = xml1.select(
        *CLAIM_KEYS,
        pl.col("ma_the_bhyt").str.slice(0, 2).alias("object_code"),
        pl.col("ma_the_bhyt")
        .str.slice(2, 1)
        .cast(pl.Int64, strict=False)
        .alias("card_level"),
        admission_date().alias("_adm"),
        pl.col("ngay_ra").dt.date().alias("_ra"),
        pl.col("gt_the_tu").str.split(";").list.eval(parsed).list.min().alias("_from"),
        pl.col("gt_the_den").str.split(";").list.eval(parsed).list.max().alias("_to"),
        pl.col("ngay_mien_cct").dt.date().alias("_exempt_from"),
        pl.col("ma_loai_kcb").is_in(INPATIENT).fill_null(False).alias("_inpatient"),
    )
    adm = pl.col("_adm")
    with_level = claims.with_columns(
        lookup(
            claims, benefits, "object_level", {"key": pl.col("object_code")}, adm,
            name="benefit_level",
        ).cast(pl.Int64)
    )  # fmt: skip
    with_level = with_level.with_columns(
        lookup(
            with_level, benefits, "benefit_level",
            {"key": pl.col("benefit_level").cast(pl.String)}, adm, name="benefit_percent",
        )
    )  # fmt: skip
    with_level = with_level.with_columns(
        lookup(
            with_level, benefits, "threshold", {"key": "card_end_grace_days"}, adm,
            name="_grace",
        ).fill_null(0).cast(pl.Int64)
    )  # fmt: skip
    covers = (pl.col("_from") <= pl.col("_adm")) & (pl.col("_to") >= pl.col("_ra"))
    cover_to = (
        pl.when(pl.col("_inpatient"))
        .then(pl.col("_to") + pl.duration(days=pl.col("_grace")))
        .otherwise(pl.col("_to"))
    )
    overlaps = (pl.col("_from") <= pl.col("_ra")) & (pl.col("_to") >= pl.col("_adm"))
    paid = covers | (pl.col("_inpatient") & overlaps)
    reason = (
        pl.when(pl.col("benefit_level").is_null())
        .then(pl.lit(R.CARD_OBJECT_UNKNOWN.value))
        .when(pl.col("card_level") != pl.col("benefit_level"))
        .then(pl.lit(R.CARD_LEVEL_MISMATCH.value))
        .when(~paid.fill_null(False))
        .then(pl.lit(R.CARD_NOT_COVERING_STAY.value))
    )
    return (
        with_level.with_columns(
            covers.fill_null(False).alias("card_covers_stay"),
            pl.col("_from").alias("cover_from"),
            cover_to.alias("cover_to"),
            (pl.col("_exempt_from") <= pl.col("_adm"))
            .fill_null(False)
            .alias("copay_exempt"),
            reason.alias("eligibility_reason"),
        )
        .select(list(ELIGIBILITY_SCHEMA))
        .cast(pl.Schema(ELIGIBILITY_SCHEMA))
    )
