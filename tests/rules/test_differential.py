"""Differential proof: compiled polars equals ``rule_engine.Rule.matches``, row by row.

A hypothesis grammar generates typed rule-engine expressions over :data:`RULE_SCHEMA`
(arithmetic, comparisons with and without nulls, ``and``/``or``/``not`` on every type's
truthiness, regexes, membership, indexing and slices, attributes, date-time and
time-delta arithmetic, ternaries, ``??`` and built-ins) and frames of rows with nulls,
negatives, boundary dates and Vietnamese text. Each expression is compiled once and
evaluated on the frame; rule-engine (with its own context, written out here from the
spec) evaluates each row. A raised rule-engine error must be a null, and every other
outcome must be equal.

Numbers stay within rule-engine's 28 significant digits (products of at most two
columns) and divisions use divisors whose quotients terminate, as the issue allows.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from typing import Any

import polars as pl
import pytest
import rule_engine
from hypothesis import event, given, settings
from hypothesis import strategies as st
from rule_engine.types import DataType

from rules import RuleError, compile_expression
from tests.strategies import CODES, RULE_SCHEMA, rule_rows

ROWS_PER_EXAMPLE = 20
CI_EXAMPLES = settings.default.max_examples * 10
"""Examples of the default run: ten times the profile's (CI: 400 rules, 8,000 rows)."""
SLOW_EXAMPLES = 5_000
"""Examples of the ``slow`` run: 5,000 rules, 100,000 rows."""

CONTEXT = rule_engine.Context(
    type_resolver={
        "so_luong": DataType.FLOAT,
        "don_gia": DataType.FLOAT,
        "thanh_tien": DataType.FLOAT,
        "tyle": DataType.FLOAT,
        "ma": DataType.STRING,
        "ten": DataType.STRING,
        "ngay": DataType.DATETIME,
        "ngay_d": DataType.DATETIME,
        "co": DataType.BOOLEAN,
        "codes": DataType.ARRAY(DataType.STRING),
        "tien": DataType.ARRAY(DataType.FLOAT),
    },
    default_timezone="utc",
    decimal_context=decimal.Context(prec=28),
)


@dataclass(frozen=True)
class E:
    """A generated expression; numbers carry bounds on their integer digits and scale."""

    text: str
    digits: int = 0
    scale: int = 0


def _fits(e: E) -> bool:
    # rule-engine computes in 28 significant digits; keep results exact with a margin
    return e.digits + e.scale <= 26 and e.scale <= 16


NUM_COLUMNS = [
    E("so_luong", 7, 3),
    E("don_gia", 12, 3),
    E("thanh_tien", 13, 2),
    E("tyle", 3),
]
NUM_LITERALS = [
    E(t, 4, 3)
    for t in ("0", "1", "2", "-1", "-7", "0.5", "1.25", "100", "1000", "0.001", "1e3")
]
DIVISORS = {  # divisor → (extra integer digits, extra decimals) of an exact quotient
    "2": (0, 1),
    "4": (0, 2),
    "5": (0, 1),
    "8": (0, 3),
    "10": (0, 1),
    "16": (0, 4),
    "25": (0, 2),
    "1000": (0, 3),
    "0.5": (1, 0),
    "0.25": (1, 0),
    "0.125": (1, 0),
    "0": (0, 0),  # division by zero: not evaluable on every row
}
STRING_LITERALS = [
    '""',
    '"K01"',
    '"O80"',
    '"Khám Nội"',
    '"Đặng Thị Ánh"',
    '"ngủ"',
    '"ab\\n"',
    '"٣٤"',
]
REGEXES = [
    "K",
    "[A-Z][0-9]+$",
    "O[0-9]",
    "(Z00|R5[0-9])",
    r"\d",
    r"\d+$",
    r"\w+",
    r"\w+$",
    r"\W",
    r"\s",
    r"\S+$",
    ".",
    r".*\n",
    "^$",
    "",
    "Đ",
    "[^a-z]",
    r"(K|O)\d\d$",
    "a|b$",
    "ủ",
    "[à-ỹ]+",
    r"\Aab",
    r"b\Z",
    "x?$",
    r"A00\.1",
    "e\u0301",
    "[Kk]0?1",
]
DATETIME_LITERALS = [
    'd"2024-06-30"',
    'd"1900-01-01"',
    'd"2024-06-30T12:00:00"',
    'd"2000-02-29T23:59:59.999999"',
    'd"1970-01-01T00:00:00Z"',
]
TIMEDELTA_LITERALS = [
    't"P1D"',
    't"PT1H"',
    't"P1W"',
    't"PT0S"',
    't"P30DT12H"',
    't"P3650D"',
]
COMPARE = ["==", "!=", "<", "<=", ">", ">="]


