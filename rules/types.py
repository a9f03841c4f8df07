"""Rule types: the rule-engine context built from a frame schema, and the checking parse.

A frame schema gives each column a rule-engine type: integer and decimal columns are
``FLOAT`` (rule-engine numbers are :class:`decimal.Decimal`), String, Categorical and Enum
are ``STRING``, Boolean is ``BOOLEAN``, Date and Datetime are ``DATETIME`` (naive values read
in UTC, the context's ``default_timezone``), Duration is ``TIMEDELTA`` and ``List(T)`` is
``ARRAY(T)``. Columns are not declared ``NULLABLE``: a data null is a value, and the
operations rule-engine refuses on it make the row "not evaluable".

:func:`parse` runs rule-engine's own parser and type check, and keeps, for each AST node,
the offset of its token in the text, so that every error (rule-engine's or the
compiler's) can point at its place in the expression. :func:`rust_regex` carries a
pattern from Python's ``re`` dialect (rule-engine's) to polars' (Rust ``regex``).
"""

from __future__ import annotations

import decimal
import difflib
import functools
import importlib
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

# Python's own regex parser (private modules, stable since 3.11; typeshed lacks them)
_sre: Any = importlib.import_module("re._constants")
_sre_parser: Any = importlib.import_module("re._parser")

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


# --- regular expressions: Python's ``re`` dialect → polars (Rust ``regex``) -------------


class RegexNotSupported(ValueError):
    """A Python regular expression with no exact polars (Rust ``regex``) translation."""


def rust_regex(pattern: str, *, anchored: bool) -> str:
    """Translate a Python ``re`` pattern to a polars pattern that matches the same texts.

    rule-engine's ``=~`` is ``re.match`` (anchored at the start only; ``anchored=True``)
    and ``=~~`` is ``re.search``. The pattern is parsed by Python's own ``re`` parser and
    rebuilt node by node: character classes ``\\d \\s \\w`` become the explicit code
    points Python's ``re`` gives them (Rust's Unicode classes differ, e.g. on combining
    marks), ``.`` excludes ``\\n`` and ``$`` matches before a final newline, as in Python.
    Only whether a match exists matters (rule-engine's ``$re_groups`` is not supported),
    so lazy and greedy repeats are the same.

    Raises:
        RegexNotSupported: look-around, back-references, atomic groups or possessive
            repeats (Rust's ``regex`` has none), inline flags, ``\\b``/``\\B``, or ``$``
            before the end of the pattern.
    """
    parsed = _sre_parser.parse(pattern)
    if parsed.state.flags & ~(_sre.SRE_FLAG_UNICODE | _sre.SRE_FLAG_VERBOSE):
        msg = f"inline flags such as (?i) in {pattern!r}"
        raise RegexNotSupported(msg)
    body = _regex_sequence(parsed.data, tail=True, pattern=pattern)
    translated = rf"\A(?:{body})" if anchored else body
    try:
        pl.select(pl.lit("").str.contains(translated))
    except pl.exceptions.PolarsError as exc:
        msg = f"the regular expression {pattern!r}: polars cannot compile it ({exc})"
        raise RegexNotSupported(msg) from None
    return translated


def _regex_sequence(items: list[tuple[Any, Any]], *, tail: bool, pattern: str) -> str:
    last = len(items) - 1
    return "".join(
        _regex_item(op, av, tail=tail and i == last, pattern=pattern)
        for i, (op, av) in enumerate(items)
    )


