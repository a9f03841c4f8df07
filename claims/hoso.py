"""Decode the FILEHOSO payloads of a wrapper and parse them table by table.

Each payload is base64 of one inner XML document. A payload that does not decode, is not
UTF-8, declares a DTD, or has the wrong root rejects its claim (HOSO) only. Documents of a
table are parsed together by the fast reader; when a batch fails, each document is retried
alone and, failing that, read by lxml; a document neither reads rejects its claim.
"""

from __future__ import annotations

import binascii
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import polars as pl
import pybase64

from claims.errors import ReasonCode
from claims.xml130 import PARSED_TABLES, RAW_TABLES
from claims.xmlfast import DOC_INDEX, HOSO_INDEX, ROW_INDEX, ParseError, parse_docs
from claims.xmlsafe import check_doc, has_dtd, parse_doc, root_name

_ROOTS = {**{t: s.root for t, s in PARSED_TABLES.items()}, **RAW_TABLES}
_WHITESPACE = b" \t\r\n"
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="giamdinh-parse")

ERROR_SCHEMA = {
    "file_id": pl.String(),
    "hoso_idx": pl.UInt32(),
    "table": pl.String(),
    "reason_code": pl.String(),
    "message": pl.String(),
}
RAW_SCHEMA = {
    "file_id": pl.String(),
    "hoso_idx": pl.UInt32(),
    "table": pl.String(),
    "xml": pl.String(),
}


@dataclass(frozen=True)
class HosoResult:
    """Everything read from the claims of one file."""

    tables: dict[str, pl.DataFrame]
    raw_docs: pl.DataFrame
    hoso_errors: pl.DataFrame


@dataclass
class HosoBatch:
    """Accumulates parsed frames, raw documents and claim errors of one file."""

    file_id: str
    frames: dict[str, list[pl.DataFrame]] = field(default_factory=dict)
    raw: list[tuple[int, str, str]] = field(default_factory=list)
    errors: list[tuple[int, str, ReasonCode, str]] = field(default_factory=list)
    seen: set[tuple[int, str]] = field(default_factory=set)
    max_hoso: int = -1

    def reject(self, hoso: int, table: str, code: ReasonCode, message: str) -> None:
        """Record a claim-level error."""
        self.errors.append((hoso, table, code, message))

    def hoso_count(self) -> int:
        """Number of HOSO elements seen (by their indices)."""
        return self.max_hoso + 1

    def finish(self) -> HosoResult:
        """Frames per table, raw documents and claim errors, with missing XML1 flagged."""
        with_xml1 = {h for h, t in self.seen if t == "XML1"}
        for hoso in range(self.max_hoso + 1):
            if hoso not in with_xml1:
                msg = "hồ sơ không có bảng XML1 (TONG_HOP)"
                self.reject(hoso, "XML1", ReasonCode.HOSO_NO_XML1, msg)
        tables = {t: self._table(t) for t in PARSED_TABLES}
        raw = pl.DataFrame(
            [(self.file_id, h, t, x) for h, t, x in self.raw],
            schema=RAW_SCHEMA,
            orient="row",
        )
        errors = pl.DataFrame(
            [(self.file_id, h, t, str(c), m) for h, t, c, m in sorted(self.errors)],
            schema=ERROR_SCHEMA,
            orient="row",
        )
        return HosoResult(tables, raw, errors)

    def _table(self, table: str) -> pl.DataFrame:
        from claims.ingest import empty_table

        parts = self.frames.get(table)
        if not parts:
            return empty_table(table)
        return pl.concat(parts)


def decode_hoso_rows(batch: HosoBatch, rows: pl.DataFrame) -> None:
    """Decode one batch of FILEHOSO rows and parse its documents into ``batch``."""
    docs: dict[str, tuple[list[int], list[bytes]]] = {
        t: ([], []) for t in PARSED_TABLES
    }
    for hoso, kind, payload in zip(
        rows[HOSO_INDEX].cast(pl.Int64).to_list(),
        rows["loaihoso"].to_list(),
        rows["noidungfile"].to_list(),
        strict=True,
    ):
        batch.max_hoso = max(batch.max_hoso, hoso)
        decoded = _decode_one(batch, hoso, (kind or "").strip().upper(), payload)
        if decoded is None:
            continue
        table, doc = decoded
        if table in docs:
            docs[table][0].append(hoso)
            docs[table][1].append(doc)
        else:
            batch.raw.append((hoso, table, doc.decode("utf-8")))
    jobs = {
        t: _POOL.submit(_parse_table, batch, t, *docs[t]) for t in docs if docs[t][1]
    }
    for table, job in jobs.items():
        batch.frames.setdefault(table, []).append(job.result())


