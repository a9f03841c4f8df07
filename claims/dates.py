"""Which date decides what: the one place where a legal clarification changes a line.

| purpose                                                   | date                          |
|-----------------------------------------------------------|-------------------------------|
| line prices (catalog as-of), practitioner registration    | NGAY_TH_YL, NGAY_YL if empty  |
| benefit level, route, base salary, contract, rule pack,   | the claim's admission NGAY_VAO|
| code lists                                                |                               |
"""

from __future__ import annotations

import polars as pl


def line_date() -> pl.Expr:
    """The date a line is priced on: NGAY_TH_YL, or NGAY_YL where it is empty."""
    return pl.coalesce(pl.col("ngay_th_yl"), pl.col("ngay_yl")).dt.date()


def admission_date() -> pl.Expr:
    """The date a claim's benefits, contract, rule pack and code lists are chosen by."""
    return pl.col("ngay_vao").dt.date()
