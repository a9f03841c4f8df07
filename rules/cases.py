"""A pack version's cases (``cases.yaml``): one-row frames with the outcome each rule must give.

A case names a rule, gives the columns it sets (every other column is null) and the
expected outcome: ``true`` (the rule fires), ``false``, or ``null`` (not evaluable). Each
rule has cases that hit it and cases that narrowly miss it; ``giamdinh rules test`` and
``tests/rules/test_pack_cases.py`` run them all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from rules.evaluate import Pack, Schemas, param_columns
from rules.packs import PackError
from rules.sources import SourceError, resolve


@dataclass(frozen=True)
class Case:
    """One case: a rule, the row it sees and the outcome it must give."""

    rule: str
    row: dict[str, Any]
    expect: bool | None
    note: str = ""


@dataclass(frozen=True)
class Failure:
    """A case whose rule gave another outcome."""

    case: Case
    got: bool | None


def read_cases(directory: Path) -> list[Case]:
    """The cases of one pack version: ``cases.yaml`` beside ``pack.yaml``; for a correction,
    the corrected version's cases (less the removed rules') too, and every included
    fragment's ``cases``."""
    path = directory / "cases.yaml"
    try:
        resolved = resolve(directory)
    except SourceError as exc:
        raise PackError(str(exc), path=exc.path) from exc
    if not resolved.has_own_cases and "corrects" not in resolved.raw:
        msg = "cases.yaml is missing: every rule needs cases that hit and miss it"
        raise PackError(msg, path=path)
    cases = []
    for n, raw in enumerate(resolved.cases, start=1):
        if not isinstance(raw, dict) or "rule" not in raw or "expect" not in raw:
            msg = f"case {n} needs 'rule', 'row' and 'expect'"
            raise PackError(msg, path=path)
        cases.append(
            Case(
                raw["rule"],
                dict(raw.get("row") or {}),
                raw["expect"],
                raw.get("note", ""),
            )
        )
    return cases


def _value(name: str, value: Any, dtype: pl.DataType, rule: str) -> Any:
    if value is None:
        return None
    if dtype == pl.String() and not isinstance(value, str):
        msg = f"case of {rule}: {name} is text; quote {value!r} in cases.yaml"
        raise PackError(msg)
    if isinstance(dtype, pl.Decimal):
        return Decimal(str(value))
    if isinstance(dtype, pl.Datetime) and isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    if isinstance(dtype, pl.Datetime) and type(value) is dt.date:
        return dt.datetime(value.year, value.month, value.day)
    if dtype == pl.Date() and isinstance(value, str):
        return dt.date.fromisoformat(value)
    return value


def case_frame(case: Case, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """The one-row frame of a case: its columns set, every other one null."""
    unknown = sorted(set(case.row) - set(schema))
    if unknown:
        msg = f"case of {case.rule}: unknown column(s) {', '.join(unknown)}"
        raise PackError(msg)
    row = {
        name: _value(name, case.row.get(name), dtype, case.rule)
        for name, dtype in schema.items()
    }
    return pl.DataFrame([row], schema=schema, orient="row")


def run_cases(pack: Pack, cases: list[Case], schemas: Schemas) -> list[Failure]:
    """Every case that does not give its expected outcome."""
    rules = {r.spec.id: r for r in pack.rules}
    failures = []
    for case in cases:
        rule = rules.get(case.rule)
        if rule is None:
            msg = f"case names rule {case.rule!r}, which {pack.label} does not have"
            raise PackError(msg, path=pack.path)
        frame = case_frame(case, dict(schemas[rule.spec.table]))
        got = frame.with_columns(param_columns(pack)).select(rule.expr).item()
        if got != case.expect:
            failures.append(Failure(case, got))
    return failures


def uncovered(pack: Pack, cases: list[Case]) -> list[str]:
    """Rules without both a case that hits them and one that misses them."""
    hits = {c.rule for c in cases if c.expect is True}
    misses = {c.rule for c in cases if c.expect is False}
    return [
        r.spec.id
        for r in pack.rules
        if r.spec.id not in hits or r.spec.id not in misses
    ]
