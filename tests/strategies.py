"""Shared hypothesis strategies: claim-line values within the standard's field sizes.

Money is 15 digits with 2 decimals, quantities and unit prices have 3 decimals; text is
Vietnamese (precomposed and with combining marks) next to ICD-like codes; dates reach
the boundaries Python's ``datetime`` knows (years 1 and 9999) and the usual traps (leap
day, epoch, last microsecond of a day). Every value strategy can give null.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import polars as pl
from hypothesis import strategies as st

MONEY_MAX = Decimal("9999999999999.99")  # 15 digits, 2 decimals
QUANTITY_MAX = Decimal("9999999.999")  # 10 digits, 3 decimals
UNIT_PRICE_MAX = Decimal("999999999999.999")  # 15 digits, 3 decimals

CODES = ["K01", "O80", "Z00", "I10", "N40", "R50", "A00.1", "k01"]
TEXTS = [
    *CODES,
    "",
    " ",
    "Khám Nội",
    "Đặng Thị Ánh",
    "Nguyễn",
    "ngủ",
    "Khe\u0301m",  # a combining acute accent (decomposed text)
    "ab\n",
    "\n",
    "٣٤",  # Arabic-Indic digits: \d in Python
    "x_1",
    "ĐẶNG",
    "sức khỏe",
]


def nullable(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``values`` or null (about one time in four)."""
    return st.one_of(st.none(), values, values, values)


def decimals(maximum: Decimal, places: int) -> st.SearchStrategy[Decimal]:
    """Decimals with ``places`` decimals in ``[-maximum, maximum]``, boundaries favoured."""
    step = Decimal(1).scaleb(-places)
    edges = [Decimal(0), step, -step, maximum, -maximum, Decimal(1), Decimal(-7)]
    return st.one_of(
        st.sampled_from([e.quantize(step) for e in edges]),
        st.decimals(
            min_value=-maximum,
            max_value=maximum,
            places=places,
            allow_nan=False,
            allow_infinity=False,
        ),
        st.integers(-1000, 1000).map(lambda i: Decimal(i).scaleb(-places)),
    )


def texts() -> st.SearchStrategy[str]:
    """Codes and Vietnamese text, with the odd newline, combining mark or Unicode digit."""
    return st.one_of(
        st.sampled_from(TEXTS),
        st.text(alphabet="KOZ0189 ĐặngủáÁ\u0301\n_٣", max_size=6),
    )


DATETIME_EDGES = [
    dt.datetime(1, 1, 1),
    dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
    dt.datetime(1970, 1, 1),
    dt.datetime(2000, 2, 29, 12, 30),
    dt.datetime(2024, 6, 30, 23, 59, 59, 999999),
    dt.datetime(2024, 7, 1),
]


def datetimes() -> st.SearchStrategy[dt.datetime]:
    """Naive datetimes (read as UTC) from year 1 to 9999, boundaries favoured."""
    return st.one_of(
        st.sampled_from(DATETIME_EDGES),
        st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2100, 12, 31)),
    )


def dates() -> st.SearchStrategy[dt.date]:
    """Dates from year 1 to 9999, boundaries favoured."""
    return st.one_of(
        st.sampled_from([d.date() for d in DATETIME_EDGES]),
        st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)),
    )


RULE_SCHEMA: dict[str, pl.DataType] = {
    "so_luong": pl.Decimal(38, 3),
    "don_gia": pl.Decimal(38, 3),
    "thanh_tien": pl.Decimal(38, 2),
    "tyle": pl.Int64(),
    "ma": pl.String(),
    "ten": pl.String(),
    "ngay": pl.Datetime("us"),
    "ngay_d": pl.Date(),
    "co": pl.Boolean(),
    "codes": pl.List(pl.String()),
    "tien": pl.List(pl.Decimal(38, 2)),
}
"""A line frame for rule tests: every type the rule compiler reads."""


def rule_rows() -> st.SearchStrategy[dict[str, Any]]:
    """One row of :data:`RULE_SCHEMA`, nulls included."""
    return st.fixed_dictionaries(
        {
            "so_luong": nullable(decimals(QUANTITY_MAX, 3)),
            "don_gia": nullable(decimals(UNIT_PRICE_MAX, 3)),
            "thanh_tien": nullable(decimals(MONEY_MAX, 2)),
            "tyle": nullable(
                st.one_of(st.integers(-200, 200), st.sampled_from([0, 100]))
            ),
            "ma": nullable(texts()),
            "ten": nullable(texts()),
            "ngay": nullable(datetimes()),
            "ngay_d": nullable(dates()),
            "co": nullable(st.booleans()),
            "codes": nullable(
                st.lists(st.one_of(st.sampled_from(CODES), st.none()), max_size=3)
            ),
            "tien": nullable(
                st.lists(st.one_of(decimals(MONEY_MAX, 2), st.none()), max_size=3)
            ),
        }
    )