def _regex_item(op: Any, av: Any, *, tail: bool, pattern: str) -> str:
    if op is _sre.LITERAL:
        return _regex_char(av)
    if op is _sre.NOT_LITERAL:
        return f"[^{_regex_char(av)}]"
    if op is _sre.ANY:
        return r"[^\n]"
    if op is _sre.IN:
        return _regex_class(av, pattern)
    if op is _sre.SUBPATTERN:
        _group, add_flags, del_flags, sub = av
        if add_flags or del_flags:
            msg = f"scoped flags such as (?i:...) in {pattern!r}"
            raise RegexNotSupported(msg)
        return f"(?:{_regex_sequence(sub.data, tail=tail, pattern=pattern)})"
    if op is _sre.BRANCH:
        alternatives = (
            _regex_sequence(a.data, tail=tail, pattern=pattern) for a in av[1]
        )
        return f"(?:{'|'.join(alternatives)})"
    if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT):
        low, high, sub = av
        body = f"(?:{_regex_sequence(sub.data, tail=False, pattern=pattern)})"
        if high == _sre.MAXREPEAT:
            return body + ("*" if low == 0 else "+" if low == 1 else f"{{{low},}}")
        return body + f"{{{low},{high}}}"
    if op is _sre.AT:
        if av in (_sre.AT_BEGINNING, _sre.AT_BEGINNING_STRING):
            return r"\A"
        if av is _sre.AT_END_STRING:
            return r"\z"
        if av is _sre.AT_END and tail:
            return r"\n?\z"  # Python's $ also matches before a final newline
        what = "'$' before the end of the pattern" if av is _sre.AT_END else r"\b or \B"
        msg = f"{what} in {pattern!r} (Python and polars disagree on it)"
        raise RegexNotSupported(msg)
    names = {
        _sre.GROUPREF: "back-references",
        _sre.GROUPREF_EXISTS: "conditional groups",
        _sre.ASSERT: "look-around",
        _sre.ASSERT_NOT: "look-around",
    }
    msg = f"{names.get(op, str(op).lower())} in {pattern!r} (polars regexes have none)"
    raise RegexNotSupported(msg)


def _regex_class(items: list[tuple[Any, Any]], pattern: str) -> str:
    parts = []
    negate = ""
    for op, av in items:
        if op is _sre.NEGATE:
            negate = "^"
        elif op is _sre.LITERAL:
            parts.append(_regex_char(av))
        elif op is _sre.RANGE:
            parts.append(f"{_regex_char(av[0])}-{_regex_char(av[1])}")
        elif op is _sre.CATEGORY:
            parts.append(_regex_category(av))
        else:
            msg = f"the class item {op} in {pattern!r}"
            raise RegexNotSupported(msg)
    return f"[{negate}{''.join(parts)}]"


def _regex_char(code: int) -> str:
    char = chr(code)
    return char if char.isascii() and char.isalnum() else f"\\x{{{code:X}}}"


def _regex_category(category: Any) -> str:
    name, negate = {
        _sre.CATEGORY_DIGIT: ("digit", False),
        _sre.CATEGORY_NOT_DIGIT: ("digit", True),
        _sre.CATEGORY_SPACE: ("space", False),
        _sre.CATEGORY_NOT_SPACE: ("space", True),
        _sre.CATEGORY_WORD: ("word", False),
        _sre.CATEGORY_NOT_WORD: ("word", True),
    }[category]
    return f"[{'^' if negate else ''}{_code_point_ranges(name)}]"


@functools.cache
def _code_point_ranges(name: str) -> str:
    """Python ``re``'s class for ``\\d``, ``\\s`` or ``\\w`` as explicit ranges.

    ``re`` tests ``str.isdecimal``, ``str.isspace`` and ``str.isalnum() or '_'`` (see
    ``_sre.c``); surrogates are left out (polars text is UTF-8).
    """
    test: Callable[[str], bool] = {
        "digit": str.isdecimal,
        "space": str.isspace,
        "word": lambda c: c.isalnum() or c == "_",
    }[name]
    ranges: list[tuple[int, int]] = []
    for code in (*range(0xD800), *range(0xE000, 0x110000)):
        if test(chr(code)):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return "".join(
        _regex_char(a) if a == b else f"{_regex_char(a)}-{_regex_char(b)}"
        for a, b in ranges
    )
