"""Attributes (``s.length``, ``d.year``, ``n.floor`` …), methods (``starts_with``,
``ends_with``) and the built-ins (``$e $pi $abs $sum $min $max $any $all``); the others
are refused with the reason.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import polars as pl
from rule_engine import ast as rast

from rules.errors import RuleError, RuleTypeError
from rules.translate import (
    Compiler,
    Value,
    any_error,
    decimal_literal,
    has_null,
    is_null,
    translate,
    truthy,
)
from rules.types import BOOLEAN, DATETIME, FLOAT0, NULL, STRING, Kind, closest

_CONSTANTS = {"e": Decimal(repr(math.e)), "pi": Decimal(repr(math.pi))}
_BUILTINS = [
    *("abs", "all", "any", "e", "filter", "map", "max", "min", "now", "parse_datetime"),
    *("parse_float", "parse_timedelta", "pi", "random", "range", "re_groups", "split"),
    *("sum", "today"),
]


def builtin_symbol(node: Any, rule: Compiler) -> Value:
    """A built-in symbol: the constants ``$e`` and ``$pi``; the others are refused."""
    if node.name in _CONSTANTS:
        return decimal_literal(_CONSTANTS[node.name], rule)
    raise _builtin_refused(node.name, rule)


def _builtin_refused(name: str, rule: Compiler) -> RuleError:
    if name in ("now", "today"):
        msg = (
            f"${name}: it is read per row from the clock; use a run-date column instead"
        )
        return rule.fail(msg)
    if name in _BUILTINS:
        msg = f"${name} here (supported: $e, $pi, $abs(), $sum(), $min(), $max(), $any(), $all())"
        return rule.fail(msg)
    msg = f"unknown built-in ${name}"
    return rule.fail(msg, RuleTypeError, suggestion=closest(name, _BUILTINS))


# --- attributes and calls --------------------------------------------------------------

_Attribute = Callable[[pl.Expr], tuple[pl.Expr, Kind]]


def _as_float(expr: pl.Expr) -> tuple[pl.Expr, Kind]:
    return expr.cast(pl.Decimal(38, 0)), FLOAT0


_US_PER_DAY = 86_400_000_000


def _timedelta_parts(v: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Python's normalized timedelta: whole days (floored) and the microseconds left."""
    total = v.dt.total_microseconds()
    days = total // _US_PER_DAY
    return days, total - days * _US_PER_DAY


