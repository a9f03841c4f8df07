"""Rule types: the rule-engine context built from a frame schema, and the checking parse.

A frame schema gives each column a rule-engine type: integer and decimal columns are
``FLOAT`` (rule-engine numbers are :class:`decimal.Decimal`), String, Categorical and Enum
are ``STRING``, Boolean is ``BOOLEAN``, Date and Datetime are ``DATETIME`` (naive values read
in UTC, the context's ``default_timezone``), Duration is ``TIMEDELTA`` and ``List(T)`` is
``ARRAY(T)``. Columns are not declared ``NULLABLE``: a data null is a value, and the
operations rule-engine refuses on it make the row "not evaluable".

:func:`parse` runs rule-engine's own parser and type check, and keeps, for each AST node,
the offset of its token in the text, so that every error (rule-engine's or the
compiler's) can point at its place in the expression.
"""

from __future__ import annotations

import decimal
import difflib
import functools
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl
import rule_engine
from rule_engine import errors as re_errors
from rule_engine.parser import Parser, _DeferredAstNode
from rule_engine.types import DataType

from rules.errors import RuleError, RuleSyntaxError, RuleTypeError

DECIMAL_CONTEXT = decimal.Context(prec=28)
"""rule-engine's arithmetic: Python's default 28-digit decimal context, pinned."""

_INTEGERS = (
    pl.Int8,
    pl.Int16,
    pl.Int32,
    pl.Int64,
    pl.UInt8,
    pl.UInt16,
    pl.UInt32,
    pl.UInt64,
)


@dataclass(frozen=True)
class Kind:
    """The type of a compiled value: a rule-engine type with its polars representation.

    ``FLOAT`` values are ``Decimal(38, scale)``; ``ARRAY`` and ``SET`` have an ``item``
    kind (``NULL`` for an empty literal); ``NULL`` is the type of the ``null`` literal.
    """

    name: str
    scale: int = 0
    item: Kind | None = None

    def dtype(self) -> pl.DataType:
        """The polars dtype that holds values of this kind."""
        if self.name in ("ARRAY", "SET"):
            assert self.item is not None
            return pl.List(self.item.dtype())
        return {
            "FLOAT": pl.Decimal(38, self.scale),
            "STRING": pl.String(),
            "BOOLEAN": pl.Boolean(),
            "DATETIME": pl.Datetime("us"),
            "TIMEDELTA": pl.Duration("us"),
            "NULL": pl.Null(),
        }[self.name]

    def __str__(self) -> str:
        return f"{self.name}({self.item})" if self.item is not None else self.name


FLOAT0 = Kind("FLOAT")
STRING = Kind("STRING")
BOOLEAN = Kind("BOOLEAN")
DATETIME = Kind("DATETIME")
TIMEDELTA = Kind("TIMEDELTA")
NULL = Kind("NULL")


def kind_of(dtype: pl.DataType) -> Kind | None:
    """The kind a column of ``dtype`` compiles to (None: the compiler cannot read it).

    Float columns are refused: rule-engine reads them through ``repr``, and money is
    never a float. Time-zone-aware datetimes are refused: attributes such as ``hour``
    would read the wall clock of the zone, the compiler works in UTC.
    """
    if isinstance(dtype, pl.Decimal):
        return Kind("FLOAT", scale=dtype.scale)
    if isinstance(dtype, _INTEGERS):
        return FLOAT0
    if isinstance(dtype, (pl.String, pl.Categorical, pl.Enum)):
        return STRING
    if isinstance(dtype, pl.Boolean):
        return BOOLEAN
    if isinstance(dtype, pl.Date) or (
        isinstance(dtype, pl.Datetime) and dtype.time_zone is None
    ):
        return DATETIME
    if isinstance(dtype, pl.Duration):
        return TIMEDELTA
    if isinstance(dtype, pl.List):
        assert isinstance(dtype.inner, pl.DataType)
        item = kind_of(dtype.inner)
        if item is not None and item.name in ("FLOAT", "STRING", "BOOLEAN"):
            return Kind("ARRAY", item=item)
    return None


def data_type(dtype: pl.DataType) -> Any:
    """rule-engine's type for a column of ``dtype`` (UNDEFINED when it has none)."""
    if isinstance(dtype, (pl.Decimal, pl.Float32, pl.Float64, *_INTEGERS)):
        return DataType.FLOAT
    if isinstance(dtype, (pl.String, pl.Categorical, pl.Enum)):
        return DataType.STRING
    if isinstance(dtype, pl.Boolean):
        return DataType.BOOLEAN
    if isinstance(dtype, (pl.Date, pl.Datetime)):
        return DataType.DATETIME
    if isinstance(dtype, pl.Duration):
        return DataType.TIMEDELTA
    if isinstance(dtype, pl.Binary):
        return DataType.BYTES
    if isinstance(dtype, (pl.List, pl.Array)):
        assert isinstance(dtype.inner, pl.DataType)
        return DataType.ARRAY(data_type(dtype.inner))
    return DataType.UNDEFINED


def rule_context(schema: Mapping[str, pl.DataType]) -> Any:
    """The rule-engine :class:`~rule_engine.Context` a rule over ``schema`` runs in."""
    return rule_engine.Context(
        type_resolver=rule_engine.type_resolver_from_dict(
            {name: data_type(dtype) for name, dtype in schema.items()}
        ),
        default_timezone="utc",
        decimal_context=DECIMAL_CONTEXT,
    )


