"""Regular expressions: Python's ``re`` dialect (rule-engine's ``=~``) carried to polars'
(Rust ``regex``) by :func:`rust_regex`, or refused with :class:`RegexNotSupported`."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

import polars as pl

# Python's own regex parser (private modules, stable since 3.11; typeshed lacks them)
_sre: Any = importlib.import_module("re._constants")
_sre_parser: Any = importlib.import_module("re._parser")


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
