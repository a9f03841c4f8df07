"""What intake hands to validation: one readable submission, or one refused file.

``Submission`` holds raw text frames per table, XML1–XML15 (values stay text until
validation types them), and claim-level errors. Every frame carries
``file_id`` (the input's sha256), ``hoso_idx`` (0-based claim position in the file) and
``line_no`` (1-based row within its table).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from claims.errors import ReasonCode
from claims.schema import ROW_KEYS
from claims.xml130 import PARSED_TABLES, Field, Kind

KEYS = ROW_KEYS


@dataclass(frozen=True)
class FileMeta:
    """What the engine knows about one input file."""

    file_id: str
    name: str
    kind: str  # "xml" | "bulk"
    size: int
    sender: str | None = None
    ngay_lap: str | None = None
    declared: int | None = None
    hoso_count: int = 0


@dataclass(frozen=True)
class FileFailure:
    """A file whose wrapper cannot be read: nothing of it is stored."""

    file_id: str
    name: str
    size: int
    reason: ReasonCode
    message: str


@dataclass(frozen=True)
class Submission:
    """A readable file: raw frames per table, claim-level errors.

    ``raw_docs`` is empty: XML6–XML15 are parsed like the other tables. It stays for
    the store's ``raw_docs`` view, which still shows what older engines kept."""

    meta: FileMeta
    tables: dict[str, pl.DataFrame]
    raw_docs: pl.DataFrame
    hoso_errors: pl.DataFrame
    warnings: list[tuple[ReasonCode, str]] = field(default_factory=list)


def file_sha256(path: Path) -> str:
    """sha256 of a file, or of a bulk folder's files (names and contents, sorted)."""
    digest = hashlib.sha256()
    parts = (
        sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    )
    for part in parts:
        if path.is_dir():
            digest.update(part.relative_to(path).as_posix().encode() + b"\0")
        with part.open("rb") as handle:
            while chunk := handle.read(1 << 24):
                digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Scan:
    """The first pass over an input: its sha256 and, for XML, what its bytes tell."""

    file_id: str
    size: int
    edges: bytes = b""
    problem: tuple[ReasonCode, str] | None = None
    hoso_tags: int | None = None
    """``<HOSO>`` start tags in the bytes (XML files): every one must be read."""


def empty_table(table: str) -> pl.DataFrame:
    """A raw frame of ``table`` with no rows."""
    return _empty_table(table).clear()  # built once: most files leave most tables out


@functools.cache
def _empty_table(table: str) -> pl.DataFrame:
    schema: dict[str, pl.DataType] = {
        "file_id": pl.String(),
        "hoso_idx": pl.UInt32(),
        "line_no": pl.UInt32(),
    }
    schema |= dict.fromkeys(PARSED_TABLES[table].columns, pl.String())
    return pl.DataFrame(schema=schema)


def clean(field: Field) -> pl.Expr:
    """Raw text with empty text as null (an empty element means absent).

    Codes, numbers and dates are trimmed (``"01 "`` is code ``01``); free text is kept
    as sent (the reader already gives null for an empty element), and blank text does
    not fill a required field. The reader's own trimming is not used: it also trims
    around escaped characters inside the text.
    """
    raw = pl.col(field.column)
    if field.kind is Kind.TEXT and not field.required:
        return raw
    text = raw if field.kind is Kind.TEXT else raw.str.strip_chars()
    blank = text.str.strip_chars().str.len_bytes() == 0
    return pl.when(~blank).then(text).alias(field.column)
