"""Exact money: amounts are Decimal(38, 2), quantities and unit prices Decimal(38, 3).

Products are computed at a wider scale and rounded half-up to 2 decimals at each step
(domain reference §1.13). Never a float.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import polars as pl

MONEY = pl.Decimal(38, 2)
QUANTITY = pl.Decimal(38, 3)
TOLERANCE = Decimal("1.00")
"""±1 đồng when comparing recomputed amounts with a clinic's figures."""

_CENT = Decimal("0.01")


def round_money(value: Decimal) -> Decimal:
    """Round a Python decimal half-up to 2 decimals."""
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def round_half_up(expr: pl.Expr, scale: int = 2) -> pl.Expr:
    """Round a Decimal expression half-up (away from zero on ties) to ``scale`` decimals."""
    return expr.round(scale, mode="half_away_from_zero").cast(pl.Decimal(38, scale))


def format_money(value: Decimal) -> str:
    """Two-decimal text of an amount as the standard writes it (``1234.50``)."""
    return f"{round_money(value):.2f}"