def _paren(text: str) -> str:
    return f"({text})"


def num(depth: int) -> st.SearchStrategy[E]:
    """Numeric (FLOAT) expressions."""
    leaves = st.one_of(
        st.sampled_from(NUM_COLUMNS),
        st.sampled_from(NUM_LITERALS),
        st.decimals(-999, 999, places=2).map(lambda d: E(str(d), 3, 2)),
        st.sampled_from(["$pi", "$e"]).map(lambda t: E(t, 1, 15)),
    )
    if depth == 0:
        return leaves
    sub = num(depth - 1)
    text = string(depth - 1)
    when = datetime(depth - 1)
    composite = st.one_of(
        st.tuples(sub, st.sampled_from(["+", "-"]), sub).map(
            lambda t: E(
                _paren(f"{t[0].text} {t[1]} {t[2].text}"),
                max(t[0].digits, t[2].digits) + 1,
                max(t[0].scale, t[2].scale),
            )
        ),
        st.tuples(sub, sub).map(
            lambda t: E(
                _paren(f"{t[0].text} * {t[1].text}"),
                t[0].digits + t[1].digits,
                t[0].scale + t[1].scale,
            )
        ),
        st.tuples(sub, st.sampled_from(sorted(DIVISORS))).map(
            lambda t: E(
                _paren(f"{t[0].text} / {t[1]}"),
                t[0].digits + DIVISORS[t[1]][0],
                t[0].scale + DIVISORS[t[1]][1],
            )
        ),
        st.tuples(sub, sub).map(
            lambda t: E(
                _paren(f"{t[0].text} // {t[1].text}"),
                t[0].digits + t[1].scale,
                max(t[0].scale, t[1].scale),
            )
        ),
        st.tuples(sub, sub).map(
            lambda t: E(
                _paren(f"{t[0].text} % {t[1].text}"),
                t[1].digits,
                max(t[0].scale, t[1].scale),
            )
        ),
        sub.map(lambda e: E(f"-{e.text}", e.digits, e.scale)),
        sub.map(lambda e: E(f"$abs({e.text})", e.digits, e.scale)),
        sub.map(lambda e: E(_paren(f"{e.text} ** 2"), 2 * e.digits, 2 * e.scale)),
        st.tuples(sub, st.sampled_from(["floor", "ceiling", "to_int", "to_flt"])).map(
            lambda t: E(f"{_paren(t[0].text)}.{t[1]}", t[0].digits + 1, t[0].scale)
        ),
        st.tuples(st.sampled_from(["$sum", "$max", "$min"]), sub, sub).map(
            lambda t: E(
                f"{t[0]}([{t[1].text}, {t[2].text}])",
                max(t[1].digits, t[2].digits) + 1,
                max(t[1].scale, t[2].scale),
            )
        ),
        st.tuples(boolean(depth - 1), sub, sub).map(
            lambda t: E(
                _paren(f"{t[0]} ? {t[1].text} : {t[2].text}"),
                max(t[1].digits, t[2].digits),
                max(t[1].scale, t[2].scale),
            )
        ),
        st.tuples(sub, sub).map(
            lambda t: E(
                _paren(f"{t[0].text} ?? {t[1].text}"),
                max(t[0].digits, t[1].digits),
                max(t[0].scale, t[1].scale),
            )
        ),
        text.map(lambda s: E(f"{_paren(s)}.length", 3)),
        st.sampled_from(["codes.length", "codes[1:].length", "tien.length"]).map(
            lambda s: E(s, 2)
        ),
        st.sampled_from(
            ["$sum(tien)", "$max(tien)", "$min(tien)", "tien[0]", "tien&[-1]"]
        ).map(lambda s: E(s, 14, 2)),
        st.tuples(
            when,
            st.sampled_from(
                ["year", "month", "day", "hour", "minute", "second", "microsecond"]
            ),
        ).map(lambda t: E(f"{_paren(t[0])}.{t[1]}", 6)),
        when.map(lambda s: E(f"{_paren(s)}.millisecond", 3, 3)),
        st.tuples(
            timedelta(depth - 1), st.sampled_from(["days", "seconds", "microseconds"])
        ).map(lambda t: E(f"{_paren(t[0])}.{t[1]}", 10)),
    ).filter(_fits)
    return st.one_of(leaves, composite)


