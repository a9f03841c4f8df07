"""The rule compiler construct by construct, on tiny literal frames.

Each case gives the outcome per row of :data:`FRAME`: row 0 ordinary values, row 1 all
nulls, row 2 negatives, empty values and boundary dates. ``None`` is "not evaluable"
(rule-engine raises on that row).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import polars as pl
import pytest
import rule_engine
from polars.testing import assert_series_equal

from rules import (
    RuleError,
    RuleSyntaxError,
    RuleTypeError,
    UnsupportedRuleError,
    compile_expression,
    compile_value,
)
from rules.regex import rust_regex
from rules.types import rule_context

SCHEMA: dict[str, pl.DataType] = {
    "a": pl.Int64(),
    "b": pl.Int64(),
    "so_luong": pl.Decimal(38, 3),
    "don_gia": pl.Decimal(38, 3),
    "thanh_tien": pl.Decimal(38, 2),
    "ma": pl.String(),
    "ten": pl.String(),
    "co": pl.Boolean(),
    "ngay": pl.Datetime("us"),
    "ngay_d": pl.Date(),
    "codes": pl.List(pl.String()),
    "tien": pl.List(pl.Decimal(38, 2)),
}
FRAME = pl.DataFrame(
    {
        "a": [3, None, -7],
        "b": [2, None, 0],
        "so_luong": [Decimal("30.000"), None, Decimal("-1.500")],
        "don_gia": [Decimal("14999.020"), None, Decimal("2.000")],
        "thanh_tien": [Decimal("449970.60"), None, Decimal("-3.00")],
        "ma": ["K01", None, ""],
        "ten": ["Đặng Thị Ánh", None, "ab\n"],
        "co": [True, None, False],
        "ngay": [dt.datetime(2024, 6, 30, 13, 30), None, dt.datetime(9999, 12, 31, 12)],
        "ngay_d": [dt.date(2024, 6, 30), None, dt.date(1, 1, 1)],
        "codes": [["K01", "Z00"], None, []],
        "tien": [[Decimal("1.50"), Decimal("2.25")], None, []],
    },
    schema=SCHEMA,
)


def outcome(text: str, frame: pl.DataFrame = FRAME) -> pl.Series:
    """The compiled rule's outcome on each row of ``frame``."""
    return frame.select(compile_expression(text, frame.schema))["rule"]


def expect(values: list[bool | None]) -> pl.Series:
    return pl.Series("rule", values, dtype=pl.Boolean())


def rule_engine_outcome(text: str, frame: pl.DataFrame = FRAME) -> list[bool | None]:
    """rule-engine's own ``Rule.matches`` per row (None where it raises)."""
    rule = rule_engine.Rule(text, context=rule_context(frame.schema))
    out: list[bool | None] = []
    for row in frame.iter_rows(named=True):
        try:
            out.append(rule.matches(row))
        except Exception:  # any error is "not evaluable"
            out.append(None)
    return out


