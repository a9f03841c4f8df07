"""rule-engine expressions compiled to polars expressions, with rule-engine's semantics.

The text is parsed and type-checked by rule-engine itself against a context built from the
frame schema (:mod:`rules.types`); the AST is then translated node by node with
``functools.singledispatch`` and operator tables. Every node becomes a :class:`Value`: a
*value* expression and an *error* flag, true on the rows where rule-engine would raise
(an ordered comparison or arithmetic with a null, division by zero, an attribute or index
of a null, an index out of range, …). The flag propagates exactly where the exception
would: an operand's error is its parent's, but ``and``/``or`` look at their right side
only when rule-engine evaluates it, a ternary only at the branch it takes, ``??`` at its
right side only when the left is null. A data null stays a value (``null == null`` is
True). A rule's outcome is rule-engine's truthiness of the value (``Rule.matches``):
True, False, or null where the flag is set, "not evaluable".

Numbers are exact decimals as in rule-engine (``Decimal(38, s)``; integer columns are read
as decimals); products keep the sum of their operands' scales up to
:data:`MULTIPLY_SCALE` places, quotients :data:`DIVISION_SCALE` places, so a division
that terminates within those places matches rule-engine's 28-digit result. Anything the
compiler does not translate raises :class:`~rules.errors.UnsupportedRuleError` at load;
there is no per-row fallback.

Translated: literals (numbers, strings, booleans, ``null``, ``d"…"`` in UTC, ``t"…"``,
arrays and sets), columns, ``and or not``, ``?:``, ``??``, ``== != < <= > >=``,
``=~ =~~ !~ !~~`` with a literal pattern, ``+ - * / // %``, ``**`` by a literal 0-8,
unary minus, ``in``/``not in`` (substring, array member), ``[i]`` ``&[i]`` and slices
with literal bounds, the attributes in :data:`_ATTRIBUTES` plus ``ceiling floor to_int
to_flt is_nan`` of numbers, ``starts_with``/``ends_with`` of strings, and the built-ins
``$e $pi $abs $sum $min $max $any $all``. Refused: comprehensions, bitwise operators,
mappings, bytes, dynamic regexes or indexes, ``$now``/``$today`` (clock) and the other
built-ins, text-to-number and float-valued attributes (``to_int`` of a string,
``to_epoch``, ``total_seconds``), ordering arrays, and mixed-type ``==``/``in``.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl
from rule_engine import ast as rast

from rules.errors import RuleError, RuleTypeError, UnsupportedRuleError
from rules.types import (
    BOOLEAN,
    DATETIME,
    FLOAT0,
    NULL,
    STRING,
    TIMEDELTA,
    Kind,
    Parsed,
    RegexNotSupported,
    closest,
    kind_of,
    parse,
    rust_regex,
)

MULTIPLY_SCALE = 20
"""Most decimal places a product keeps (it keeps the sum of its operands' places)."""
DIVISION_SCALE = 16
"""Decimal places of a quotient (more if an operand has more)."""
_DATETIME_MIN = dt.datetime(1, 1, 1)  # naive: UTC, as the columns
_DATETIME_MAX = dt.datetime(9999, 12, 31, 23, 59, 59, 999999)
_CONSTANTS = {"e": Decimal(repr(math.e)), "pi": Decimal(repr(math.pi))}
_BUILTINS = [
    *("abs", "all", "any", "e", "filter", "map", "max", "min", "now", "parse_datetime"),
    *("parse_float", "parse_timedelta", "pi", "random", "range", "re_groups", "split"),
    *("sum", "today"),
]


@dataclass(frozen=True)
class Value:
    """A compiled sub-expression: value, kind, and the rows where rule-engine raises."""

    value: pl.Expr
    kind: Kind
    error: pl.Expr | None = None
    """Boolean, never null; None when the node never raises."""


def compile_expression(text: str, schema: Mapping[str, pl.DataType]) -> pl.Expr:
    """Compile a rule to its outcome: True, False, or null where it is not evaluable.

    Args:
        text: rule-engine text, e.g. ``so_luong * don_gia != thanh_tien``.
        schema: the columns of the frame the rule reads; rule-engine's context is built
            from it alone (see :mod:`rules.types`).

    Returns:
        A Boolean expression named ``rule``: rule-engine's ``Rule.matches`` on each row,
        or null on the rows where rule-engine raises.

    Raises:
        RuleSyntaxError: the text is not rule-engine grammar.
        RuleTypeError: an unknown column (with the closest name), or mixed types.
        UnsupportedRuleError: a construct the compiler does not translate.

    Example:
        >>> frame = pl.DataFrame({"a": [1, None]})
        >>> frame.select(compile_expression("a > 0", frame.schema))["rule"].to_list()
        [True, None]
    """
    root = _Compiler(parse(text, schema), schema).compile_root()
    return _outcome(root, truthy(root)).alias("rule")


def compile_value(text: str, schema: Mapping[str, pl.DataType]) -> pl.Expr:
    """Compile an expression to its value, null where it is not evaluable (a pack's
    ``adjust_to``); numbers come out as ``Decimal(38, s)``."""
    root = _Compiler(parse(text, schema), schema).compile_root()
    return _outcome(root, root.value).alias("value")


def _outcome(root: Value, result: pl.Expr) -> pl.Expr:
    if root.error is not None:
        result = pl.when(root.error).then(None).otherwise(result)
    if not result.meta.root_names():  # a constant: one value per row, not one in all
        result = result.gather(pl.repeat(0, pl.len(), dtype=pl.UInt32))
    return result


@dataclass
class _Compiler:
    """One rule being translated; knows the text offsets for error messages."""

    parsed: Parsed
    schema: Mapping[str, pl.DataType]
    _where: list[int] = field(default_factory=list)

    def compile_root(self) -> Value:
        return self.compile(self.parsed.root)

    def compile(self, node: Any) -> Value:
        position = self.parsed.position(node)
        if position is not None:
            self._where.append(position)
        try:
            return _translate(node, self)
        finally:
            if position is not None:
                self._where.pop()

    def fail(
        self,
        reason: str,
        cls: type[RuleError] = UnsupportedRuleError,
        suggestion: str | None = None,
    ) -> RuleError:
        """An error at the node being translated (or its nearest located ancestor)."""
        return cls(
            reason,
            expression=self.parsed.text,
            position=self._where[-1] if self._where else None,
            suggestion=suggestion,
        )


@functools.singledispatch
def _translate(node: Any, rule: _Compiler) -> Value:
    msg = f"{type(node).__name__} is not supported by the compiler"
    raise rule.fail(msg)


# --- helpers ---------------------------------------------------------------------------


def _any(*errors: pl.Expr | None) -> pl.Expr | None:
    present = [e for e in errors if e is not None]
    return functools.reduce(operator.or_, present) if present else None


def _null(v: Value) -> pl.Expr:
    return pl.lit(True) if v.kind == NULL else v.value.is_null()


def _guard(condition: pl.Expr, error: pl.Expr | None) -> pl.Expr:
    """``condition and error``, never null."""
    return pl.lit(False) if error is None else condition & error


def truthy(v: Value) -> pl.Expr:
    """Python's truthiness of the value, as ``bool()`` in rule-engine; null is falsy."""
    x = v.value
    name = v.kind.name
    if name == "BOOLEAN":
        out = x
    elif name == "FLOAT":
        out = x != pl.lit(Decimal(0), pl.Decimal(38, 0))
    elif name == "STRING":
        out = x.str.len_bytes() > 0
    elif name == "DATETIME":
        out = x.is_not_null()
    elif name == "TIMEDELTA":
        out = x != pl.lit(dt.timedelta(0), pl.Duration("us"))
    elif name in ("ARRAY", "SET"):
        out = x.list.len() > 0
    else:
        return pl.lit(False)
    return out.fill_null(False)


def _common(a: Kind, b: Kind) -> Kind | None:
    """The kind both sides are cast to (decimal scales and empty literals unified)."""
    if a == NULL:
        return b
    if b == NULL:
        return a
    if a.name != b.name:
        return None
    if a.name == "FLOAT":
        return Kind("FLOAT", scale=max(a.scale, b.scale))
    if a.item is not None and b.item is not None:
        item = _common(a.item, b.item)
        return None if item is None else Kind(a.name, item=item)
    return a


def _as(v: Value, kind: Kind) -> pl.Expr:
    return v.value if v.kind == kind else v.value.cast(kind.dtype())


def _unify(
    rule: _Compiler,
    a: Value,
    b: Value,
    what: str,
    cls: type[RuleError] = RuleTypeError,
) -> tuple[pl.Expr, pl.Expr, Kind]:
    kind = _common(a.kind, b.kind)
    if kind is None:
        msg = f"{what} mixes {a.kind} and {b.kind}"
        raise rule.fail(msg, cls)
    return _as(a, kind), _as(b, kind), kind


def _literal_index(rule: _Compiler, node: Any, what: str) -> int | None:
    """An integer literal (None for the ``null`` literal); others are refused."""
    if isinstance(node, rast.NullExpression):
        return None
    if not isinstance(node, rast.FloatExpression):
        msg = f"{what} that is not a number literal"
        raise rule.fail(msg)
    value = node.value
    if not value.is_finite() or value != value.to_integral_value():
        msg = f"{what} {value} is not an integer"
        raise rule.fail(msg, RuleTypeError)
    if abs(value) >= 2**31:
        msg = f"{what} as large as {value}"
        raise rule.fail(msg)
    return int(value)


def _decimal(value: Decimal, rule: _Compiler) -> Value:
    if not value.is_finite():
        msg = f"the number {value} (polars decimals are finite)"
        raise rule.fail(msg)
    exponent = int(value.as_tuple().exponent)
    scale = max(0, -exponent)
    if max(value.adjusted() + 1, 1) + scale > 38:
        msg = f"the number {value} needs more than 38 digits"
        raise rule.fail(msg)
    return Value(pl.lit(value, pl.Decimal(38, scale)), Kind("FLOAT", scale=scale))


# --- leaves ----------------------------------------------------------------------------


@_translate.register
def _(_node: rast.NullExpression, _rule: _Compiler) -> Value:
    return Value(pl.lit(None), NULL)


@_translate.register
def _(node: rast.BooleanExpression, _rule: _Compiler) -> Value:
    return Value(pl.lit(bool(node.value), pl.Boolean()), BOOLEAN)


@_translate.register
def _(node: rast.FloatExpression, rule: _Compiler) -> Value:
    return _decimal(node.value, rule)


@_translate.register
def _(node: rast.StringExpression, _rule: _Compiler) -> Value:
    return Value(pl.lit(node.value, pl.String()), STRING)


@_translate.register
def _(node: rast.DatetimeExpression, rule: _Compiler) -> Value:
    value: dt.datetime = node.value
    if value.utcoffset() != dt.timedelta(0):
        msg = f"a date-time literal with a UTC offset ({value.isoformat()}); write it in UTC"
        raise rule.fail(msg)
    return Value(pl.lit(value.replace(tzinfo=None), pl.Datetime("us")), DATETIME)


@_translate.register
def _(node: rast.TimedeltaExpression, _rule: _Compiler) -> Value:
    return Value(pl.lit(node.value, pl.Duration("us")), TIMEDELTA)


@_translate.register(rast.ArrayExpression)
@_translate.register(rast.SetExpression)
def _(node: Any, rule: _Compiler) -> Value:
    members = [rule.compile(m) for m in node.value]
    kind = NULL
    for m in members:
        common = _common(kind, m.kind)
        if common is None or common.name in ("ARRAY", "SET"):
            msg = f"an array literal mixing {kind} and {m.kind}, or of arrays"
            raise rule.fail(msg)
        kind = common
    name = "SET" if isinstance(node, rast.SetExpression) else "ARRAY"
    if not members:
        return Value(pl.lit([], pl.List(pl.Null())), Kind(name, item=NULL))
    value = pl.concat_list([_as(m, kind) for m in members])
    return Value(value, Kind(name, item=kind), _any(*(m.error for m in members)))


@_translate.register
def _(node: rast.SymbolExpression, rule: _Compiler) -> Value:
    if node.scope is not None:
        return _builtin_symbol(node, rule)
    dtype = rule.schema[node.name]
    kind = kind_of(dtype)
    if kind is None:
        msg = f"column {node.name!r} of type {dtype}; the compiler reads decimals, integers, "
        msg += "strings, booleans, dates, naive datetimes, durations and lists of those"
        raise rule.fail(msg)
    value = pl.col(node.name)
    if dtype != kind.dtype():
        value = value.cast(kind.dtype())
    if kind.name != "ARRAY":
        return Value(value, kind)
    # rule-engine refuses an ARRAY value holding nulls among non-null members
    nulls = value.list.eval(pl.element().is_null()).list.sum()
    mixed = ((nulls > 0) & (nulls < value.list.len())).fill_null(False)
    return Value(value, kind, mixed)


def _builtin_symbol(node: Any, rule: _Compiler) -> Value:
    if node.name in _CONSTANTS:
        return _decimal(_CONSTANTS[node.name], rule)
    raise _builtin_refused(node.name, rule)


def _builtin_refused(name: str, rule: _Compiler) -> RuleError:
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


# --- logic -----------------------------------------------------------------------------


@_translate.register
def _(node: rast.LogicExpression, rule: _Compiler) -> Value:
    left, right = rule.compile(node.left), rule.compile(node.right)
    lt, rt = truthy(left), truthy(right)
    if node.type == "and":
        # a falsy left side decides without evaluating the right side
        return Value(lt & rt, BOOLEAN, _any(left.error, _guard(lt, right.error)))
    return Value(lt | rt, BOOLEAN, _any(left.error, _guard(~lt, right.error)))


@_translate.register
def _(node: rast.UnaryExpression, rule: _Compiler) -> Value:
    right = rule.compile(node.right)
    if node.type == "not":
        return Value(~truthy(right), BOOLEAN, right.error)
    if right.kind.name not in ("FLOAT", "TIMEDELTA"):
        msg = f"unary minus on {right.kind}"
        raise rule.fail(msg, RuleTypeError)
    return Value(-right.value, right.kind, _any(right.error, _null(right)))


@_translate.register
def _(node: rast.TernaryExpression, rule: _Compiler) -> Value:
    condition = rule.compile(node.condition)
    yes, no = rule.compile(node.case_true), rule.compile(node.case_false)
    a, b, kind = _unify(rule, yes, no, "a ternary", UnsupportedRuleError)
    taken = truthy(condition)
    error = None
    if yes.error is not None or no.error is not None:
        error = (
            pl.when(taken)
            .then(yes.error if yes.error is not None else pl.lit(False))
            .otherwise(no.error if no.error is not None else pl.lit(False))
        )
    value = pl.when(taken).then(a).otherwise(b)
    return Value(value, kind, _any(condition.error, error))


@_translate.register
def _(node: rast.CoalesceExpression, rule: _Compiler) -> Value:
    left, right = rule.compile(node.left), rule.compile(node.right)
    a, b, kind = _unify(rule, left, right, "'??'")
    error = _any(left.error, _guard(_null(left), right.error))
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


@_translate.register
def _(node: rast.ComparisonExpression, rule: _Compiler) -> Value:
    left, right = rule.compile(node.left), rule.compile(node.right)
    error = _any(left.error, right.error)
    if node.type in _ORDERED:
        return _ordered(node.type, left, right, error, rule)
    kind = _common(left.kind, right.kind)
    if kind is None:
        # rule-engine finds values of different Python types unequal on every row;
        # refuse such a rule (a date against a string) rather than compile a constant
        msg = f"'{_SYMBOLS[node.type]}' compares {left.kind} with {right.kind}, never equal"
        raise rule.fail(msg, RuleTypeError)
    if NULL in (left.kind, right.kind):
        equal = _null(left) & _null(right)
    else:
        a, b = _column_first(_as(left, kind), _as(right, kind))
        equal = a.eq_missing(b)
    return Value(equal if node.type == "eq" else ~equal, BOOLEAN, error)


def _ordered(
    op: str, left: Value, right: Value, error: pl.Expr | None, rule: _Compiler
) -> Value:
    a, b, kind = _unify(rule, left, right, f"'{_SYMBOLS[op]}'")
    if kind.name in ("ARRAY", "SET", "NULL"):
        msg = f"ordering {kind} values"
        raise rule.fail(msg)
    left_null, right_null = _null(left), _null(right)
    if _is_constant(a):
        a, b, op = b, a, _FLIPPED[op]
    # two nulls compare as equal; one null is a type mismatch, which raises
    value = (
        pl.when(left_null & right_null)
        .then(pl.lit(op in ("ge", "le")))
        .otherwise(_ORDERED[op](a, b))
    )
    return Value(value, BOOLEAN, _any(error, left_null ^ right_null))


@_translate.register
def _(node: rast.FuzzyComparisonExpression, rule: _Compiler) -> Value:
    left = rule.compile(node.left)
    negate = node.type.startswith("ne")
    if isinstance(node.right, rast.NullExpression):
        # rule-engine: `not (left is not None)` for =~, the opposite for !~
        matched = _null(left)
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
        pl.when(_null(left)).then(pl.lit(negate)).otherwise(~found if negate else found)
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


@_translate.register
def _(node: rast.ArithmeticExpression, rule: _Compiler) -> Value:
    left, right = rule.compile(node.left), rule.compile(node.right)
    if left.kind.name != "FLOAT" or right.kind.name != "FLOAT":
        msg = f"arithmetic on {left.kind} and {right.kind}"
        raise rule.fail(msg, RuleTypeError)
    error = _any(left.error, right.error, _null(left), _null(right))
    op = node.type
    if op == "mul":
        product = _multiply(left, right)
        return Value(product.value, product.kind, error)
    if op == "pow":
        return _power(node, left, error, rule)
    zero = (right.value == 0).fill_null(False)
    divisor = pl.when(zero).then(pl.lit(1, pl.Decimal(38, 0))).otherwise(right.value)
    error = _any(error, zero)  # rule-engine: division by zero is an ArithmeticError
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


def _power(node: Any, base: Value, error: pl.Expr | None, rule: _Compiler) -> Value:
    exponent = _literal_index(rule, node.right, "an exponent")
    if exponent is None or not 0 <= exponent <= 8:
        msg = "an exponent other than a literal integer from 0 to 8"
        raise rule.fail(msg)
    if exponent == 0:
        # Decimal(0) ** 0 is an invalid operation
        return Value(
            pl.lit(1, pl.Decimal(38, 0)),
            FLOAT0,
            _any(error, (base.value == 0).fill_null(False)),
        )
    result = base
    for _ in range(exponent - 1):
        result = _multiply(result, base)
    return Value(result.value, result.kind, error)


@_translate.register(rast.AddExpression)
@_translate.register(rast.SubtractExpression)
def _(node: Any, rule: _Compiler) -> Value:
    left, right = rule.compile(node.left), rule.compile(node.right)
    add = isinstance(node, rast.AddExpression)
    error = _any(left.error, right.error, _null(left), _null(right))
    kinds = (left.kind.name, right.kind.name)
    if kinds == ("FLOAT", "FLOAT"):
        a, b, kind = _unify(rule, left, right, "'+'")
        return Value(a + b if add else a - b, kind, error)
    if kinds == ("STRING", "STRING") and add:
        return Value(left.value + right.value, STRING, error)
    if kinds == ("DATETIME", "DATETIME") and not add:
        return Value(left.value - right.value, TIMEDELTA, error)
    if kinds == ("TIMEDELTA", "TIMEDELTA"):
        value = left.value + right.value if add else left.value - right.value
        return Value(value, TIMEDELTA, error)
    if "DATETIME" in kinds and "TIMEDELTA" in kinds and (add or kinds[0] == "DATETIME"):
        value = left.value + right.value if add else left.value - right.value
        # Python's datetime stops at years 1 and 9999 (OverflowError)
        outside = ~value.is_between(pl.lit(_DATETIME_MIN), pl.lit(_DATETIME_MAX))
        return Value(value, DATETIME, _any(error, outside.fill_null(False)))
    msg = f"{'+' if add else '-'} on {left.kind} and {right.kind}"
    raise rule.fail(msg, RuleTypeError)


# --- containers ------------------------------------------------------------------------


def _has_null(items: pl.Expr) -> pl.Expr:
    return items.list.eval(pl.element().is_null()).list.any()


@_translate.register
def _(node: rast.ContainsExpression, rule: _Compiler) -> Value:
    member = rule.compile(node.member)
    literal = _literal_members(node.container)
    if literal is not None and member.kind != NULL:
        return _in_literal(literal, member, rule)
    box = rule.compile(node.container)
    error = _any(box.error, member.error, _null(box))  # `x in None` raises
    if box.kind == STRING:
        value = box.value.str.contains(member.value, literal=True)
        return Value(value, BOOLEAN, _any(error, _null(member)))
    if box.kind.name not in ("ARRAY", "SET"):
        msg = f"'in' a {box.kind}"
        raise rule.fail(msg, RuleTypeError)
    item = box.kind.item
    assert item is not None
    if member.kind == NULL:
        return Value(_has_null(box.value), BOOLEAN, error)
    if item == NULL:  # an empty literal
        return Value(pl.lit(False), BOOLEAN, error)
    kind = _common(member.kind, item)
    if kind is None:
        msg = f"'in' looks for a {member.kind} among {item} values; use one type"
        raise rule.fail(msg, RuleTypeError)
    items = box.value.cast(pl.List(kind.dtype())) if item != kind else box.value
    return Value(
        items.list.contains(_as(member, kind), nulls_equal=True), BOOLEAN, error
    )


def _in_literal(values: list[Any], member: Value, rule: _Compiler) -> Value:
    """``member in [literals]``: one ``is_in`` against a constant list."""
    kind = member.kind
    for v in values:
        if v is not None:
            found = (
                _decimal(v, rule).kind if isinstance(v, Decimal) else _KINDS[type(v)]
            )
            common = _common(kind, found)
            if common is None:
                msg = (
                    f"'in' looks for a {member.kind} among {found} values; use one type"
                )
                raise rule.fail(msg, RuleTypeError)
            kind = common
    items = pl.Series(values, dtype=kind.dtype()).implode()
    return Value(
        _as(member, kind).is_in(items, nulls_equal=True), BOOLEAN, member.error
    )


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


@_translate.register
def _(node: rast.GetItemExpression, rule: _Compiler) -> Value:
    box = rule.compile(node.container)
    index = _literal_index(rule, node.item, "an index")
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
    return Value(value, kind, _any(box.error, _null(box), outside.fill_null(False)))


@_translate.register
def _(node: rast.GetSliceExpression, rule: _Compiler) -> Value:
    box = rule.compile(node.container)
    if box.kind.name not in ("STRING", "ARRAY"):
        msg = f"slicing a {box.kind}"
        raise rule.fail(msg)
    size = _length(box).cast(pl.Int64)
    start = _bound(_literal_index(rule, node.start, "a slice start"), size, 0)
    stop = _bound(_literal_index(rule, node.stop, "a slice stop"), size, None)
    length = pl.max_horizontal(stop - start, pl.lit(0, pl.Int64))
    if box.kind == STRING:
        value = box.value.str.slice(start, length)
    else:
        value = box.value.list.slice(start, length)
    error = box.error if node.safe else _any(box.error, _null(box))
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


@_translate.register
def _(node: rast.GetAttributeExpression, rule: _Compiler) -> Value:
    obj = rule.compile(node.object)
    name, kind = node.name, obj.kind
    error = obj.error if node.safe else _any(obj.error, _null(obj))
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
        error = _any(error, (v != v.floor()).fill_null(False))
    return Value(v, obj.kind, error)


@_translate.register
def _(node: rast.FunctionCallExpression, rule: _Compiler) -> Value:
    function = node.function
    args = [rule.compile(a) for a in node.arguments]
    errors = _any(*(a.error for a in args), *(_null(a) for a in args))
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
    error = _any(obj.error, _null(obj), errors)
    if name == "starts_with":
        return Value(obj.value.str.starts_with(args[0].value), BOOLEAN, error)
    return Value(obj.value.str.ends_with(args[0].value), BOOLEAN, error)


def _method(function: Any, rule: _Compiler) -> tuple[Value, str] | None:
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
    name: str, args: list[Value], errors: pl.Expr | None, rule: _Compiler
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
    error = _any(errors, _has_null(items).fill_null(False))
    if name == "sum":
        return Value(items.list.sum(), item, error)
    error = _any(error, (items.list.len() == 0).fill_null(False))
    return Value(items.list.max() if name == "max" else items.list.min(), item, error)
