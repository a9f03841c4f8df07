"""The building blocks of the exchange tables' declarations: field kinds, a field, a table.

A leaf: :mod:`claims.xml130` (XML1–XML5) and :mod:`claims.xml130_docs` (XML6–XML15)
declare their tables with these; everything else imports them from ``claims.xml130``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """How a field's text is checked and converted."""

    TEXT = "text"  # free text, kept as is
    CODE = "code"  # a code: string, optionally checked against a dated code list
    INT = "int"  # a whole number (sequence, days, year, month)
    PCT = "pct"  # an integer percentage 0..100
    MONEY = "money"  # up to 15 digits, at most 2 decimals → Decimal(38, 2)
    QTY = "qty"  # quantity or unit price, at most 3 decimals → Decimal(38, 3)
    WEIGHT = "weight"  # kilograms, at most 2 decimals → Decimal(38, 2)
    DATE = "date"  # yyyyMMdd
    DATETIME = "datetime"  # yyyyMMddHHmm
    DATE_OR_DATETIME = "date_or_datetime"  # yyyyMMdd or yyyyMMddHHmm
    BIRTH = "birth"  # yyyyMMddHHmm; unknown month/day padded with zeros


@dataclass(frozen=True, slots=True)
class Field:
    """One element of an inner table."""

    element: str
    kind: Kind = Kind.TEXT
    size: int | None = None
    required: bool = False
    code_list: str | None = None  # id of a dated list in the `code_lists` catalog
    pii: bool = False  # masked in quarantine values, sidecars and logs

    @property
    def column(self) -> str:
        """Frame column name: the element name lower-cased."""
        return self.element.lower()


@dataclass(frozen=True, slots=True)
class TableSpec:
    """One LOAIHOSO table: where its rows are in the inner document and what they hold."""

    table: str  # LOAIHOSO value, e.g. "XML2"
    root: str  # inner document root element
    row_path: tuple[str, ...]  # elements from the root down to one row (root excluded)
    fields: tuple[Field, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """Frame column names in element order."""
        return tuple(f.column for f in self.fields)

    def field(self, column: str) -> Field:
        """The field whose column name is ``column``."""
        return next(f for f in self.fields if f.column == column)

    @property
    def row_element(self) -> str:
        """Element name of one row (the root itself for single-record tables)."""
        return self.row_path[-1] if self.row_path else self.root


def spec_field(
    element: str,
    kind: Kind = Kind.TEXT,
    size: int | None = None,
    req: bool = False,  # noqa: FBT001, FBT002 - terse table rows below
    codes: str | None = None,
    pii: bool = False,  # noqa: FBT001, FBT002
) -> Field:
    """A :class:`Field`, terse enough for one table row per line."""
    return Field(element, kind, size, req, codes, pii)