CASES = {
    # numbers are decimals: the float product 449970.60000000003 would not be equal
    "so_luong * don_gia == thanh_tien": [True, None, True],
    "a == 3.0": [True, False, False],
    "a / 4 == 0.75": [True, None, False],
    "a // 2 == 1 and -7 // 2 == -3": [True, None, False],
    "a // 2 == -3": [False, None, True],  # Decimal // truncates toward zero
    "a % 2 == -1": [False, None, True],  # Decimal % takes the dividend's sign
    "a % -2 == 1": [True, None, False],
    "a / b > 0": [True, None, None],  # division by zero is not evaluable
    "a % b == 1": [True, None, None],
    "-a > 0": [False, None, True],
    "a ** 2 == 9": [True, None, False],
    # == and != treat a data null as a value; ordered comparisons raise on one null
    "a == null": [False, True, False],
    "a != null": [True, False, True],
    "a == b": [False, True, False],
    "a > 0": [True, None, False],
    "a >= b": [True, True, False],  # two nulls compare as equal
    "a > b": [True, False, False],
    "(a > 0) == (b > 0)": [True, None, True],  # both null: not evaluable, not True
    "a + 1 > 0": [True, None, False],
    # and / or follow rule-engine's evaluation order
    "(a > 0) and false": [False, None, False],  # Kleene & would say False
    "false and (a > 0)": [False, False, False],
    "true and (a > 0)": [True, None, False],
    "(a > 0) or true": [True, None, True],
    "true or (a > 0)": [True, True, True],
    "false or (a > 0)": [True, None, False],
    "co and a > 0": [True, False, False],
    "not (a > 0)": [False, None, True],
    # truthiness (Rule.matches is bool() of the value)
    "ma": [True, False, False],
    "a": [True, False, True],
    "b": [True, False, False],
    "codes": [True, False, False],
    "ngay": [True, False, True],
    "ngay - ngay": [False, None, False],
    "not ma": [False, True, True],
    "null": [False, False, False],
    "true": [True, True, True],
    # ternary and ??: only the branch taken can raise
    "co ? a > 0 : true": [True, True, True],
    "(a > 0) ? true : false": [True, None, False],
    "co ? b > 0 : a > 0": [True, None, False],
    "(a ?? 0) > 0": [True, False, False],
    '(ma ?? "x") == "x"': [False, True, False],
    # regexes: =~ is re.match (anchored at the start), =~~ re.search
    'ma =~ "K"': [True, False, False],
    'ma =~ "01"': [False, False, False],
    'ma =~~ "01"': [True, False, False],
    'ma !~ "K"': [False, True, True],  # null !~ x is True
    'ma !~~ "01"': [False, True, True],
    'ten =~ r"ab$"': [False, False, True],  # Python's $ matches before a final newline
    'ten =~ r"\\w+ "': [True, False, False],
    "ma =~ null": [False, True, False],
    # strings
    'ma + ten == "K01Đặng Thị Ánh"': [True, None, False],
    '"K" in ma': [True, None, False],
    "ma in codes": [True, None, False],
    'ma in ["K01", "O80"]': [True, False, False],
    'ma in ["O80", null]': [False, True, False],
    "ma in []": [False, False, False],  # nothing is in an empty list, null included
    "not (ma in [])": [True, True, True],
    'ma[0] == "K"': [True, None, None],  # an index out of range raises
    'ma[-1] == "1"': [True, None, None],
    "ma&[0] == null": [False, True, True],
    'ma[1:] == "01" or ten[:-1] == "ab"': [True, None, True],
    "ten.length == 12": [True, None, False],
    'ten.as_lower == "đặng thị ánh"': [True, None, False],
    'ma.as_upper == "K01"': [True, None, False],
    "ma.is_empty": [False, None, True],
    'ma.starts_with("K")': [True, None, False],
    'ten.ends_with("\\n")': [False, None, True],
    # arrays
    '"Z00" in codes': [True, None, False],
    "null in codes": [False, None, False],
    'codes[0] == "K01"': [True, None, None],
    'codes[-1] == "Z00"': [True, None, None],
    "codes&[5] == null": [True, True, True],
    "codes.length == 2": [True, None, False],
    "codes.is_empty": [False, None, True],
    'codes[1:] == ["Z00"]': [True, None, False],
    "$sum(tien) == 3.75": [True, None, False],
    "$max(tien) > 2": [True, None, None],  # max() of nothing raises
    "1.5 in tien": [True, None, False],
    # date-times: naive values are UTC, a date is midnight
    'ngay > d"2024-06-30"': [True, None, True],
    'ngay_d == d"2024-06-30T00:00:00Z"': [True, False, False],
    'ngay - ngay_d > t"PT12H"': [True, None, True],
    "(ngay - ngay_d).days == 0": [True, None, False],
    "(ngay - ngay_d).seconds == 48600": [True, None, False],
    "ngay.year == 2024 and ngay.month == 6 and ngay.day == 30": [True, None, False],
    "ngay.hour == 13 and ngay.minute == 30": [True, None, False],
    'ngay.weekday == "Sunday"': [True, None, False],
    "ngay.date == ngay_d": [True, None, False],
    'ngay + t"P1D" > ngay': [True, None, None],  # past year 9999 Python overflows
    'ngay_d - t"P1D" < ngay_d': [True, None, None],  # before year 1 too
    # built-ins
    "$abs(a) == 7": [False, None, True],
    "$pi > 3.14159 and $e < 2.72": [True, True, True],
    "$sum([a, b]) == 5": [True, None, False],
    "$min([a, b]) == -7": [False, None, True],
    "$any([co, false])": [True, False, False],
    "$all(codes)": [True, None, True],
    "$all([]) and not $any([]) and $sum([]) == 0": [True, True, True],
    "$max([]) == 0": [None, None, None],
    "a.to_int == 3 and (a / 2).to_int == 1": [None, None, False],  # 1.5 is not whole
    "(a / 2).to_int > 0": [None, None, None],
    "so_luong.floor == -2 or so_luong.ceiling == 30": [True, None, True],
}


