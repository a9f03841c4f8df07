"""The translation core: a compiled node's :class:`Value`, the :class:`Compiler` of one
rule, the :func:`translate` dispatcher and the helpers every node translation uses.

Every node becomes a :class:`Value`: a *value* expression and an *error* flag, true on
the rows where rule-engine would raise. The node translations register on
:func:`translate` by AST node type (``functools.singledispatch``): the literals and
columns in :mod:`rules.compiler`, the operators in :mod:`rules.operators`, attributes,
methods and built-ins in :mod:`rules.functions`; :mod:`rules.compiler` imports them all.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl
from rule_engine import ast as rast

from rules.errors import RuleError, RuleTypeError, UnsupportedRuleError
from rules.types import NULL, Kind, Parsed


@dataclass(frozen=True)
class Value:
    """A compiled sub-expression: value, kind, and the rows where rule-engine raises."""

    value: pl.Expr
    kind: Kind
    error: pl.Expr | None = None
    """Boolean, never null; None when the node never raises."""
    stored: pl.Expr | None = None
    """An integer column as stored, before its cast to a decimal: nulls and comparisons
    of two integer columns read it without the cast; None otherwise."""
    null: pl.Expr | None = None
    """Where the value is null, when that is cheaper than testing the value (a literal:
    never; a difference of date-times: where an operand is); None: test the value."""
    outcome: pl.Expr | None = None
    """The node's :func:`outcome` where ``and``/``or``/``not`` compose it from their
    operands' (each subtree evaluated once); None: derived from value and error."""


@dataclass
class Compiler:
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
            return translate(node, self)
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
def translate(node: Any, rule: Compiler) -> Value:
    """Translate one AST node; node types without a translation are refused."""
    msg = f"{type(node).__name__} is not supported by the compiler"
    raise rule.fail(msg)


def any_error(*errors: pl.Expr | None) -> pl.Expr | None:
    """The rows where any of ``errors`` is set; None when none can be."""
    present = [e for e in errors if e is not None]
    return functools.reduce(operator.or_, present) if present else None


def is_null(v: Value) -> pl.Expr:
    """Whether the value is null (always, for the ``null`` literal)."""
    if v.kind == NULL:
        return pl.lit(True)
    if v.null is not None:
        return v.null
    return (v.stored if v.stored is not None else v.value).is_null()


def guard(condition: pl.Expr, error: pl.Expr | None) -> pl.Expr:
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


def outcome(v: Value) -> pl.Expr:
    """Rule-engine's truthiness of the value, null on the rows where it raises."""
    if v.outcome is not None:
        return v.outcome
    if v.error is None:
        return truthy(v)
    return pl.when(v.error).then(pl.lit(None, pl.Boolean())).otherwise(truthy(v))


def common_kind(a: Kind, b: Kind) -> Kind | None:
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
        item = common_kind(a.item, b.item)
        return None if item is None else Kind(a.name, item=item)
    return a


def cast_to(v: Value, kind: Kind) -> pl.Expr:
    """The value cast to ``kind`` (as is when it is of that kind; an integer column
    cast once, from its stored type)."""
    if v.kind == kind:
        return v.value
    return (v.stored if v.stored is not None else v.value).cast(kind.dtype())


def unify(
    rule: Compiler,
    a: Value,
    b: Value,
    what: str,
    cls: type[RuleError] = RuleTypeError,
) -> tuple[pl.Expr, pl.Expr, Kind]:
    """Both sides cast to their common kind; ``cls`` is raised when they have none."""
    kind = common_kind(a.kind, b.kind)
    if kind is None:
        msg = f"{what} mixes {a.kind} and {b.kind}"
        raise rule.fail(msg, cls)
    return cast_to(a, kind), cast_to(b, kind), kind


def literal_index(rule: Compiler, node: Any, what: str) -> int | None:
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


def decimal_literal(value: Decimal, rule: Compiler) -> Value:
    """A number literal as ``Decimal(38, s)``, ``s`` its own decimal places."""
    if not value.is_finite():
        msg = f"the number {value} (polars decimals are finite)"
        raise rule.fail(msg)
    exponent = int(value.as_tuple().exponent)
    scale = max(0, -exponent)
    if max(value.adjusted() + 1, 1) + scale > 38:
        msg = f"the number {value} needs more than 38 digits"
        raise rule.fail(msg)
    literal = pl.lit(value, pl.Decimal(38, scale))
    return Value(literal, Kind("FLOAT", scale=scale), null=pl.lit(False))


def has_null(items: pl.Expr) -> pl.Expr:
    """Whether a list holds a null."""
    return items.list.eval(pl.element().is_null()).list.any()