def _decode_one(
    batch: HosoBatch, hoso: int, table: str, payload: str | None
) -> tuple[str, bytes] | None:
    if table not in _ROOTS:
        msg = f"LOAIHOSO '{table}' không thuộc XML1–XML15"
        batch.reject(hoso, table or "?", ReasonCode.HOSO_UNKNOWN_TABLE, msg)
        return None
    if (hoso, table) in batch.seen:
        msg = f"bảng {table} xuất hiện nhiều lần trong một hồ sơ"
        batch.reject(hoso, table, ReasonCode.HOSO_DUPLICATE_TABLE, msg)
        return None
    batch.seen.add((hoso, table))
    doc = _b64(payload)
    if doc is None:
        msg = f"NOIDUNGFILE của {table} không phải base64 hợp lệ"
        batch.reject(hoso, table, ReasonCode.HOSO_BASE64_INVALID, msg)
        return None
    problem = _doc_problem(table, doc)
    if problem is not None:
        batch.reject(hoso, table, *problem)
        return None
    return table, _strip_declaration(doc)


def _b64(payload: str | None) -> bytes | None:
    if not payload:
        return None
    data = payload.encode("ascii", "replace")
    try:
        return pybase64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        pass
    try:  # line-wrapped base64 (76 characters per line) is common
        return pybase64.b64decode(data.translate(None, _WHITESPACE), validate=True)
    except (binascii.Error, ValueError):
        return None


def _doc_problem(table: str, doc: bytes) -> tuple[ReasonCode, str] | None:
    if not doc.isascii():
        try:
            doc.decode("utf-8")
        except UnicodeDecodeError:
            return ReasonCode.HOSO_XML_INVALID, f"nội dung {table} không phải UTF-8"
    if has_dtd(doc):
        msg = f"nội dung {table} khai báo DTD/ENTITY (không được phép)"
        return ReasonCode.HOSO_DTD_FORBIDDEN, msg
    root = root_name(doc)
    if root != _ROOTS[table]:
        msg = f"thẻ gốc của {table} là <{root}>, phải là <{_ROOTS[table]}>"
        return ReasonCode.HOSO_WRONG_ROOT, msg
    return None


def _strip_declaration(doc: bytes) -> bytes:
    doc = doc.removeprefix(b"\xef\xbb\xbf").lstrip()
    if doc.startswith(b"<?xml"):
        end = doc.find(b"?>")
        doc = doc[end + 2 :] if end >= 0 else doc
    return doc


def _parse_table(
    batch: HosoBatch, table: str, hosos: list[int], docs: list[bytes]
) -> pl.DataFrame:
    try:
        frame = parse_docs(table, docs)
    except (ParseError, RuntimeError, TypeError, ValueError):
        frame = _parse_one_by_one(batch, table, hosos, docs)
    else:
        claim = pl.Series(hosos, dtype=pl.UInt32).gather(frame[DOC_INDEX])
        frame = frame.with_columns(claim.alias(DOC_INDEX))
    return _with_keys(batch.file_id, frame)


def _parse_one_by_one(
    batch: HosoBatch, table: str, hosos: list[int], docs: list[bytes]
) -> pl.DataFrame:
    parts: list[pl.DataFrame] = []
    for hoso, doc in zip(hosos, docs, strict=True):
        frame = _parse_alone(table, doc)
        if frame is None:
            reason = check_doc(doc) or "không đọc được"
            msg = f"nội dung {table} không phải XML hợp lệ: {reason}"
            batch.reject(hoso, table, ReasonCode.HOSO_XML_INVALID, msg)
            continue
        parts.append(frame.with_columns(pl.lit(hoso, pl.UInt32).alias(DOC_INDEX)))
    return pl.concat(parts) if parts else parse_docs(table, [])


def _parse_alone(table: str, doc: bytes) -> pl.DataFrame | None:
    try:
        return parse_docs(table, [doc])
    except (ParseError, RuntimeError, TypeError, ValueError):
        pass
    try:
        return parse_doc(table, doc)
    except Exception:
        return None


def _with_keys(file_id: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Name the claim index (held in ``<doc>``) and number the rows from 1."""
    spec_columns = [c for c in frame.columns if c not in (DOC_INDEX, ROW_INDEX)]
    return frame.select(
        pl.lit(file_id).alias("file_id"),
        pl.col(DOC_INDEX).cast(pl.UInt32).alias("hoso_idx"),
        (pl.col(ROW_INDEX) + 1).cast(pl.UInt32).alias("line_no"),
        *spec_columns,
    )
