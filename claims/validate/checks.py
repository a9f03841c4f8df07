"""Field checks and typed casts as Polars expressions, built from the table specs.

``field_reason(f)`` gives, per row, the reason code of the first check the field fails
(or null); ``typed(f)`` converts a checked value to its type. Both read the raw text
column of the same name.
"""

from __future__ import annotations

import polars as pl

from claims.errors import ReasonCode as R
from claims.money import MONEY, QUANTITY
from claims.xml130 import CARD_LENGTH, Field, Kind

ADMISSION = "_adm_date"
"""Temporary column: the claim's admission date (decides which code lists apply)."""

_PATTERNS: dict[Kind, tuple[str, R]] = {
    Kind.INT: (r"^\d+$", R.BAD_INTEGER),
    Kind.PCT: (r"^\d{1,3}$", R.BAD_PERCENT),
    Kind.MONEY: (r"^\d{1,15}(\.\d{1,2})?$", R.BAD_MONEY),
    Kind.WEIGHT: (r"^\d{1,3}(\.\d{1,2})?$", R.BAD_MONEY),
    Kind.QTY: (r"^\d{1,15}(\.\d{1,3})?$", R.BAD_QUANTITY),
    Kind.DATE: (r"^\d{8}$", R.BAD_DATE),
    Kind.DATETIME: (r"^\d{12}$", R.BAD_DATETIME),
    Kind.DATE_OR_DATETIME: (r"^(\d{8}|\d{12})$", R.BAD_DATE),
    Kind.BIRTH: (r"^\d{12}$", R.BAD_DATETIME),
}
_RANGES: dict[str, tuple[int, int, R]] = {"thang_qt": (1, 12, R.BAD_MONTH)}
"""Integer fields with a calendar range: a settlement month outside 1–12 would name a
period no settlement covers, so the claim is refused (NAM_QT/THANG_QT are required)."""
CARD_PATTERN = rf"^[A-Z]{{2}}[1-5]\d{{{CARD_LENGTH - 3}}}$"
DATE8 = r"^\d{8}$"


def _birth_text(value: pl.Expr) -> pl.Expr:
    """A birth date with unknown month/day (``00``) padded to the 1st, as reports do."""
    month = value.str.slice(4, 2)
    day = value.str.slice(6, 2)
    return pl.concat_str(
        value.str.slice(0, 4),
        pl.when(month == "00").then(pl.lit("01")).otherwise(month),
        pl.when(day == "00").then(pl.lit("01")).otherwise(day),
        value.str.slice(8, 4),
    )


def typed(field: Field) -> pl.Expr:
    """The checked text of ``field`` converted to its type (null stays null)."""
    value = pl.col(field.column)
    match field.kind:
        case Kind.MONEY | Kind.WEIGHT:
            out = value.str.to_decimal(scale=2).cast(MONEY)
        case Kind.QTY:
            out = value.str.to_decimal(scale=3).cast(QUANTITY)
        case Kind.INT:
            out = value.cast(pl.Int64, strict=False)
        case Kind.PCT:
            out = value.cast(pl.Int16, strict=False)
        case Kind.DATE:
            out = value.str.strptime(pl.Date, "%Y%m%d", strict=False)
        case Kind.DATETIME:
            out = value.str.strptime(pl.Datetime("us"), "%Y%m%d%H%M", strict=False)
        case Kind.DATE_OR_DATETIME:
            padded = (
                pl.when(value.str.len_bytes() == 8)
                .then(value + "0000")
                .otherwise(value)
            )
            out = padded.str.strptime(pl.Datetime("us"), "%Y%m%d%H%M", strict=False)
        case Kind.BIRTH:
            out = _birth_text(value).str.strptime(
                pl.Datetime("us"), "%Y%m%d%H%M", strict=False
            )
        case _:
            out = value
    return out.alias(field.column)


def _format_ok(field: Field) -> pl.Expr:
    value = pl.col(field.column)
    pattern, _ = _PATTERNS[field.kind]
    ok = value.str.contains(pattern)
    if field.kind in (Kind.DATE, Kind.DATETIME, Kind.DATE_OR_DATETIME, Kind.BIRTH):
        ok = ok & typed(field).is_not_null()
    if field.kind is Kind.PCT:
        ok = ok & (value.cast(pl.Int64, strict=False) <= 100)
    return ok


def field_reason(field: Field, code_ok: pl.Expr | None) -> pl.Expr:
    """Reason code of the first check ``field`` fails on each row, else null.

    Args:
        field: the field's declaration.
        code_ok: whether the value is in its dated code list (None: no list).
    """
    value = pl.col(field.column)
    present = value.is_not_null()
    failures: list[tuple[pl.Expr, R]] = []
    if field.required:
        failures.append((~present, R.REQUIRED_MISSING))
    if field.size is not None:
        failures.append((present & (value.str.len_chars() > field.size), R.TOO_LONG))
    if field.kind in _PATTERNS:
        failures.append((present & ~_format_ok(field), _PATTERNS[field.kind][1]))
    if code_ok is not None:
        failures.append((present & ~code_ok, R.CODE_NOT_IN_LIST))
    if field.column in _RANGES:
        low, high, code = _RANGES[field.column]
        number = value.cast(pl.Int64, strict=False)
        failures.append((present & ~number.is_between(low, high), code))
    if not failures:
        return pl.lit(None, pl.String).alias(field.column)
    # the first failing check wins: coalesce keeps the first non-null reason
    reasons = [pl.when(bad).then(pl.lit(code.value)) for bad, code in failures]
    return pl.coalesce(reasons).alias(field.column)


def card_reason() -> pl.Expr:
    """XML1: the ';'-list of cards and its aligned validity lists (CARD_* or null)."""
    cards = pl.col("ma_the_bhyt").str.split(";")
    starts = pl.col("gt_the_tu").str.split(";")
    ends = pl.col("gt_the_den").str.split(";")
    cards_ok = cards.list.eval(pl.element().str.contains(CARD_PATTERN)).list.all()

    def dates_ok(values: pl.Expr) -> pl.Expr:
        parsed = pl.element().str.strptime(pl.Date, "%Y%m%d", strict=False)
        return values.list.eval(
            pl.element().str.contains(DATE8) & parsed.is_not_null()
        ).list.all()

    aligned = (cards.list.len() == starts.list.len()) & (
        cards.list.len() == ends.list.len()
    )
    return (
        pl.when(pl.col("ma_the_bhyt").is_null())
        .then(pl.lit(None, pl.String))
        .when(~cards_ok)
        .then(pl.lit(R.CARD_INVALID.value))
        .when(~aligned | ~dates_ok(starts) | ~dates_ok(ends))
        .then(pl.lit(R.CARD_DATES_MISALIGNED.value))
        .otherwise(pl.lit(None, pl.String))
    )
