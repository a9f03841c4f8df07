"""Exact money of synthetic lines and claims: integer arithmetic, half-up at each step.

Quantities and unit prices are integers in thousandths (``*_milli``), amounts integers in
hundredths of a đồng (cents). Every product is rounded half-up to cents before the next
factor is applied, as the standard says (§1.13); nothing is ever a float.

Lines and claims follow §1.13: line BV and BH first, then the claim's MUC_HUONG (which
needs the claim's covered total), then each line's fund share, co-pay and self-pay, then
the XML1 totals as sums of the lines.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from claims.synthetic.people import LEVEL_PERCENT, day_number
from claims.synthetic.plan import NEW_LIST_FROM

BASE_SALARY: tuple[tuple[date, int], ...] = (
    (date(2019, 7, 1), 1_490_000),
    (date(2023, 7, 1), 1_800_000),
    (date(2024, 7, 1), 2_340_000),
    (date(2026, 7, 1), 2_530_000),
)
"""Lương cơ sở by effective date (§2.5); the one in force at NGAY_VAO applies."""


def half_up(numerator: np.ndarray, denominator: int) -> np.ndarray:
    """``numerator / denominator`` rounded half-up, for non-negative integers."""
    return (2 * numerator + denominator) // (2 * denominator)


def line_amounts(
    qty: np.ndarray,
    price_bv: np.ndarray,
    price_bh: np.ndarray,
    tyle_dv: np.ndarray,
    tyle_bh: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """THANH_TIEN_BV and THANH_TIEN_BH in cents.

    BV = SO_LUONG × DON_GIA_BV × TYLE_TT_DV/100; BH = SO_LUONG × DON_GIA_BH ×
    TYLE_TT_DV/100 × TYLE_TT_BH/100 (XML2 passes TYLE_TT_DV = 100), each product
    rounded half-up to cents. ``qty × price`` is in millionths of a đồng.
    """
    bv = half_up(half_up(qty * price_bv, 10_000) * tyle_dv, 100)
    bh = half_up(half_up(half_up(qty * price_bh, 10_000) * tyle_dv, 100) * tyle_bh, 100)
    return bv, bh


def low_cost_limit(admission_day: np.ndarray) -> np.ndarray:
    """15 % of the base salary in force on each admission day, in cents."""
    starts = np.array([day_number(d) for d, _ in BASE_SALARY])
    salary = np.array([s for _, s in BASE_SALARY], dtype=np.int64)
    index = np.clip(np.searchsorted(starts, admission_day, side="right") - 1, 0, None)
    return salary[index] * 15  # 15 % of the salary, × 100 cents


def benefit_percent(
    level_percent: np.ndarray,
    route_rate: np.ndarray,
    *,
    on_route: np.ndarray,
    primary: np.ndarray,
    total_bh: np.ndarray,
    admission_day: np.ndarray,
) -> np.ndarray:
    """MUC_HUONG per claim: card level × route rate, 100 when fully covered.

    Full coverage on-route (§2.3): the claim's covered cost is under 15 % of the base
    salary, or the visit is at primary level (a commune station).
    """
    base = half_up(level_percent * route_rate, 100)
    full = on_route & ((total_bh < low_cost_limit(admission_day)) | primary)
    return np.where(full, 100, base)


def shares(bh: np.ndarray, benefit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """T_BHTT = BH × MUC_HUONG/100 (half-up) and T_BNCCT = BH − T_BHTT, in cents."""
    fund = half_up(bh * benefit, 100)
    return fund, bh - fund


def money_text(cents: pl.Expr) -> pl.Expr:
    """Cents as the standard's 2-decimal text (``175000.00``)."""
    return pl.concat_str(
        (cents // 100).cast(pl.String),
        pl.lit("."),
        (cents % 100).cast(pl.String).str.zfill(2),
    )


def milli_text(milli: pl.Expr) -> pl.Expr:
    """Thousandths as 3-decimal text (``10.000``) for SO_LUONG and DON_GIA."""
    return pl.concat_str(
        (milli // 1000).cast(pl.String),
        pl.lit("."),
        (milli % 1000).cast(pl.String).str.zfill(3),
    )


# ---- amounts of lines and claims

SUPPLY_GROUPS = (10, 11)
EXAM_RATIOS = (100, 30, 30, 30, 10)
"""TYLE_TT_DV of the 1st–5th exam of a claim's day, highest price first (later: 0)."""
EXAM, SURGERY, PROCEDURE = 13, 8, 18
FIRST, NEXT_PROCEDURE, NEXT_SURGERY_SAME_TEAM = 100, 80, 50


def law_service_ratios(services: pl.DataFrame) -> pl.DataFrame:
    """Set TYLE_TT_DV of exams, surgeries and procedures as the law does (§2.6).

    Per claim and execution day: exams ranked by unit price (then STT) get 100, 30, 30,
    30, 10, then 0; surgeries before procedures, each ranked by amount (then STT): the
    first gets 100, a later procedure 80, a later surgery 50 (a claim's surgeries share
    one team here). Other lines keep their ratio.
    """
    day = pl.col("th") // 1440
    exam = pl.col("ma_nhom") == EXAM
    work = pl.col("ma_nhom").is_in([SURGERY, PROCEDURE])
    frame = services.with_row_index("_i").with_columns(
        day.alias("_day"), (pl.col("price_bh") * pl.col("qty")).alias("_amount")
    )
    group = ["ci", "_day"]
    exams = (
        frame.filter(exam)
        .sort([*group, "price_bh", "stt"], descending=[False, False, True, False])
        .with_columns(pl.int_range(pl.len()).over(group).alias("_rank"))
    )
    exams = exams.with_columns(
        pl.col("_rank")
        .replace_strict(dict(enumerate(EXAM_RATIOS)), default=0, return_dtype=pl.Int64)
        .alias("_law")
    )
    works = (
        frame.filter(work)
        .with_columns((pl.col("ma_nhom") == PROCEDURE).alias("_proc"))
        .sort(
            [*group, "_proc", "_amount", "stt"],
            descending=[False, False, False, True, False],
        )
        .with_columns(pl.int_range(pl.len()).over(group).alias("_rank"))
    )
    works = works.with_columns(
        pl.when(pl.col("_rank") == 0)
        .then(pl.lit(FIRST))
        .when(pl.col("_proc"))
        .then(pl.lit(NEXT_PROCEDURE))
        .otherwise(pl.lit(NEXT_SURGERY_SAME_TEAM))
        .cast(pl.Int64)
        .alias("_law")
    )
    law = pl.concat([exams.select("_i", "_law"), works.select("_i", "_law")])
    return (
        frame.join(law, on="_i", how="left", maintain_order="left")
        .with_columns(
            pl.coalesce("_law", "tyle_dv")
            .cast(services.schema["tyle_dv"])
            .alias("tyle_dv")
        )
        .drop("_i", "_day", "_amount", "_law")
    )


def full_ratio_for_level_one(claims: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """Level-1 cards have no payment-ratio limit: TYLE_TT_BH is 100 on their lines."""
    level_one = (claims["level"] == 1).to_numpy()[lines["ci"].to_numpy()]
    return lines.with_columns(
        pl.when(pl.Series(level_one))
        .then(100)
        .otherwise(pl.col("tyle_tt_bh"))
        .cast(lines.schema["tyle_tt_bh"])
        .alias("tyle_tt_bh")
    )


def add_line_amounts(lines: pl.DataFrame, *, drugs: bool) -> pl.DataFrame:
    """``bv`` and ``bh`` cents of each line (drugs have one price and no TYLE_TT_DV)."""
    qty = lines["qty"].to_numpy()
    price_bh = lines["price" if drugs else "price_bh"].to_numpy()
    price_bv = lines["price" if drugs else "price_bv"].to_numpy()
    tyle_dv = np.full(lines.height, 100) if drugs else lines["tyle_dv"].to_numpy()
    bv, bh = line_amounts(
        qty, price_bv, price_bh, tyle_dv, lines["tyle_tt_bh"].to_numpy()
    )
    return lines.with_columns(pl.Series("bv", bv), pl.Series("bh", bh))


CHRONIC_DRUG_VISITS = ("05",)
"""MA_LOAI_KCB whose drug lines at primary level keep the card's level: the ``policy``
catalog's ``chronic_drug_visits`` default (§2.3.2)."""


def _claim_terms(
    claims: pl.DataFrame, drugs: pl.DataFrame, services: pl.DataFrame
) -> tuple[np.ndarray, ...]:
    """Per claim (row ``ci``): level %, route rate, on-route, primary level, covered
    total (cents) and admission day."""
    total = np.zeros(claims.height, dtype=np.int64)
    for lines in (drugs, services):
        np.add.at(total, lines["ci"].to_numpy(), lines["bh"].to_numpy())
    vao_day = claims["vao"].to_numpy() // 1440
    tier = claims["tier_idx"].to_numpy()
    primary = np.where(
        vao_day < NEW_LIST_FROM,
        tier == 0,
        (claims["level_2025"] == "primary").to_numpy(),
    )
    level = (
        claims["level"].replace_strict(LEVEL_PERCENT, return_dtype=pl.Int64).to_numpy()
    )
    on_route = ~claims["doituong"].str.starts_with("3").to_numpy()
    return level, claims["route_rate"].to_numpy(), on_route, primary, total, vao_day


def claim_benefit(
    claims: pl.DataFrame, drugs: pl.DataFrame, services: pl.DataFrame
) -> np.ndarray:
    """MUC_HUONG of each claim (row ``ci``) from its card, route and covered total."""
    level, route, on_route, primary, total, vao_day = _claim_terms(
        claims, drugs, services
    )
    return benefit_percent(
        level,
        route,
        on_route=on_route,
        primary=primary,
        total_bh=total,
        admission_day=vao_day,
    )


def drug_benefit(
    claims: pl.DataFrame,
    drugs: pl.DataFrame,
    services: pl.DataFrame,
    benefit: np.ndarray,
) -> np.ndarray:
    """MUC_HUONG of each claim's drug lines: the claim's ``benefit``, except a chronic
    drug-collection visit at primary level above the low-cost threshold, whose drugs
    get the card's level × route (§2.3.2)."""
    level, route, on_route, primary, total, vao_day = _claim_terms(
        claims, drugs, services
    )
    chronic = (
        on_route
        & primary
        & claims["loai"].is_in(CHRONIC_DRUG_VISITS).to_numpy()
        & (total >= low_cost_limit(vao_day))
    )
    return np.where(chronic, half_up(level * route, 100), benefit)


def add_shares(lines: pl.DataFrame, benefit: np.ndarray) -> pl.DataFrame:
    """MUC_HUONG, T_BHTT, T_BNCCT and T_BNTT of each line (no other payers)."""
    muc = benefit[lines["ci"].to_numpy()]
    fund, copay = shares(lines["bh"].to_numpy(), muc)
    return lines.with_columns(
        pl.Series("muc", muc),
        pl.Series("bhtt", fund),
        pl.Series("bncct", copay),
        (pl.col("bv") - pl.col("bh")).alias("bntt"),
    )


def claim_totals(
    claims: pl.DataFrame, drugs: pl.DataFrame, services: pl.DataFrame
) -> pl.DataFrame:
    """XML1 totals per claim (row ``ci``), in cents; T_BHTT = T_TONGCHI_BH − T_BNCCT."""
    supplies = pl.col("ma_nhom").is_in(SUPPLY_GROUPS)
    sums = [pl.col(c).sum() for c in ("bv", "bh", "bntt", "bncct", "bhtt")]
    part2 = drugs.group_by("ci").agg(*sums, pl.col("bv").sum().alias("t_thuoc"))
    part3 = services.group_by("ci").agg(
        *sums, pl.col("bv").filter(supplies).sum().alias("t_vtyt")
    )
    both = pl.concat([part2, part3], how="diagonal").group_by("ci").agg(pl.all().sum())
    frame = pl.DataFrame({"ci": np.arange(claims.height)}).join(
        both, on="ci", how="left"
    )
    frame = frame.fill_null(0).sort("ci")
    return frame.select(
        "ci",
        "t_thuoc",
        "t_vtyt",
        pl.col("bv").alias("t_tongchi_bv"),
        pl.col("bh").alias("t_tongchi_bh"),
        pl.col("bntt").alias("t_bntt"),
        pl.col("bncct").alias("t_bncct"),
        (pl.col("bh") - pl.col("bncct")).alias("t_bhtt"),
        pl.col("bhtt").alias("t_bhtt_gdv"),  # every line is fee-for-service (MA_PTTT 1)
    )
