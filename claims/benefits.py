"""Lookups into the resolved ``benefits`` and ``base_salary`` catalogs at a date.

Every figure of the payment stage (benefit percents, route rates, thresholds, ratios,
route classes of MA_DOITUONG_KCB) is a ``benefits`` row valid on a date; nothing here
knows a number of the law. A lookup is an equi-join on the row's keys followed by the
validity filter, so a row changing on 1 July applies from that day's admissions.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

_BLANK_MATCHES = {"key3"}
"""Key columns where an empty ``benefits`` cell matches any value (a specific row wins)."""


def lookup(
    frame: pl.DataFrame,
    benefits: pl.DataFrame,
    kind: str,
    keys: Mapping[str, pl.Expr | str | None],
    day: pl.Expr,
    *,
    name: str,
    column: str = "value",
) -> pl.Series:
    """The ``value`` (or ``column``) of the ``kind`` row matching each row of ``frame``
    on ``day``.

    Args:
        frame: the rows to look up (any columns).
        benefits: the resolved ``benefits`` catalog.
        kind: the row kind (``route_rate``, ``threshold``, …).
        keys: ``benefits`` key column (``key``, ``key2``, ``key3``) → the value to match,
            an expression over ``frame`` or a literal. ``None`` means the key column must
            be empty; a key column left out of ``keys`` is not compared. An empty
            ``key3`` cell matches any value, and a row naming the value wins over it.
        day: the date each row is looked up on (an expression over ``frame``).
        name: the name of the returned series.
        column: the ``benefits`` column returned (``value`` unless told).

    Returns:
        One value per row of ``frame`` (null where no row matches), in ``frame``'s order.
    """
    table = benefits.filter(pl.col("kind") == kind)
    left = frame.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"),
        day.alias("_day"),
        *[
            _as_expr(value).cast(pl.String).alias(f"_{key}")
            for key, value in keys.items()
            if value is not None
        ],
    )
    for key, value in keys.items():
        if value is None:
            table = table.filter(pl.col(key).is_null())
    blank = [c for c in keys if c in _BLANK_MATCHES]
    on = [c for c, v in keys.items() if v is not None and c not in blank]
    right = table.select(
        *[pl.col(c).alias(f"_{c}") for c in on],
        *[pl.col(c).alias(f"_b_{c}") for c in blank],
        pl.col(column).alias("_out"),
        "valid_from",
        "valid_to",
    )
    joined = (
        left.join(right, on=[f"_{c}" for c in on], how="inner")
        if on
        else left.join(right, how="cross")
    )
    inside = (
        pl.col("valid_from").is_null() | (pl.col("valid_from") <= pl.col("_day"))
    ) & (pl.col("valid_to").is_null() | (pl.col("_day") <= pl.col("valid_to")))
    for c in blank:
        inside &= pl.col(f"_b_{c}").is_null() | (pl.col(f"_b_{c}") == pl.col(f"_{c}"))
    found = (
        joined.filter(inside)
        .sort("_row", *[pl.col(f"_b_{c}").is_null() for c in blank])
        .unique("_row", keep="first")
    )
    return (
        left.select("_row")
        .join(found.select("_row", "_out"), on="_row", how="left")
        .sort("_row")["_out"]
        .alias(name)
    )


def _as_expr(value: pl.Expr | str) -> pl.Expr:
    return pl.lit(value) if isinstance(value, str) else value


def base_salary(frame: pl.DataFrame, salaries: pl.DataFrame, day: pl.Expr) -> pl.Series:
    """The base salary (lương cơ sở) in force on ``day`` for each row of ``frame``."""
    left = frame.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"), day.alias("_day")
    )
    inside = (pl.col("valid_from") <= pl.col("_day")) & (
        pl.col("valid_to").is_null() | (pl.col("_day") <= pl.col("valid_to"))
    )
    found = (
        left.join(salaries.select("amount", "valid_from", "valid_to"), how="cross")
        .filter(inside)
        .unique("_row", keep="first")
    )
    return (
        left.select("_row")
        .join(found.select("_row", "amount"), on="_row", how="left")
        .sort("_row")["amount"]
        .alias("base_salary")
    )
