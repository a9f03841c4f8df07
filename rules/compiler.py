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
:data:`~rules.operators.MULTIPLY_SCALE` places, quotients
:data:`~rules.operators.DIVISION_SCALE` places, so a division
that terminates within those places matches rule-engine's 28-digit result. Anything the
compiler does not translate raises :class:`~rules.errors.UnsupportedRuleError` at load;
there is no per-row fallback.

Translated: literals (numbers, strings, booleans, ``null``, ``d"…"`` in UTC, ``t"…"``,
arrays and sets), columns, ``and or not``, ``?:``, ``??``, ``== != < <= > >=``,
``=~ =~~ !~ !~~`` with a literal pattern, ``+ - * / // %``, ``**`` by a literal 0-8,
unary minus, ``in``/``not in`` (substring, array member), ``[i]`` ``&[i]`` and slices
with literal bounds, the attributes of :mod:`rules.functions` plus ``ceiling floor to_int
to_flt is_nan`` of numbers, ``starts_with``/``ends_with`` of strings, and the built-ins
``$e $pi $abs $sum $min $max $any $all``. Refused: comprehensions, bitwise operators,
mappings, bytes, dynamic regexes or indexes, ``$now``/``$today`` (clock) and the other
built-ins, text-to-number and float-valued attributes (``to_int`` of a string,
``to_epoch``, ``total_seconds``), ordering arrays, and mixed-type ``==``/``in``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import polars as pl
from rule_engine import ast as rast

import rules.operators  # noqa: F401 - registers the operators on ``translate``
from rules.errors import RuleTypeError
from rules.functions import builtin_symbol  # registers attributes, methods, built-ins
from rules.translate import (
    Compiler,
    Value,
    any_error,
    cast_to,
    common_kind,
    decimal_literal,
    outcome,
    translate,
)
from rules.types import (
    BOOLEAN,
    DATETIME,
    NULL,
    STRING,
    TIMEDELTA,
    Kind,
    Parsed,
    kind_of,
    parse,
)