def string(depth: int) -> st.SearchStrategy[str]:
    """String expressions."""
    leaves = st.sampled_from(["ma", "ten", *STRING_LITERALS])
    if depth == 0:
        return leaves
    sub = string(depth - 1)
    index = st.integers(-3, 3)
    return st.one_of(
        leaves,
        st.tuples(sub, sub).map(lambda t: _paren(f"{t[0]} + {t[1]}")),
        st.tuples(sub, st.sampled_from(["as_lower", "as_upper", "to_str"])).map(
            lambda t: f"{_paren(t[0])}.{t[1]}"
        ),
        st.tuples(st.sampled_from(["[", "&["]), index).map(
            lambda t: f"codes{t[0]}{t[1]}]"
        ),
        st.tuples(sub, index).map(lambda t: f"{_paren(t[0])}[{t[1]}]"),
        st.tuples(sub, st.one_of(st.none(), index), st.one_of(st.none(), index)).map(
            lambda t: (
                f"{_paren(t[0])}[{'' if t[1] is None else t[1]}:{'' if t[2] is None else t[2]}]"
            )
        ),
        st.tuples(boolean(depth - 1), sub, sub).map(
            lambda t: _paren(f"{t[0]} ? {t[1]} : {t[2]}")
        ),
        st.tuples(sub, sub).map(lambda t: _paren(f"{t[0]} ?? {t[1]}")),
        st.tuples(datetime(depth - 1), st.sampled_from(["weekday", "zone_name"])).map(
            lambda t: f"{_paren(t[0])}.{t[1]}"
        ),
    )


def datetime(depth: int) -> st.SearchStrategy[str]:
    """Date-time expressions."""
    leaves = st.sampled_from(["ngay", "ngay_d", *DATETIME_LITERALS])
    if depth == 0:
        return leaves
    sub = datetime(depth - 1)
    return st.one_of(
        leaves,
        st.tuples(sub, st.sampled_from(["+", "-"]), timedelta(depth - 1)).map(
            lambda t: _paren(f"{t[0]} {t[1]} {t[2]}")
        ),
        st.tuples(timedelta(depth - 1), sub).map(lambda t: _paren(f"{t[0]} + {t[1]}")),
        sub.map(lambda s: f"{_paren(s)}.date"),
        st.tuples(boolean(depth - 1), sub, sub).map(
            lambda t: _paren(f"{t[0]} ? {t[1]} : {t[2]}")
        ),
        st.tuples(sub, sub).map(lambda t: _paren(f"{t[0]} ?? {t[1]}")),
    )


def timedelta(depth: int) -> st.SearchStrategy[str]:
    """Time-delta expressions."""
    leaves = st.sampled_from(TIMEDELTA_LITERALS)
    if depth == 0:
        return st.one_of(leaves, st.just("(ngay - ngay_d)"))
    sub = timedelta(depth - 1)
    when = datetime(depth - 1)
    return st.one_of(
        leaves,
        st.tuples(when, when).map(lambda t: _paren(f"{t[0]} - {t[1]}")),
        sub.map(lambda s: f"-{s}"),
        st.tuples(sub, st.sampled_from(["+", "-"]), sub).map(
            lambda t: _paren(f"{t[0]} {t[1]} {t[2]}")
        ),
    )


def array() -> st.SearchStrategy[str]:
    """String-array expressions."""
    return st.sampled_from(
        [
            "codes",
            "codes[1:]",
            "codes[:-1]",
            "codes&[1:]",
            '["K01", ma]',
            '["O80", null]',
            "[]",
            "(co ? codes : [])",
            '(codes ?? ["Z00"])',
            "(ma in codes ? codes[:1] : codes[1:])",
        ]
    )


def any_kind(depth: int) -> st.SearchStrategy[str]:
    """An expression of any type: operands of ``and``/``or``/``not`` use its truthiness."""
    return st.one_of(
        boolean(depth),
        num(depth).map(lambda e: e.text),
        string(depth),
        datetime(depth),
        timedelta(depth),
        array(),
        st.just("null"),
    )


