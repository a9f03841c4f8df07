"""The safe XML path: lxml with entities, DTDs and network access refused.

Used where the fast reader cannot take a document: to read one inner document the fast
path refused, and to say in plain words why a wrapper file cannot be read. XML external
entities, DTDs and entity expansion are refused: a document declaring a DTD is rejected
before any parser sees it, and the parser itself resolves nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
from lxml import etree

from claims.errors import ReasonCode
from claims.intake.xmlfast import DOC_INDEX, ROW_INDEX, empty_rows
from claims.xml130 import PARSED_TABLES, TableSpec

_DTD = re.compile(rb"<!(DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)", re.IGNORECASE)
_FIRST_TAG = re.compile(rb"<([A-Za-z_][\w.\-:]*)")


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=True,
    )


def has_dtd(data: bytes) -> bool:
    """Whether a document declares a DTD or entities (always refused)."""
    return _DTD.search(data) is not None


def prolog(data: bytes) -> tuple[str | None, bool, bool]:
    """Walk the prolog: ``(root element name, declares a DTD, prolog complete)``.

    Skips a BOM, blanks, the XML declaration, processing instructions and comments, of
    any length; stops at the first declaration (``<!DOCTYPE`` …) or element.
    """
    i = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    while True:
        while data[i : i + 1] in (b" ", b"\t", b"\r", b"\n"):
            i += 1
        closing = (
            b"?>"
            if data.startswith(b"<?", i)
            else b"-->"
            if data.startswith(b"<!--", i)
            else None
        )
        if closing is None:
            break
        end = data.find(closing, i + 2)
        if end < 0:
            return None, False, False
        i = end + len(closing)
    if data.startswith(b"<!", i):
        return None, True, True
    found = _FIRST_TAG.match(data, i)
    return (found.group(1).decode("ascii", "replace") if found else None), False, True


def root_name(data: bytes) -> str | None:
    """Name of the first element, after the XML declaration, comments and PIs."""
    return prolog(data)[0]


class MisplacedRowsError(ValueError):
    """A well-formed document with row elements outside the table's row path: reading
    it would lose them, so the document is refused."""

    def __init__(self, table: str, spec: TableSpec, present: int, read: int) -> None:
        path = "/".join((spec.root, *spec.row_path))
        self.table, self.present, self.read = table, present, read
        super().__init__(
            f"bảng {table} có {present} phần tử <{spec.row_element}> nhưng {read} "
            f"nằm đúng vị trí {path}"
        )


def parse_doc(table: str, doc: bytes) -> pl.DataFrame:
    """Read one inner document with lxml, in the shape of the fast path's output.

    Raises:
        etree.XMLSyntaxError: when the document is not well-formed.
        MisplacedRowsError: when row elements lie outside the table's row path.
        ValueError: when it declares a DTD or entities, or has the wrong root.
    """
    spec = PARSED_TABLES[table]
    if has_dtd(doc):
        msg = "document declares a DTD or entities"
        raise ValueError(msg)
    root = etree.fromstring(doc, _parser())
    if root.tag != spec.root:
        msg = f"root element is <{root.tag}>, expected <{spec.root}>"
        raise ValueError(msg)
    rows = _rows(spec, root)
    present = sum(1 for _ in root.iter(spec.row_element))
    if len(rows) != present:
        raise MisplacedRowsError(table, spec, present, len(rows))
    if not rows:
        return empty_rows(spec)
    data: dict[str, list[str | None]] = {c: [] for c in spec.columns}
    for row in rows:
        for f in spec.fields:
            data[f.column].append(_text(row.find(f.element)))
    frame = pl.DataFrame(data, schema=dict.fromkeys(spec.columns, pl.String))
    return frame.select(
        pl.lit(0, pl.UInt32).alias(DOC_INDEX),
        pl.int_range(pl.len(), dtype=pl.UInt32).alias(ROW_INDEX),
        pl.all(),
    )


def _rows(spec: TableSpec, root: etree._Element) -> list[etree._Element]:
    """The row elements at the spec's path (the root itself for one-record tables)."""
    if not spec.row_path:
        return [root]
    parent = root
    for name in spec.row_path[:-1]:
        found = parent.find(name)
        if found is None:
            return []
        parent = found
    return parent.findall(spec.row_element)


def _text(element: etree._Element | None) -> str | None:
    if element is None or not element.text:
        return None
    return str(element.text)


def check_doc(doc: bytes) -> str | None:
    """Why an inner document cannot be read, or None when lxml reads it."""
    if has_dtd(doc):
        return "khai báo DTD/entity (không được phép)"
    try:
        etree.fromstring(doc, _parser())
    except etree.XMLSyntaxError as exc:
        return syntax_message(exc)
    return None


def syntax_message(exc: etree.XMLSyntaxError) -> str:
    """lxml's complaint without the document text it may quote (names, ID numbers)."""
    first = str(exc.msg or exc).split("\n", 1)[0].strip()
    line, column = exc.position if exc.position else (None, None)
    return f"{first} (dòng {line}, cột {column})" if line is not None else first


def count_elements(path: Path, tag: str) -> int | None:
    """How many ``tag`` elements a wrapper holds, wherever they are (None: the wrapper
    is not well-formed for lxml)."""
    found = 0
    try:
        for _event, element in etree.iterparse(
            str(path),
            events=("end",),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=True,
        ):
            found += element.tag == tag
            element.clear()
    except etree.XMLSyntaxError:
        return None
    return found


def diagnose_wrapper(path: Path) -> tuple[ReasonCode, str]:
    """Classify why a wrapper file cannot be read, streaming it through lxml."""
    try:
        for _event, element in etree.iterparse(
            str(path),
            events=("end",),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=True,
        ):
            element.clear()
    except etree.XMLSyntaxError as exc:
        return _classify(syntax_message(exc))
    return ReasonCode.FILE_NOT_XML, "tệp không đọc được theo cấu trúc GIAMDINHHS"


def _classify(message: str) -> tuple[ReasonCode, str]:
    lower = message.lower()
    if "utf-8" in lower or "encoding" in lower or "invalid char" in lower:
        return ReasonCode.FILE_NOT_UTF8, f"tệp không phải UTF-8 hợp lệ ({message})"
    if (
        "premature end" in lower
        or "not properly terminated" in lower
        or ("expected" in lower and "end" in lower)
    ):
        return ReasonCode.FILE_TRUNCATED, f"tệp bị cắt cụt, thiếu phần cuối ({message})"
    return ReasonCode.FILE_NOT_XML, f"tệp không phải XML hợp lệ ({message})"