@dataclass(frozen=True)
class Parsed:
    """A parsed rule: the root expression and the text offset of each AST node."""

    text: str
    root: Any
    positions: Mapping[int, int]
    """``id(node) -> offset``; the nodes are kept alive by ``_keep``."""
    _keep: tuple[Any, ...]

    def position(self, node: Any) -> int | None:
        """The offset of ``node``'s token in the text, if known."""
        return self.positions.get(id(node))


_OPERATORS = {name: symbol for symbol, name in Parser.op_names.items()}


class _Located(_DeferredAstNode):  # type: ignore[misc]
    """A deferred rule-engine node that remembers its token offset while it is built."""

    __slots__ = ("built", "position")

    def __init__(self, node: Any, position: int, built: list[tuple[Any, int]]):
        super().__init__(
            node.cls, args=node.args, kwargs=node.kwargs, method=node.method
        )
        self.position = position
        self.built = built

    def build(self) -> Any:
        try:
            node = super().build()
        except Exception as exc:
            # the innermost node that fails names the place; outer ones keep it
            if not hasattr(exc, "_rule_position"):
                exc._rule_position = self.position  # type: ignore[attr-defined]
                exc._rule_operator = _OPERATORS.get(  # type: ignore[attr-defined]
                    str(self.args[1]).upper() if len(self.args) > 1 else ""
                )
            raise
        self.built.append((node, self.position))
        return node


class _LocatingParser:
    """rule-engine's parser whose grammar actions record token offsets.

    It is a private :class:`rule_engine.parser.Parser` instance: the grammar and its
    actions are rule-engine's own; each action's result is wrapped so that the AST node it
    builds knows the offset of its operator (or first) token.
    """

    def __init__(self) -> None:
        self._parser = Parser()
        self._lock = threading.Lock()
        self._built: list[tuple[Any, int]] = []
        for production in self._parser._parser.productions:
            if production.callable is not None:
                production.callable = self._wrap(production.callable, production.func)

    def _wrap(self, action: Callable[[Any], None], name: str) -> Callable[[Any], None]:
        def located(p: Any) -> None:
            action(p)
            node = p[0]
            if type(node) is _DeferredAstNode:
                p[0] = _Located(node, _token_offset(p, name), self._built)

        return located

    def parse(self, text: str, context: Any) -> tuple[Any, list[tuple[Any, int]]]:
        with self._lock:
            built: list[tuple[Any, int]] = []
            self._built = built
            statement = self._parser.parse(text, context, tracking=True)
        return statement, built


def _token_offset(p: Any, name: str) -> int:
    """The offset that names a grammar action's node: its operator, else its first token."""
    if name == "p_expression_getattr":
        return int(p.lexpos(3))  # the attribute name
    if (
        name != "p_expression_function_call"
        and len(p) > 2
        and p.slice[2].type in Parser.tokens
    ):
        return int(p.lexpos(2))
    return int(p.lexpos(1))


@functools.cache
def _parser() -> _LocatingParser:
    # built once: ply generates the grammar tables when a parser is constructed
    return _LocatingParser()


def parse(text: str, schema: Mapping[str, pl.DataType]) -> Parsed:
    """Parse and type-check ``text`` as rule-engine does against ``schema``.

    Raises:
        RuleSyntaxError: bad grammar, literal or regular expression.
        RuleTypeError: unknown column or attribute, or mixed types.
        RuleError: any other failure of rule-engine's parser (a constant that fails).
    """
    try:
        with decimal.localcontext(DECIMAL_CONTEXT):
            statement, built = _parser().parse(text, rule_context(schema))
    except Exception as exc:
        raise _rule_error(exc, text, schema) from exc
    positions = {id(node): offset for node, offset in built}
    return Parsed(text, statement.expression, positions, tuple(n for n, _ in built))


def closest(name: str, names: Iterable[str]) -> str | None:
    """The closest of ``names`` to ``name`` (difflib), or None."""
    matches = difflib.get_close_matches(name, list(names), n=1)
    return matches[0] if matches else None


def _rule_error(
    exc: Exception, text: str, schema: Mapping[str, pl.DataType]
) -> RuleError:
    position: int | None = getattr(exc, "_rule_position", None)
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    suggestion = None
    cls: type[RuleError] = RuleError
    if isinstance(exc, re_errors.RuleSyntaxError):
        token = exc.token
        position = len(text) if token is None else int(token.lexpos)
        message = message.rsplit(" at: ", 1)[0]  # its line count runs across parses
        cls = RuleSyntaxError
    elif isinstance(exc, re_errors.SyntaxError):
        cls = RuleSyntaxError
        message = f"{message}: {getattr(exc, 'value', '')!r}"
    elif isinstance(exc, re_errors.SymbolResolutionError):
        cls = RuleTypeError
        message = f"unknown column {exc.symbol_name!r}"
        suggestion = closest(exc.symbol_name, schema)
    elif isinstance(exc, re_errors.AttributeResolutionError):
        cls = RuleTypeError
        message = f"unknown attribute {exc.attribute_name!r}"
        suggestion = exc.suggestion
    elif isinstance(exc, re_errors.EvaluationError):
        cls = RuleTypeError
        operator = getattr(exc, "_rule_operator", None)
        if operator:
            message = f"{message} for {operator!r}"
    return cls(message, expression=text, position=position, suggestion=suggestion)