_ATTRIBUTES: dict[tuple[str, str], _Attribute] = {
    ("STRING", "length"): lambda v: _as_float(v.str.len_chars()),
    ("STRING", "is_empty"): lambda v: (v.str.len_bytes() == 0, BOOLEAN),
    ("STRING", "as_lower"): lambda v: (v.str.to_lowercase(), STRING),
    ("STRING", "as_upper"): lambda v: (v.str.to_uppercase(), STRING),
    ("STRING", "to_str"): lambda v: (v, STRING),
    ("ARRAY", "length"): lambda v: _as_float(v.list.len()),
    ("ARRAY", "is_empty"): lambda v: (v.list.len() == 0, BOOLEAN),
    ("DATETIME", "year"): lambda v: _as_float(v.dt.year()),
    ("DATETIME", "month"): lambda v: _as_float(v.dt.month()),
    ("DATETIME", "day"): lambda v: _as_float(v.dt.day()),
    ("DATETIME", "hour"): lambda v: _as_float(v.dt.hour()),
    ("DATETIME", "minute"): lambda v: _as_float(v.dt.minute()),
    ("DATETIME", "second"): lambda v: _as_float(v.dt.second()),
    ("DATETIME", "microsecond"): lambda v: _as_float(v.dt.microsecond()),
    ("DATETIME", "millisecond"): lambda v: (
        v.dt.microsecond().cast(pl.Decimal(38, 3)) / pl.lit(1000, pl.Decimal(38, 0)),
        Kind("FLOAT", scale=3),
    ),
    ("DATETIME", "date"): lambda v: (v.dt.truncate("1d"), DATETIME),
    ("DATETIME", "weekday"): lambda v: (v.dt.strftime("%A"), STRING),
    ("DATETIME", "zone_name"): lambda v: (
        pl.when(v.is_not_null()).then(pl.lit("UTC")),
        STRING,
    ),
    ("TIMEDELTA", "days"): lambda v: _as_float(_timedelta_parts(v)[0]),
    ("TIMEDELTA", "seconds"): lambda v: _as_float(_timedelta_parts(v)[1] // 1_000_000),
    ("TIMEDELTA", "microseconds"): lambda v: _as_float(
        _timedelta_parts(v)[1] % 1_000_000
    ),
}
_REFUSED = {
    "to_int": "text-to-number goes through Python's float and literal_eval ('01' raises, "
    "'-5' is NaN); compare the text, or read a typed column",
    "to_flt": "text-to-number goes through Python's float; compare the text, or read a "
    "typed column",
    "to_epoch": "it is a binary float",
    "total_seconds": "it is a binary float; use .days and .seconds",
}


@translate.register
def _(node: rast.GetAttributeExpression, rule: Compiler) -> Value:
    obj = rule.compile(node.object)
    name, kind = node.name, obj.kind
    error = obj.error if node.safe else any_error(obj.error, is_null(obj))
    if kind.name == "FLOAT" and name in (
        "ceiling",
        "floor",
        "to_flt",
        "to_int",
        "is_nan",
    ):
        return _float_attribute(obj, name, error)
    attribute = _ATTRIBUTES.get((kind.name, name))
    if attribute is None:
        reason = _REFUSED.get(name, "the compiler does not translate it")
        msg = f"the attribute {name!r} of a {kind} ({reason})"
        raise rule.fail(msg)
    value, result = attribute(obj.value)
    return Value(value, result, error)


def _float_attribute(obj: Value, name: str, error: pl.Expr | None) -> Value:
    v = obj.value
    if name == "is_nan":
        return Value(pl.when(v.is_not_null()).then(pl.lit(False)), BOOLEAN, error)
    if name in ("ceiling", "floor"):
        return Value(v.ceil() if name == "ceiling" else v.floor(), obj.kind, error)
    if name == "to_int":  # raises unless the number is whole
        error = any_error(error, (v != v.floor()).fill_null(False))
    return Value(v, obj.kind, error)


@translate.register
def _(node: rast.FunctionCallExpression, rule: Compiler) -> Value:
    function = node.function
    args = [rule.compile(a) for a in node.arguments]
    errors = any_error(*(a.error for a in args), *(is_null(a) for a in args))
    if isinstance(function, rast.SymbolExpression) and function.scope is not None:
        return _builtin_call(function.name, args, errors, rule)
    method = _method(function, rule)
    if method is None:
        msg = "calling a value that is not a supported method or built-in"
        raise rule.fail(msg)
    obj, name = method
    if obj.kind != STRING or name not in ("starts_with", "ends_with") or not args:
        msg = f"the method {name!r} of a {obj.kind}"
        raise rule.fail(msg)
    # a null object has no method: `&.` gives null, which is not callable
    error = any_error(obj.error, is_null(obj), errors)
    if name == "starts_with":
        return Value(obj.value.str.starts_with(args[0].value), BOOLEAN, error)
    return Value(obj.value.str.ends_with(args[0].value), BOOLEAN, error)


def _method(function: Any, rule: Compiler) -> tuple[Value, str] | None:
    """The object and name of a method call (``s.starts_with``), if it is one."""
    if isinstance(function, rast.GetAttributeExpression):
        return rule.compile(function.object), function.name
    bound = getattr(function, "value", None)
    if isinstance(function, rast.FunctionExpression) and isinstance(
        bound, functools.partial
    ):
        # rule-engine folds the method of a literal (`"K".starts_with`) to a partial
        name = bound.func.__name__.removeprefix("_value_")
        if len(bound.args) == 1 and isinstance(bound.args[0], str):
            return Value(pl.lit(bound.args[0], pl.String()), STRING), name
    return None


def _builtin_call(
    name: str, args: list[Value], errors: pl.Expr | None, rule: Compiler
) -> Value:
    if name == "abs" and len(args) == 1 and args[0].kind.name == "FLOAT":
        return Value(args[0].value.abs(), args[0].kind, errors)
    if name not in ("sum", "min", "max", "any", "all") or len(args) != 1:
        raise _builtin_refused(name, rule)
    item = args[0].kind.item
    if args[0].kind.name != "ARRAY" or item is None:
        msg = f"${name} of a {args[0].kind}"
        raise rule.fail(msg)
    if item == NULL:  # `[]` or `[null]`: read as numbers (or booleans for any/all)
        item = BOOLEAN if name in ("any", "all") else FLOAT0
    items = args[0].value.cast(pl.List(item.dtype()))
    if name in ("any", "all"):
        each = items.list.eval(truthy(Value(pl.element(), item)))
        found = each.list.any() if name == "any" else each.list.all()
        return Value(found, BOOLEAN, errors)
    # a null member cannot be added or ordered; max() and min() of nothing raise
    error = any_error(errors, has_null(items).fill_null(False))
    if name == "sum":
        return Value(items.list.sum(), item, error)
    error = any_error(error, (items.list.len() == 0).fill_null(False))
    return Value(items.list.max() if name == "max" else items.list.min(), item, error)
