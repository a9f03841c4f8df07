"""Exact money for synthetic claims: integer arithmetic, half-up at each step (§1.13).

Quantities and unit prices are integers in thousandths (``*_milli``), amounts integers in
hundredths of a đồng (cents). Every product is rounded half-up to cents before the next
factor is applied, as the standard says; nothing is ever a float.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from claims.synthetic.people import day_number

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