@pytest.mark.parametrize(("text", "values"), CASES.items(), ids=list(CASES))
def test_outcome(text: str, values: list[bool | None]) -> None:
    assert rule_engine_outcome(text) == values  # the expectation is rule-engine's
    assert_series_equal(outcome(text), expect(values))


def test_streaming_engine_gives_the_same_outcomes() -> None:
    text = "(a > 0) == (b > 0) or ma =~ 'K' and a / b > 1"
    lazy = FRAME.lazy().select(compile_expression(text, SCHEMA))
    assert_series_equal(lazy.collect(engine="streaming")["rule"], outcome(text))


def test_a_constant_rule_gives_one_outcome_per_row() -> None:
    assert_series_equal(outcome("1 < 2"), expect([True, True, True]))
    assert outcome("false", FRAME.head(0)).len() == 0


@pytest.mark.parametrize(
    "text",
    [
        '"" == (ma ?? "")',
        '"x" > (co ? ma : "")',
        "3 <= (a ?? 0)",
        '[""] == (codes ?? [""])',
    ],
)
def test_a_literal_compared_with_a_filled_column_keeps_every_row(text: str) -> None:
    # polars 2.1 returns one row for `lit == when(...).then(lit)` on an all-null chunk
    frame = pl.DataFrame({c: [None] * 5 for c in SCHEMA}, schema=SCHEMA)
    expr = compile_expression(text, SCHEMA)
    assert frame.select(expr).height == 5
    assert frame.select(expr, pl.col("ma")).height == 5
    streamed = frame.lazy().select(expr).collect(engine="streaming")
    assert streamed["rule"].to_list() == rule_engine_outcome(text, frame)


def test_value_is_the_exact_decimal_or_null() -> None:
    values = FRAME.select(compile_value("so_luong * don_gia / 4", SCHEMA))["value"]
    assert values.to_list() == [Decimal("112492.65"), None, Decimal("-0.75")]
    assert FRAME.select(compile_value("a / b", SCHEMA))["value"].to_list()[2] is None


def test_integer_and_categorical_columns_are_read_as_their_rule_engine_types() -> None:
    frame = pl.DataFrame(
        {"n": [1, 2], "c": ["x", "y"]},
        schema={"n": pl.UInt32(), "c": pl.Categorical()},
    )
    assert_series_equal(
        outcome('n * 1.5 == 3 or c == "x"', frame), expect([True, True])
    )


@pytest.mark.parametrize(
    ("text", "value", "want"),
    [
        # Python's \w and \d are not Rust's: combining marks are not word characters
        (r"\w+$", "e\u0301", False),
        (r"\w+$", "Đặng", True),
        (r"\d", "٣", True),
        (r"\s", "\x1c", True),
        (".$", "\n", False),
        ("[^a-z]", "Á", True),
        ("(K|O)\\d\\d$", "O80\n", True),
        ("a|b$", "b\n", True),
    ],
)
def test_regex_dialect_matches_python(text: str, value: str, want: bool) -> None:
    frame = pl.DataFrame({"s": [value]})
    assert (re.match(text, value) is not None) is want
    assert outcome(f's =~ r"{text}"', frame).to_list() == [want]


