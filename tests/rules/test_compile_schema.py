"""``rules.compile_expression`` takes a schema as polars users write it (dtype classes
as well as instances), and ``rules.expression_columns`` lists what a rule reads."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest

from rules import (
    RuleTypeError,
    compile_expression,
    compile_value,
    expression_columns,
)

FRAME = pl.DataFrame(
    {
        "n": [1, 5, None],
        "s": ["a", "bc", None],
        "tags": [["x"], ["y", "z"], []],
        "when": [None, None, None],
    },
    schema={
        "n": pl.Int64(),
        "s": pl.String(),
        "tags": pl.List(pl.String()),
        "when": pl.Datetime("us"),
    },
)
RULE = 'n > 2 or s == "a" or "z" in tags'
EXPECTED = [True, True, None]  # a null in an ordered comparison: not evaluable


@pytest.mark.parametrize(
    "schema",
    [
        {"n": pl.Int64(), "s": pl.String(), "tags": pl.List(pl.String())},
        {"n": pl.Int64, "s": pl.String, "tags": pl.List(pl.String)},
        {"n": pl.Int64, "s": pl.Utf8, "tags": pl.List(pl.String())},
    ],
    ids=["instances", "classes", "mixed"],
)
def test_classes_and_instances_compile_alike(schema: dict[str, object]) -> None:
    rule = compile_expression(RULE, schema)  # type: ignore[arg-type]
    assert FRAME.select(rule)["rule"].to_list() == EXPECTED


def test_a_bare_datetime_class_is_its_default_instance() -> None:
    rule = compile_expression("when == null", {"when": pl.Datetime})
    assert FRAME.select(rule)["rule"].to_list() == [True, True, True]


def test_compile_value_takes_classes() -> None:
    value = compile_value("n * 2", {"n": pl.Int64})
    assert FRAME.select(value)["value"].to_list() == [Decimal(2), Decimal(10), None]


def test_nested_list_of_classes() -> None:
    frame = pl.DataFrame({"m": [[1, 2], [3]]}, schema={"m": pl.List(pl.Int64())})
    rule = compile_expression("m[0] == 3", {"m": pl.List(pl.Int64)})
    assert frame.select(rule)["rule"].to_list() == [False, True]


@pytest.mark.parametrize("bare", [pl.List, pl.Array, pl.Struct])
def test_a_class_that_needs_parameters_is_told(bare: type[pl.DataType]) -> None:
    with pytest.raises(RuleTypeError, match="needs its parameters"):
        compile_expression("x == null", {"x": bare})


def test_not_a_dtype_is_told() -> None:
    with pytest.raises(RuleTypeError, match="is not a polars dtype"):
        compile_expression("x == 1", {"x": "Int64"})  # type: ignore[dict-item]


def test_an_unknown_column_is_still_a_type_error() -> None:
    with pytest.raises(RuleTypeError, match="nn"):
        compile_expression("nn > 1", {"n": pl.Int64})


def test_expression_columns_in_text_order_once() -> None:
    schema: dict[str, pl.DataType | type[pl.DataType]] = {
        "a": pl.Int64,
        "b": pl.String,
        "c": pl.List(pl.Int64),
        "d": pl.Int64,
        "e": pl.String,
        "f": pl.String,
        "unused": pl.Int64,
    }
    text = "$abs(d) > 1 and (a > 1 ? e : f) == b.as_upper and c[0] == a and d > 0"
    assert expression_columns(text, schema) == ("d", "a", "e", "f", "b", "c")


def test_expression_columns_of_a_constant_rule() -> None:
    assert expression_columns("1 > 0", {"a": pl.Int64}) == ()


def test_compile_reading_compiles_and_lists_from_one_parse() -> None:
    from rules.compiler import compile_reading

    rule, read = compile_reading(
        RULE, {"n": pl.Int64, "s": pl.String, "tags": pl.List(pl.String)}
    )
    assert FRAME.select(rule)["rule"].to_list() == EXPECTED
    assert read == ("n", "s", "tags")
