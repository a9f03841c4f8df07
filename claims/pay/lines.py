"""The payment stage's lines: XML2 and XML3 in one frame with the payable price and the
accepted quantity, their amounts by law, and the exact money helpers every step uses.

THANH_TIEN_BV = qty × price_bv × ratio_dv; THANH_TIEN_BH = qty × payable price × ratio_dv
× ratio_bh, each product rounded half-up to 2 decimals (``claims.money``). Out-of-scope
lines (PHAM_VI 2, or 3 without a ``level_rule`` allowing it) have no BH part; PHAM_VI 3
on such a card is paid by the budget.
"""

from __future__ import annotations

import polars as pl

from claims.dates import line_date
from claims.errors import ReasonCode as R
from claims.money import MONEY, QUANTITY, round_half_up
from claims.schema import CLAIM_KEYS, LINE_KEYS, TRANSPORT_GROUPS, Batch

AMOUNTS = ("bv", "bh", "nguonkhac", "bhtt", "bncct", "bntt")
"""Line amounts, claimed (``claimed_*``) and by law (``law_*``): THANH_TIEN_BV,
THANH_TIEN_BH, T_NGUONKHAC, T_BHTT, T_BNCCT, T_BNTT."""
EXACT = pl.Decimal(38, 6)
"""Where products of amounts, quantities and percents are computed before rounding."""
PERCENT = pl.Decimal(38, 2)

_COMMON = (
    *CLAIM_KEYS,
    "line_no",
    "stt",
    "ma_nhom",
    "pham_vi",
    "so_luong",
    "tyle_tt_bh",
    "muc_huong",
    "thanh_tien_bv",
    "thanh_tien_bh",
    "t_nguonkhac",
    "t_bhtt",
    "t_bncct",
    "t_bntt",
)
"""The columns XML2 and XML3 lines share."""


def money(expr: pl.Expr) -> pl.Expr:
    """Round an exact product half-up to the standard's 2 decimals."""
    return round_half_up(expr, 2)


