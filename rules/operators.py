"""The operators: ``and or not``, ``?:``, ``??``, comparisons and regex matches,
arithmetic, ``in``, indexes and slices (see :mod:`rules.compiler` for the semantics).

Numbers are exact decimals as in rule-engine (``Decimal(38, s)``); products keep the sum
of their operands' scales up to :data:`MULTIPLY_SCALE` places, quotients
:data:`DIVISION_SCALE` places, so a division that terminates within those places matches
rule-engine's 28-digit result.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import polars as pl
from rule_engine import ast as rast

from rules.errors import RuleTypeError, UnsupportedRuleError
from rules.regex import RegexNotSupported, rust_regex
from rules.translate import (
    Compiler,
    Value,
    any_error,
    cast_to,
    common_kind,
    decimal_literal,
    guard,
    has_null,
    is_null,
    literal_index,
    outcome,
    translate,
    truthy,
    unify,
)
from rules.types import BOOLEAN, DATETIME, FLOAT0, NULL, STRING, TIMEDELTA, Kind

MULTIPLY_SCALE = 20
"""Most decimal places a product keeps (it keeps the sum of its operands' places)."""
DIVISION_SCALE = 16
"""Decimal places of a quotient (more if an operand has more)."""
_DATETIME_MIN = dt.datetime(1, 1, 1)  # naive: UTC, as the columns
_DATETIME_MAX = dt.datetime(9999, 12, 31, 23, 59, 59, 999999)


# --- logic -----------------------------------------------------------------------------


@translate.register
def _(node: rast.LogicExpression, rule: Compiler) -> Value:
    left, right = rule.compile(node.left), rule.compile(node.right)
    lt, rt = truthy(left), truthy(right)
    # Kleene and/or of the left side's truthiness with the right side's outcome is the
    # outcome where the left side does not raise: a falsy (and) or truthy (or) left
    # side decides without evaluating the right side, else the right side's outcome
    if node.type == "and":
        # a falsy left side decides without evaluating the right side
        error = any_error(left.error, guard(lt, right.error))
        value, both = lt & rt, lt & outcome(right)
    else:
        error = any_error(left.error, guard(~lt, right.error))
        value, both = lt | rt, lt | outcome(right)
    if left.error is not None:
        both = pl.when(left.error).then(pl.lit(None, pl.Boolean())).otherwise(both)
    return Value(value, BOOLEAN, error, outcome=both)


@translate.register
def _(node: rast.UnaryExpression, rule: Compiler) -> Value:
    right = rule.compile(node.right)
    if node.type == "not":
        return Value(~truthy(right), BOOLEAN, right.error, outcome=~outcome(right))
    if right.kind.name not in ("FLOAT", "TIMEDELTA"):
        msg = f"unary minus on {right.kind}"
        raise rule.fail(msg, RuleTypeError)
    return Value(-right.value, right.kind, any_error(right.error, is_null(right)))


@translate.register
def _(node: rast.TernaryExpression, rule: Compiler) -> Value:
    condition = rule.compile(node.condition)
    yes, no = rule.compile(node.case_true), rule.compile(node.case_false)
    a, b, kind = unify(rule, yes, no, "a ternary", UnsupportedRuleError)
    taken = truthy(condition)
    error = None
    if yes.error is not None or no.error is not None:
        error = (
            pl.when(taken)
            .then(yes.error if yes.error is not None else pl.lit(False))
            .otherwise(no.error if no.error is not None else pl.lit(False))
        )
    value = pl.when(taken).then(a).otherwise(b)
    return Value(value, kind, any_error(condition.error, error))


@translate.register
def _(node: rast.CoalesceExpression, rule: Compiler) -> Value:
    left, right = rule.compile(node.left), rule.compile(node.right)
    a, b, kind = unify(rule, left, right, "'??'")
    error = any_error(left.error, guard(is_null(left), right.error))
    return Value(pl.coalesce(a, b), kind, error)


# --- comparisons -----------------------------------------------------------------------

_SYMBOLS = {"eq": "==", "ne": "!=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_ORDERED: dict[str, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}


_FLIPPED = {"gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}


def _is_constant(expr: pl.Expr) -> bool:
    return not expr.meta.root_names()


def _column_first(a: pl.Expr, b: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Operands of a symmetric comparison with any column side first.

    polars 2.1 loses the frame's length comparing a literal (left) with a column that
    ``when``/``coalesce`` filled from a literal (``"" == (ma ?? "")`` on a null chunk):
    a one-row result, a ShapeError beside other columns, rows dropped when streaming.
    """
    return (b, a) if _is_constant(a) else (a, b)


def _integers(left: Value, right: Value, kind: Kind) -> tuple[pl.Expr, pl.Expr]:
    """Both sides cast to ``kind``, or two integer columns as stored (compared exactly
    as integers, without the cast of every row to a decimal)."""
    if left.stored is not None and right.stored is not None:
        return left.stored, right.stored
    return cast_to(left, kind), cast_to(right, kind)


@translate.register
def _(node: rast.ComparisonExpression, rule: Compiler) -> Value:
    left, right = rule.compile(node.left), rule.compile(node.right)
    error = any_error(left.error, right.error)
    if node.type in _ORDERED:
        return _ordered(node.type, left, right, error, rule)
    kind = common_kind(left.kind, right.kind)
    if kind is None:
        # rule-engine finds values of different Python types unequal on every row;
        # refuse such a rule (a date against a string) rather than compile a constant
        msg = f"'{_SYMBOLS[node.type]}' compares {left.kind} with {right.kind}, never equal"
        raise rule.fail(msg, RuleTypeError)
    if NULL in (left.kind, right.kind):
        equal = is_null(left) & is_null(right)
    else:
        a, b = _column_first(*_integers(left, right, kind))
        equal = a.eq_missing(b)
    return Value(equal if node.type == "eq" else ~equal, BOOLEAN, error)


def _ordered(
    op: str, left: Value, right: Value, error: pl.Expr | None, rule: Compiler
) -> Value:
    a, b, kind = unify(rule, left, right, f"'{_SYMBOLS[op]}'")
    if kind.name in ("ARRAY", "SET", "NULL"):
        msg = f"ordering {kind} values"
        raise rule.fail(msg)
    a, b = _integers(left, right, kind)
    left_null, right_null = is_null(left), is_null(right)
    if _is_constant(a):
        a, b, op = b, a, _FLIPPED[op]
    # two nulls compare as equal; one null is a type mismatch, which raises
    value = (
        pl.when(left_null & right_null)
        .then(pl.lit(op in ("ge", "le")))
        .otherwise(_ORDERED[op](a, b))
    )
    return Value(value, BOOLEAN, any_error(error, left_null ^ right_null))


@translate.register
def _(node: rast.FuzzyComparisonExpression, rule: Compiler) -> Value:
    left = rule.compile(node.left)
    negate = node.type.startswith("ne")
    if isinstance(node.right, rast.NullExpression):
        # rule-engine: `not (left is not None)` for =~, the opposite for !~
        matched = is_null(left)
        return Value(~matched if negate else matched, BOOLEAN, left.error)
    if not isinstance(node.right, rast.StringExpression):
        msg = "a regular expression that is not a string literal"
        raise rule.fail(msg)
    try:
        pattern = rust_regex(node.right.value, anchored=node.type.endswith("fzm"))
    except RegexNotSupported as exc:
        raise rule.fail(str(exc)) from None
    found = left.value.str.contains(pattern)
    # a null left side: =~ is False and !~ is True
    value = (
        pl.when(is_null(left))
        .then(pl.lit(negate))
        .otherwise(~found if negate else found)
    )
    return Value(value, BOOLEAN, left.error)


# --- arithmetic ------------------------------------------------------------------------


def _scaled(v: Value, scale: int) -> pl.Expr:
    return v.value.cast(pl.Decimal(38, scale)) if v.kind.scale < scale else v.value


def _multiply(a: Value, b: Value) -> Value:
    # polars keeps max(scale) of a product: widen the left side to keep every digit
    scale = min(a.kind.scale + b.kind.scale, MULTIPLY_SCALE)
    value = _scaled(a, scale) * b.value
    if max(a.kind.scale, b.kind.scale) > scale:  # capped: round to the cap
        value = value.cast(pl.Decimal(38, scale))
    return Value(value, Kind("FLOAT", scale=scale))


@translate.register
def _(node: rast.ArithmeticExpression, rule: Compiler) -> Value:
    left, right = rule.compile(node.left), rule.compile(node.right)
    if left.kind.name != "FLOAT" or right.kind.name != "FLOAT":
        msg = f"arithmetic on {left.kind} and {right.kind}"
        raise rule.fail(msg, RuleTypeError)
    error = any_error(left.error, right.error, is_null(left), is_null(right))
    op = node.type
    if op == "mul":
        product = _multiply(left, right)
        return Value(product.value, product.kind, error)
    if op == "pow":
        return _power(node, left, error, rule)
    zero = (right.value == 0).fill_null(False)
    divisor = pl.when(zero).then(pl.lit(1, pl.Decimal(38, 0))).otherwise(right.value)
    error = any_error(
        error, zero
    )  # rule-engine: division by zero is an ArithmeticError
    scale = max(left.kind.scale, right.kind.scale)
    if op == "tdiv":
        scale = max(scale, DIVISION_SCALE)
        return Value(_scaled(left, scale) / divisor, Kind("FLOAT", scale=scale), error)
    whole = left.value.truncdiv(divisor)  # Decimal // truncates toward zero
    if op == "fdiv":
        return Value(whole, Kind("FLOAT", scale=scale), error)
    # Decimal % takes the sign of the dividend: l - r * trunc(l / r)
    rest = _scaled(left, scale) - divisor * whole
    return Value(rest.cast(pl.Decimal(38, scale)), Kind("FLOAT", scale=scale), error)


def _power(node: Any, base: Value, error: pl.Expr | None, rule: Compiler) -> Value:
    exponent = literal_index(rule, node.right, "an exponent")
    if exponent is None or not 0 <= exponent <= 8:
        msg = "an exponent other than a literal integer from 0 to 8"
        raise rule.fail(msg)
    if exponent == 0:
        # Decimal(0) ** 0 is an invalid operation
        return Value(
            pl.lit(1, pl.Decimal(38, 0)),
            FLOAT0,
            any_error(error, (base.value == 0).fill_null(False)),
        )
    result = base
    for _ in range(exponent - 1):
        result = _multiply(result, base)
    return Value(result.value, result.kind, error)


@translate.register(rast.AddExpression)
@translate.register(rast.SubtractExpression)
def _(node: Any, rule: Compiler) -> Value:
    left, right = rule.compile(node.left), rule.compile(node.right)
    add = isinstance(node, rast.AddExpression)
    error = any_error(left.error, right.error, is_null(left), is_null(right))
    kinds = (left.kind.name, right.kind.name)
    if kinds == ("FLOAT", "FLOAT"):
        a, b, kind = unify(rule, left, right, "'+'")
        return Value(a + b if add else a - b, kind, error)
    if kinds == ("STRING", "STRING") and add:
        return Value(left.value + right.value, STRING, error)
    if kinds == ("DATETIME", "DATETIME") and not add:
        null = any_error(is_null(left), is_null(right))
        return Value(left.value - right.value, TIMEDELTA, error, null=null)
    if kinds == ("TIMEDELTA", "TIMEDELTA"):
        value = left.value + right.value if add else left.value - right.value
        return Value(value, TIMEDELTA, error)
    if "DATETIME" in kinds and "TIMEDELTA" in kinds and (add or kinds[0] == "DATETIME"):
        value = left.value + right.value if add else left.value - right.value
        # Python's datetime stops at years 1 and 9999 (OverflowError)
        outside = ~value.is_between(pl.lit(_DATETIME_MIN), pl.lit(_DATETIME_MAX))
        return Value(value, DATETIME, any_error(error, outside.fill_null(False)))
    msg = f"{'+' if add else '-'} on {left.kind} and {right.kind}"
    raise rule.fail(msg, RuleTypeError)


# --- containers ------------------------------------------------------------------------


@translate.register
def _(node: rast.ContainsExpression, rule: Compiler) -> Value:
    member = rule.compile(node.member)
    literal = _literal_members(node.container)
    if literal is not None and member.kind != NULL:
        return _in_literal(literal, member, rule)
    box = rule.compile(node.container)
    error = any_error(box.error, member.error, is_null(box))  # `x in None` raises
    if box.kind == STRING:
        value = box.value.str.contains(member.value, literal=True)
        return Value(value, BOOLEAN, any_error(error, is_null(member)))
    if box.kind.name not in ("ARRAY", "SET"):
        msg = f"'in' a {box.kind}"
        raise rule.fail(msg, RuleTypeError)
    item = box.kind.item
    assert item is not None
    if member.kind == NULL:
        return Value(has_null(box.value), BOOLEAN, error)
    if item == NULL:  # an empty literal
        return Value(pl.lit(False), BOOLEAN, error)
    kind = common_kind(member.kind, item)
    if kind is None:
        msg = f"'in' looks for a {member.kind} among {item} values; use one type"
        raise rule.fail(msg, RuleTypeError)
    items = box.value.cast(pl.List(kind.dtype())) if item != kind else box.value
    return Value(
        items.list.contains(cast_to(member, kind), nulls_equal=True), BOOLEAN, error
    )


def _in_literal(values: list[Any], member: Value, rule: Compiler) -> Value:
    """``member in [literals]``: one ``is_in`` against a constant list."""
    kind = member.kind
    for v in values:
        if v is not None:
            found = (
                decimal_literal(v, rule).kind
                if isinstance(v, Decimal)
                else _KINDS[type(v)]
            )
            common = common_kind(kind, found)
            if common is None:
                msg = (
                    f"'in' looks for a {member.kind} among {found} values; use one type"
                )
                raise rule.fail(msg, RuleTypeError)
            kind = common
    value = cast_to(member, kind)
    if not values:  # nothing is in an empty list, null included
        return Value(pl.lit(False), BOOLEAN, member.error)
    if len(values) <= _FEW_MEMBERS:  # a few comparisons beat hashing every row
        each = [value.eq_missing(pl.lit(v, kind.dtype())) for v in values]
        return Value(functools.reduce(operator.or_, each), BOOLEAN, member.error)
    items = pl.Series(values, dtype=kind.dtype()).implode()
    return Value(value.is_in(items, nulls_equal=True), BOOLEAN, member.error)


_FEW_MEMBERS = 8
"""Up to this many literals, ``in`` is compared member by member (``==`` on a string
column is about 3x faster per member than ``is_in``'s hash of every row; 5 codes: 3.5x)."""


_KINDS = {str: STRING, bool: BOOLEAN, dt.timedelta: TIMEDELTA}


def _literal_members(node: Any) -> list[Any] | None:
    if not isinstance(node, rast.ArrayExpression | rast.SetExpression):
        return None
    if not all(isinstance(m, rast.LiteralExpressionBase) for m in node.value):
        return None
    values = [m.value for m in node.value]
    if not all(v is None or isinstance(v, (Decimal, *_KINDS)) for v in values):
        return None  # date-times (aware) go through the general path
    return values


@translate.register
def _(node: rast.GetItemExpression, rule: Compiler) -> Value:
    box = rule.compile(node.container)
    index = literal_index(rule, node.item, "an index")
    if index is None or box.kind.name not in ("STRING", "ARRAY"):
        msg = f"indexing a {box.kind} with {'null' if index is None else index}"
        raise rule.fail(msg)
    size = _length(box).cast(pl.Int64)
    outside = (size <= index) if index >= 0 else (size < -index)
    if box.kind == STRING:
        kind = STRING
        value = pl.when(outside).then(None).otherwise(box.value.str.slice(index, 1))
    else:
        assert box.kind.item is not None
        kind = box.kind.item
        value = box.value.list.get(index, null_on_oob=True)
    if node.safe:  # `&[` gives null for a null container or a missing item
        return Value(value, kind, box.error)
    return Value(
        value, kind, any_error(box.error, is_null(box), outside.fill_null(False))
    )


@translate.register
def _(node: rast.GetSliceExpression, rule: Compiler) -> Value:
    box = rule.compile(node.container)
    if box.kind.name not in ("STRING", "ARRAY"):
        msg = f"slicing a {box.kind}"
        raise rule.fail(msg)
    size = _length(box).cast(pl.Int64)
    start = _bound(literal_index(rule, node.start, "a slice start"), size, 0)
    stop = _bound(literal_index(rule, node.stop, "a slice stop"), size, None)
    length = pl.max_horizontal(stop - start, pl.lit(0, pl.Int64))
    if box.kind == STRING:
        value = box.value.str.slice(start, length)
    else:
        value = box.value.list.slice(start, length)
    error = box.error if node.safe else any_error(box.error, is_null(box))
    return Value(value, box.kind, error)


def _bound(index: int | None, size: pl.Expr, default: int | None) -> pl.Expr:
    """A Python slice bound: negative counts from the end, clamped to ``[0, size]``."""
    if index is None:
        return size if default is None else pl.lit(default, pl.Int64)
    if index >= 0:
        return pl.min_horizontal(pl.lit(index, pl.Int64), size)
    return pl.max_horizontal(size + index, pl.lit(0, pl.Int64))


def _length(v: Value) -> pl.Expr:
    return v.value.str.len_chars() if v.kind == STRING else v.value.list.len()