def boolean(depth: int) -> st.SearchStrategy[str]:
    """Boolean expressions (and the root of every generated rule)."""
    leaves = st.sampled_from(["co", "true", "false"])
    if depth == 0:
        return leaves
    d = depth - 1
    number = num(d).map(lambda e: e.text)
    text = string(d)
    same_kind = st.one_of(
        st.tuples(number, number),
        st.tuples(text, text),
        st.tuples(datetime(d), datetime(d)),
        st.tuples(timedelta(d), timedelta(d)),
        st.tuples(boolean(d), boolean(d)),
    )
    compare = st.tuples(same_kind, st.sampled_from(COMPARE)).map(
        lambda t: _paren(f"{t[0][0]} {t[1]} {t[0][1]}")
    )
    with_null = st.tuples(any_kind(d), st.sampled_from(["==", "!="])).map(
        lambda t: _paren(f"{t[0]} {t[1]} null")
    )
    regex = st.tuples(
        text, st.sampled_from(["=~", "=~~", "!~", "!~~"]), st.sampled_from(REGEXES)
    ).map(lambda t: _paren(f'{t[0]} {t[1]} r"{t[2]}"'))
    contains = st.one_of(
        st.tuples(text, text).map(lambda t: _paren(f"{t[0]} in {t[1]}")),
        st.tuples(text, array()).map(lambda t: _paren(f"{t[0]} in {t[1]}")),
        st.tuples(text, st.lists(st.sampled_from([*CODES, "null"]), max_size=4)).map(
            lambda t: _paren(
                f"{t[0]} in [{', '.join(c if c == 'null' else repr(c) for c in t[1])}]"
            )
        ),
        st.tuples(
            number,
            st.lists(
                st.sampled_from(["1", "2.50", "-7", "0", "null"]),
                min_size=1,
                max_size=3,
            ),
        ).map(lambda t: _paren(f"{t[0]} not in [{', '.join(t[1])}]")),
        array().map(lambda a: _paren(f"null in {a}")),
        number.map(lambda n: _paren(f"{n} in tien")),
        st.just("(null in tien)"),
    )
    logic = st.tuples(any_kind(d), st.sampled_from(["and", "or"]), any_kind(d)).map(
        lambda t: _paren(f"{t[0]} {t[1]} {t[2]}")
    )
    return st.one_of(
        leaves,
        compare,
        with_null,
        regex,
        contains,
        logic,
        any_kind(d).map(lambda s: _paren(f"not {s}")),
        st.tuples(any_kind(d), boolean(d), boolean(d)).map(
            lambda t: _paren(f"{t[0]} ? {t[1]} : {t[2]}")
        ),
        st.tuples(
            st.sampled_from(["$any", "$all"]),
            st.sampled_from(["codes", "[co, true]", '[ma, "x"]', "[so_luong, 0]"]),
        ).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(text, st.sampled_from(["starts_with", "ends_with"]), text).map(
            lambda t: f"{_paren(t[0])}.{t[1]}({t[2]})"
        ),
        st.tuples(st.one_of(text, array()), st.just("is_empty")).map(
            lambda t: f"{_paren(t[0])}.{t[1]}"
        ),
        array().map(lambda a: _paren(f'{a} == ["K01", "Z00"]')),
    )


EXPRESSIONS = st.one_of(boolean(2), any_kind(2), boolean(3))
FRAMES = st.lists(rule_rows(), min_size=ROWS_PER_EXAMPLE, max_size=ROWS_PER_EXAMPLE)


def _oracle(rule: Any, row: dict[str, Any]) -> bool | None:
    try:
        return bool(rule.matches(row))
    except Exception:  # any error rule-engine raises is "not evaluable"
        return None


def assert_agrees(text: str, rows: list[dict[str, Any]]) -> None:
    """Compiled outcome == rule-engine's on every row (a raised error == null)."""
    try:
        rule = rule_engine.Rule(text, context=CONTEXT)
    except rule_engine.EngineError:
        with pytest.raises(RuleError):
            compile_expression(text, RULE_SCHEMA)
        return
    frame = pl.DataFrame(rows, schema=RULE_SCHEMA)
    expr = compile_expression(text, RULE_SCHEMA)
    got = frame.select(expr)["rule"].to_list()
    streamed = frame.lazy().select(expr).collect(engine="streaming")["rule"].to_list()
    assert streamed == got, f"{text}: the streaming engine disagrees"
    want = [_oracle(rule, row) for row in frame.iter_rows(named=True)]
    bad = [
        (row, g, w)
        for row, g, w in zip(frame.iter_rows(named=True), got, want, strict=True)
        if g != w
    ]
    assert not bad, f"{text}: {len(bad)} rows differ, first {bad[0]}"
    for outcome in set(want):
        event(f"rows {outcome}")


@settings(max_examples=CI_EXAMPLES)
@given(text=EXPRESSIONS, rows=FRAMES)
def test_compiled_rules_agree_with_rule_engine(
    text: str, rows: list[dict[str, Any]]
) -> None:
    assert_agrees(text, rows)


@pytest.mark.slow
@settings(max_examples=SLOW_EXAMPLES)
@given(text=EXPRESSIONS, rows=FRAMES)
def test_compiled_rules_agree_with_rule_engine_slow(
    text: str, rows: list[dict[str, Any]]
) -> None:
    assert_agrees(text, rows)