def test_regex_classes_match_python_on_every_bmp_code_point() -> None:
    chars = [chr(c) for c in range(0xD800)] + [chr(c) for c in range(0xE000, 0x10000)]
    series = pl.Series(chars)
    for pattern in (r"\d", r"\D", r"\s", r"\S", r"\w", r"\W", "."):
        found = series.str.contains(rust_regex(pattern, anchored=True)).to_list()
        want = [re.match(pattern, c) is not None for c in chars]
        assert found == want, pattern


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('ma =~ "(?=K)"', "look-around"),
        ('ma =~ "(K)\\\\1"', "back-references"),
        ('ma =~ "(?i)k"', "inline flags"),
        ('ma =~ "\\\\bK"', r"\b"),
        (r'ma =~ r"K$\n"', "'$' before the end"),
        ("ma =~ ten", "not a string literal"),
        ("[c for c in codes]", "ComprehensionExpression"),
        ("a & 1", "BitwiseExpression"),
        ("$now > ngay", "$now"),
        ("ma.to_int > 1", "to_int"),
        ("codes[a] == null", "not a number literal"),
        ('co ? a : "x"', "a ternary mixes"),
        ('ngay > d"2024-01-01T00:00:00+07:00"', "UTC offset"),
    ],
)
def test_unsupported_constructs_fail_loudly_with_a_position(
    text: str, reason: str
) -> None:
    with pytest.raises(UnsupportedRuleError) as info:
        compile_expression(text, SCHEMA)
    assert reason in info.value.reason
    assert info.value.expression == text
    assert info.value.position is not None
    assert f"at position {info.value.position}" in str(info.value)


def test_unknown_column_names_its_position_and_the_closest_column() -> None:
    with pytest.raises(RuleTypeError) as info:
        compile_expression("a > 0 and so_luongg > 1", SCHEMA)
    error = info.value
    assert (error.position, error.suggestion) == (10, "so_luong")
    assert "unknown column 'so_luongg'" in str(error)
    assert "at position 10" in str(error)
    assert "did you mean 'so_luong'?" in str(error)
    assert str(error).endswith("\n    " + " " * 10 + "^")


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ('ngay == "2024-01-01"', 5),  # rule-engine would say False on every row
        ('ngay < "2024-01-01"', 5),  # rule-engine refuses it itself
        ("ma != 1 or a > 0", 3),
        ("1 in codes", 2),
    ],
)
def test_comparing_a_date_to_a_string_is_a_type_error(text: str, position: int) -> None:
    with pytest.raises(RuleTypeError) as info:
        compile_expression(text, SCHEMA)
    assert info.value.position == position
    assert f"at position {position}" in str(info.value)


def test_unknown_attribute_suggests_the_closest() -> None:
    with pytest.raises(RuleTypeError) as info:
        compile_expression("ma.lenght > 1", SCHEMA)
    assert (info.value.position, info.value.suggestion) == (3, "length")


def test_syntax_error_points_at_the_token() -> None:
    with pytest.raises(RuleSyntaxError) as info:
        compile_expression("a > > 1", SCHEMA)
    assert info.value.position == 4
    assert str(info.value).startswith("syntax error at position 4\n    a > > 1\n")
    with pytest.raises(RuleSyntaxError) as info:
        compile_expression("a >", SCHEMA)
    assert info.value.position == 3


def test_bad_literal_is_a_syntax_error() -> None:
    with pytest.raises(RuleSyntaxError) as info:
        compile_expression('ngay > d"2024-13-45"', SCHEMA)
    assert info.value.position == 7


def test_loader_locates_the_error_in_its_pack_and_rule() -> None:
    with pytest.raises(RuleError) as info:
        compile_expression("so_luongg > 0", SCHEMA)
    located = info.value.at(pack="vn-bhyt", version="2026.07.0", rule_id="R042")
    assert type(located) is RuleTypeError
    assert (located.pack, located.version, located.rule_id) == (
        "vn-bhyt",
        "2026.07.0",
        "R042",
    )
    assert (located.position, located.suggestion) == (0, "so_luong")
    assert str(located).startswith("vn-bhyt@2026.07.0, rule R042: unknown column")


@pytest.mark.parametrize(
    ("dtype", "reason"),
    [
        (pl.Float64(), "Float64"),
        (pl.Datetime("us", "Asia/Ho_Chi_Minh"), "Datetime"),
        (pl.Struct({"x": pl.Int64()}), "Struct"),
    ],
)
def test_columns_the_compiler_cannot_read_are_refused_when_used(
    dtype: pl.DataType, reason: str
) -> None:
    schema = {**SCHEMA, "x": dtype}
    assert_series_equal(outcome("a > 0"), expect([True, None, False]))
    compile_expression("a > 0", schema)  # an unused column is no problem
    with pytest.raises(UnsupportedRuleError, match=reason):
        compile_expression("x == null", schema)
