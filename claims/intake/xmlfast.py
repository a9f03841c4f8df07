"""The fast XML path: xml2arrow parsers built from the table specs.

One parser per table type reads many inner documents at once, concatenated under a
synthetic ``<R>`` root; the ``<doc>`` index column maps each row back to its document.
The outer wrapper is read the same way, in bounded batches. Parsers are built once per
process from generated configs (building one compiles the config).
"""

from __future__ import annotations

import functools
import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import xml2arrow
import yaml

from claims.xml130 import PARSED_TABLES, WRAPPER_ROOT, TableSpec

DOC_ROOT = "R"
DOC_INDEX = "<doc>"
ROW_INDEX = "<row>"
HOSO_INDEX = "<hoso>"

ParseError = xml2arrow.Xml2ArrowError
"""Raised by the fast path for a document it cannot read (the caller falls back)."""


def _field(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "xml_path": path, "data_type": "Utf8", "nullable": True}


def table_config(spec: TableSpec) -> dict[str, Any]:
    """xml2arrow config for many ``spec`` documents concatenated under ``<R>``."""
    docs = {"name": "docs", "xml_path": f"/{DOC_ROOT}", "levels": ["doc"], "fields": []}
    if not spec.row_path:  # single-record table: each document is one row
        row = f"/{DOC_ROOT}/{spec.root}"
        fields = [_field(f.column, f"{row}/{f.element}") for f in spec.fields]
        return {"tables": [{**docs, "fields": fields}]}
    parent = "/".join((f"/{DOC_ROOT}", spec.root, *spec.row_path[:-1]))
    row = f"{parent}/{spec.row_element}"
    fields = [_field(f.column, f"{row}/{f.element}") for f in spec.fields]
    rows = {
        "name": "rows",
        "xml_path": parent,
        "levels": ["doc", "row"],
        "fields": fields,
    }
    return {"tables": [docs, rows]}


def wrapper_config() -> dict[str, Any]:
    """xml2arrow config for the GIAMDINHHS wrapper's FILEHOSO rows.

    The header values are read apart (``claims.intake.wrapper``): a table at the root would
    shift the claim indices of the listing.
    """
    listing = f"/{WRAPPER_ROOT}/THONGTINHOSO/DANHSACHHOSO"
    files = [
        _field("loaihoso", f"{listing}/HOSO/FILEHOSO/LOAIHOSO"),
        _field("noidungfile", f"{listing}/HOSO/FILEHOSO/NOIDUNGFILE"),
    ]
    return {
        "tables": [
            {
                # an attribute that is never there: one row per HOSO, empty ones too
                "name": "hosos",
                "xml_path": listing,
                "levels": ["hoso"],
                "fields": [_field("_count", f"{listing}/HOSO/@giamdinh_count")],
            },
            {
                "name": "files",
                "xml_path": f"{listing}/HOSO",
                "levels": ["hoso", "file"],
                "fields": files,
            },
        ]
    }


def _build(config: dict[str, Any]) -> xml2arrow.XmlToArrowParser:
    text = yaml.safe_dump(config, sort_keys=True)
    name = hashlib.sha256(text.encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"giamdinh-x2a-{name}.yaml"
    if not path.exists():
        tmp = path.with_suffix(f".{id(config)}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return xml2arrow.XmlToArrowParser(str(path))


@functools.cache
def table_parser(table: str) -> xml2arrow.XmlToArrowParser:
    """The cached parser for one LOAIHOSO table."""
    return _build(table_config(PARSED_TABLES[table]))


@functools.cache
def wrapper_parser() -> xml2arrow.XmlToArrowParser:
    """The cached parser for the outer wrapper."""
    return _build(wrapper_config())


def parse_docs(table: str, docs: list[bytes]) -> pl.DataFrame:
    """Parse inner documents of one table in one call (see :func:`parse_body`)."""
    return parse_body(table, b"".join((b"<R>", *docs, b"</R>")))


def parse_body(table: str, body: bytes) -> pl.DataFrame:
    """Parse documents of one table concatenated under ``<R>`` … ``</R>``.

    Args:
        table: LOAIHOSO of every document (``"XML1"`` … ``"XML5"``).
        body: the documents, without XML declarations, each rooted at the table's root.

    Returns:
        String columns of the spec plus ``<doc>`` (index of the document) and
        ``<row>`` (0-based row within its document).

    Raises:
        ParseError: when any document is not well-formed for the fast reader.
    """
    spec = PARSED_TABLES[table]
    batches = table_parser(table).parse(body)
    key = "rows" if spec.row_path else "docs"
    if key not in batches:
        return empty_rows(spec)
    frame = pl.from_arrow(batches[key])
    assert isinstance(frame, pl.DataFrame)
    if not spec.row_path:
        frame = frame.with_columns(pl.lit(0, pl.UInt32).alias(ROW_INDEX))
    return frame.select(_compact(spec.columns))


@functools.cache
def _compact(columns: tuple[str, ...]) -> list[pl.Expr]:
    """The parsed columns copied into compact buffers: imported strings would keep the
    parser's whole Arrow buffers alive (about 1.5 MB per file, until validation is
    done). Built once per table: a small file's parse is shorter than building them."""
    return [
        pl.col(DOC_INDEX).cast(pl.UInt32),
        pl.col(ROW_INDEX).cast(pl.UInt32),
        *[pl.col(c).cast(pl.String) + "" for c in columns],
    ]


def empty_rows(spec: TableSpec) -> pl.DataFrame:
    """A frame with the shape :func:`parse_docs` returns, and no rows."""
    return _empty_rows(spec.columns).clear()


@functools.cache
def _empty_rows(columns: tuple[str, ...]) -> pl.DataFrame:
    schema: dict[str, pl.DataType] = {DOC_INDEX: pl.UInt32(), ROW_INDEX: pl.UInt32()}
    schema |= dict.fromkeys(columns, pl.String())
    return pl.DataFrame(schema=schema)


def iter_wrapper(path: Path, batch_bytes: int) -> Iterator[tuple[str, pl.DataFrame]]:
    """Stream the wrapper's tables as ``(name, frame)`` in bounded batches.

    Raises:
        ParseError: from the iterator when the wrapper stops being well-formed.
    """
    stream = wrapper_parser().parse_batches(str(path), max_bytes_per_batch=batch_bytes)
    for name, batch in stream:
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        yield name, frame