def times(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """``a × b`` exactly (both have at most 3 decimals), not yet rounded."""
    return a.cast(EXACT) * b.cast(EXACT)


def percent_of(amount: pl.Expr, percent: pl.Expr) -> pl.Expr:
    """``amount × percent / 100`` rounded half-up to 2 decimals."""
    return money(amount.cast(EXACT) * percent.cast(EXACT) / pl.lit(100).cast(EXACT))


def lines_of(batch: Batch, hits: pl.DataFrame | None) -> pl.DataFrame:
    """XML2 and XML3 lines in one frame, with the payable price and accepted quantity."""
    lines, qty = _accepted_quantity(_priced(batch), hits)
    return lines.with_columns(
        pl.col("so_luong").alias("claimed_qty"),
        pl.col("price_bv").alias("claimed_price_bv"),
        qty.cast(QUANTITY).alias("law_qty"),
        pl.col("payable_price").fill_null(0).cast(QUANTITY).alias("law_price"),
        pl.col("tyle_tt_dv").cast(pl.Int64).alias("claimed_ratio_dv"),
        pl.col("tyle_tt_bh").cast(pl.Int64).alias("claimed_ratio_bh"),
        pl.col("muc_huong").cast(PERCENT).alias("claimed_muc_huong"),
        pl.col("thanh_tien_bv").alias("claimed_bv"),
        pl.col("thanh_tien_bh").alias("claimed_bh"),
        pl.col("t_nguonkhac").fill_null(0).alias("claimed_nguonkhac"),
        pl.col("t_bhtt").alias("claimed_bhtt"),
        pl.col("t_bncct").alias("claimed_bncct"),
        pl.col("t_bntt").alias("claimed_bntt"),
        pl.lit(None, pl.String).alias("pay_reason"),
    )


def join_columns(
    frame: pl.DataFrame, right: pl.DataFrame, on: list[str]
) -> pl.DataFrame:
    """``frame`` with the other columns of ``right`` (one row per key) beside it: a
    left join computed on the key columns alone, so the wide frame is not copied."""
    found = frame.select(on).join(right, on=on, how="left", maintain_order="left")
    return frame.hstack(found.drop(on).get_columns())


def cut(reason: R, when: pl.Expr) -> pl.Expr:
    """``pay_reason``: the line's first payment cut, else ``reason`` where ``when``."""
    new = pl.when(when.fill_null(False)).then(pl.lit(reason.value))
    return pl.coalesce(pl.col("pay_reason"), new).alias("pay_reason")


def _priced(batch: Batch) -> pl.DataFrame:
    """XML2 (drugs) then XML3 (services, supplies) lines, each with its price row."""
    xml2 = batch.xml2.select(
        *_COMMON,
        pl.lit("XML2").alias("table"),
        pl.col("ma_thuoc").alias("code"),
        pl.col("don_gia").alias("price_bv"),
        pl.col("don_gia").alias("claimed_price"),
        pl.lit(100, pl.Int16).alias("tyle_tt_dv"),
        pl.lit(None, pl.String).alias("goi_vtyt"),
        pl.lit(None, pl.String).alias("nguoi_thuc_hien"),
        line_date().alias("line_date"),
        pl.col("nguon_ctra").cast(pl.String),
        pl.lit(None, pl.Datetime("us")).alias("_start"),
        pl.lit(None, pl.Datetime("us")).alias("_end"),
        pl.lit(None, MONEY).alias("t_trantt"),
    )
    xml3 = batch.xml3.select(
        *_COMMON,
        pl.lit("XML3").alias("table"),
        pl.coalesce("ma_vat_tu", "ma_dich_vu").alias("code"),
        pl.col("don_gia_bv").alias("price_bv"),
        pl.col("don_gia_bh").alias("claimed_price"),
        "tyle_tt_dv",
        "goi_vtyt",
        "nguoi_thuc_hien",
        line_date().alias("line_date"),
        pl.lit(None, pl.String).alias("nguon_ctra"),
        pl.coalesce("ngay_th_yl", "ngay_yl").cast(pl.Datetime("us")).alias("_start"),
        pl.col("ngay_kq").cast(pl.Datetime("us")).alias("_end"),
        pl.col("t_trantt").cast(MONEY),
    )
    lines = pl.concat([xml2, xml3], how="vertical_relaxed")
    prices = batch.prices.select(
        *CLAIM_KEYS,
        "table",
        "line_no",
        "payable_price",
        "catalog_ratio",
        "catalog_ceiling",
        pl.col("reason_code").alias("price_reason"),
    )
    keys = list(LINE_KEYS)
    if prices.height == lines.height and prices.select(keys).equals(lines.select(keys)):
        # the usual case: ``price_lines`` keeps the lines' order, so no join is needed
        return lines.hstack(prices.drop(keys))
    return lines.join(prices, on=keys, how="left", maintain_order="left")


def _accepted_quantity(
    lines: pl.DataFrame, hits: pl.DataFrame | None
) -> tuple[pl.DataFrame, pl.Expr]:
    """``lines`` with ``_refused`` (a fired line ``reject`` rule refuses the line: it
    does not count towards the low-cost threshold) and ``_cap`` when a rule capped some,
    and the accepted quantity:
    the lowest ``adjust_to`` of a line's fired ``cap``/``adjust`` hits when it is below
    the claimed quantity (never below 0), else the claimed quantity."""
    qty = pl.col("so_luong")
    if hits is None or not hits.height:
        return lines.with_columns(pl.lit(False).alias("_refused")), qty
    action = pl.col("action")
    capping = action.is_in(["cap", "adjust"]) & pl.col("adjust_to").is_not_null()
    marks = (
        hits.filter(
            (pl.col("outcome") == "fired")
            & pl.col("line_no").is_not_null()
            & ((action == "reject") | capping)
        )
        .group_by(LINE_KEYS)
        .agg(
            (action == "reject").any().alias("_refused"),
            pl.col("adjust_to").filter(capping).min().alias("_cap"),
        )
    )  # one join for both: the refused lines and the lowest cap of each line
    lines = join_columns(lines, marks, list(LINE_KEYS)).with_columns(
        pl.col("_refused").fill_null(False)
    )
    qty = (
        pl.when(pl.col("_cap").is_not_null() & (pl.col("_cap") < qty))
        .then(pl.max_horizontal(pl.col("_cap"), pl.lit(0).cast(QUANTITY)))
        .otherwise(qty)
    )
    return lines, qty


def amounts(lines: pl.DataFrame) -> pl.DataFrame:
    """THANH_TIEN_BV and THANH_TIEN_BH by law, rounded at each step."""
    ratio_dv = pl.col("law_ratio_dv")
    bv = percent_of(money(times(pl.col("law_qty"), pl.col("price_bv"))), ratio_dv)
    base_bh = percent_of(money(times(pl.col("law_qty"), pl.col("law_price"))), ratio_dv)
    bh = percent_of(base_bh, pl.col("law_ratio_bh"))
    scope = pl.col("pham_vi").fill_null("1")
    transport_refused = pl.col("ma_nhom").is_in(TRANSPORT_GROUPS) & ~pl.col(
        "transport_covered"
    ).fill_null(False)
    day = pl.col("line_date")
    uncovered = ((day < pl.col("cover_from")) | (day > pl.col("cover_to"))).fill_null(
        False
    )
    in_scope = (scope == "1") & ~transport_refused & ~uncovered
    budget = (scope == "3") & pl.col("out_of_list_budget").fill_null(False) & ~uncovered
    zero = pl.lit(0).cast(MONEY)
    return (
        lines.with_columns(
            bv.alias("law_bv"),
            pl.when(in_scope).then(bh).otherwise(zero).alias("law_bh"),
            pl.when(budget).then(bv).otherwise(zero).alias("law_budget"),
        )
        .with_columns(
            cut(R.CARD_NOT_COVERING_LINE, uncovered),
        )
        .with_columns(
            cut(R.TRANSPORT_NOT_COVERED, (scope == "1") & transport_refused),
        )
    )