def compile_expression(
    text: str, schema: Mapping[str, pl.DataType | type[pl.DataType]]
) -> pl.Expr:
    """Compile a rule to its outcome: True, False, or null where it is not evaluable.

    Args:
        text: rule-engine text, e.g. ``so_luong * don_gia != thanh_tien``.
        schema: the columns of the frame the rule reads; rule-engine's context is built
            from it alone (see :mod:`rules.types`). Dtypes as instances
            (``pl.Int64()``) or classes (``pl.Int64``, ``pl.List(pl.String)``).

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
    return compile_reading(text, schema)[0]


def compile_reading(
    text: str, schema: Mapping[str, pl.DataType | type[pl.DataType]]
) -> tuple[pl.Expr, tuple[str, ...]]:
    """:func:`compile_expression`, and the columns the rule reads (as
    :func:`expression_columns` lists them) from the same parse: what a pack's rule
    keeps, so a reason can show the values it compared."""
    schema = instances(schema)
    parsed = parse(text, schema)
    root = Compiler(parsed, schema).compile_root()
    return _constant(outcome(root)).alias("rule"), _read(parsed)


def compile_value(
    text: str, schema: Mapping[str, pl.DataType | type[pl.DataType]]
) -> pl.Expr:
    """Compile an expression to its value, null where it is not evaluable (a pack's
    ``adjust_to``); numbers come out as ``Decimal(38, s)``."""
    schema = instances(schema)
    root = Compiler(parse(text, schema), schema).compile_root()
    return _outcome(root, root.value).alias("value")


def expression_columns(
    text: str, schema: Mapping[str, pl.DataType | type[pl.DataType]]
) -> tuple[str, ...]:
    """The columns ``text`` reads, in the order they appear, each once: the symbols of
    rule-engine's AST (built-ins such as ``$abs`` excluded), after type-checking against
    ``schema`` as :func:`compile_expression` does.

    Example:
        >>> expression_columns("a > b and c ?? a", {"a": pl.Int64, "b": pl.Int64, "c": pl.Int64})
        ('a', 'b', 'c')
    """
    return _read(parse(text, instances(schema)))


def _read(parsed: Parsed) -> tuple[str, ...]:
    found: list[tuple[int, str]] = []
    _symbols(parsed, parsed.root, found)
    ordered = sorted(found, key=lambda hit: hit[0])
    return tuple(dict.fromkeys(name for _, name in ordered))


def _symbols(parsed: Parsed, node: Any, found: list[tuple[int, str]]) -> None:
    """Every column symbol under ``node``, with its text offset (-1 when unknown)."""
    if isinstance(node, rast.SymbolExpression):
        if node.scope is None:
            position = parsed.position(node)
            found.append((-1 if position is None else position, node.name))
        return
    names = set(getattr(node, "__dict__", {}))
    for cls in type(node).__mro__:  # AST nodes keep their operands in slots too
        slots = cls.__dict__.get("__slots__", ())
        names.update([slots] if isinstance(slots, str) else slots)
    for name in sorted(names):
        value = getattr(node, name, None)
        members = value if isinstance(value, (tuple, list)) else (value,)
        for member in members:
            if isinstance(member, rast.ASTNodeBase):
                _symbols(parsed, member, found)


def instances(
    schema: Mapping[str, pl.DataType | type[pl.DataType]],
) -> dict[str, pl.DataType]:
    """``schema`` with every dtype an instance, as polars users write a schema: a class
    (``pl.Int64``, ``pl.Datetime``) is its default instance, a list's inner type too
    (``pl.List(pl.String)``).

    Raises:
        RuleTypeError: a dtype that needs parameters given as a bare class
            (``pl.List``, ``pl.Array``, ``pl.Struct``, ``pl.Enum``), or not a dtype.
    """
    return {name: _instance(name, dtype) for name, dtype in schema.items()}


def _instance(name: str, dtype: object) -> pl.DataType:
    if isinstance(dtype, pl.List):
        return pl.List(_instance(name, dtype.inner))
    if isinstance(dtype, pl.Array):
        return pl.Array(_instance(name, dtype.inner), dtype.shape)
    if isinstance(dtype, pl.DataType):
        return dtype
    if isinstance(dtype, type) and issubclass(dtype, pl.DataType):
        try:
            return dtype()
        except TypeError:
            msg = f"column {name!r}: {dtype.__name__} needs its parameters, "
            msg += f"e.g. pl.{dtype.__name__}(pl.String)"
            raise RuleTypeError(msg) from None
    msg = f"column {name!r}: {dtype!r} is not a polars dtype"
    raise RuleTypeError(msg)


def _outcome(root: Value, result: pl.Expr) -> pl.Expr:
    if root.error is not None:
        result = pl.when(root.error).then(None).otherwise(result)
    return _constant(result)


def _constant(result: pl.Expr) -> pl.Expr:
    if not result.meta.root_names():  # a constant: one value per row, not one in all
        result = result.gather(pl.repeat(0, pl.len(), dtype=pl.UInt32))
    return result


# --- leaves: literals, columns, built-in constants ---------------------------------------

_NEVER = pl.lit(False)
"""A literal is never null."""


@translate.register
def _(_node: rast.NullExpression, _rule: Compiler) -> Value:
    return Value(pl.lit(None), NULL)


@translate.register
def _(node: rast.BooleanExpression, _rule: Compiler) -> Value:
    return Value(pl.lit(bool(node.value), pl.Boolean()), BOOLEAN, null=_NEVER)


@translate.register
def _(node: rast.FloatExpression, rule: Compiler) -> Value:
    return decimal_literal(node.value, rule)


@translate.register
def _(node: rast.StringExpression, _rule: Compiler) -> Value:
    return Value(pl.lit(node.value, pl.String()), STRING, null=_NEVER)


@translate.register
def _(node: rast.DatetimeExpression, rule: Compiler) -> Value:
    value: dt.datetime = node.value
    if value.utcoffset() != dt.timedelta(0):
        msg = f"a date-time literal with a UTC offset ({value.isoformat()}); write it in UTC"
        raise rule.fail(msg)
    literal = pl.lit(value.replace(tzinfo=None), pl.Datetime("us"))
    return Value(literal, DATETIME, null=_NEVER)


@translate.register
def _(node: rast.TimedeltaExpression, _rule: Compiler) -> Value:
    return Value(pl.lit(node.value, pl.Duration("us")), TIMEDELTA, null=_NEVER)


@translate.register(rast.ArrayExpression)
@translate.register(rast.SetExpression)
def _(node: Any, rule: Compiler) -> Value:
    members = [rule.compile(m) for m in node.value]
    kind = NULL
    for m in members:
        common = common_kind(kind, m.kind)
        if common is None or common.name in ("ARRAY", "SET"):
            msg = f"an array literal mixing {kind} and {m.kind}, or of arrays"
            raise rule.fail(msg)
        kind = common
    name = "SET" if isinstance(node, rast.SetExpression) else "ARRAY"
    if not members:
        return Value(pl.lit([], pl.List(pl.Null())), Kind(name, item=NULL))
    value = pl.concat_list([cast_to(m, kind) for m in members])
    return Value(value, Kind(name, item=kind), any_error(*(m.error for m in members)))


@translate.register
def _(node: rast.SymbolExpression, rule: Compiler) -> Value:
    if node.scope is not None:
        return builtin_symbol(node, rule)
    dtype = rule.schema[node.name]
    kind = kind_of(dtype)
    if kind is None:
        msg = f"column {node.name!r} of type {dtype}; the compiler reads decimals, integers, "
        msg += "strings, booleans, dates, naive datetimes, durations and lists of those"
        raise rule.fail(msg)
    value = pl.col(node.name)
    if dtype != kind.dtype():
        value = value.cast(kind.dtype())
    if dtype.is_integer() and dtype != pl.UInt64():
        return Value(value, kind, stored=pl.col(node.name))
    if kind.name != "ARRAY":
        return Value(value, kind)
    # rule-engine refuses an ARRAY value holding nulls among non-null members
    nulls = value.list.eval(pl.element().is_null()).list.sum()
    mixed = ((nulls > 0) & (nulls < value.list.len())).fill_null(False)
    return Value(value, kind, mixed)
