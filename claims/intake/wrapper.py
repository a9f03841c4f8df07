"""Read one submission into raw text frames: a GIAMDINHHS XML file or a bulk table folder.

A file fails as a whole only when its wrapper cannot be read; inside a readable wrapper a
bad HOSO is recorded in ``hoso_errors`` and the other claims go on. Values stay text here;
``validate`` types them. Every frame carries ``file_id`` (the input's sha256), ``hoso_idx``
(0-based claim position in the file) and ``line_no`` (1-based row within its table).
"""

from __future__ import annotations

import codecs
import hashlib
import re
import struct
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from claims.errors import ReasonCode
from claims.intake.bulk import read_bulk
from claims.intake.hoso import HosoBatch, decode_hoso_rows, last_index
from claims.intake.signature import SignaturePolicy, check_signature
from claims.intake.submission import (
    FileFailure,
    FileMeta,
    Scan,
    Submission,
    file_sha256,
)
from claims.intake.xmlfast import HOSO_INDEX, ParseError, iter_wrapper
from claims.intake.xmlsafe import count_elements, diagnose_wrapper, prolog
from claims.xml130 import WRAPPER_ROOT

_CHUNK = 1 << 24
_EDGE = 1 << 16
_FLUSH_BYTES = 48 << 20
_EPILOG = re.compile(
    rb"</" + WRAPPER_ROOT.encode() + rb">\s*(?:(?:<!--.*?-->|<\?.*?\?>)\s*)*\Z",
    re.DOTALL,
)
"""The closing tag, then only blanks, comments and processing instructions (the epilog)."""
_HOSO_TAG = rb"<HOSO[ \t\r\n/>]"
_LISTING = f"{WRAPPER_ROOT}/THONGTINHOSO/DANHSACHHOSO/HOSO"
_HEADER = {
    name: re.compile(
        rb"<" + name.encode() + rb">\s*([^<]*?)\s*</" + name.encode() + rb">"
    )
    for name in ("MACSKCB", "NGAYLAP", "SOLUONGHOSO")
}


def facilities_of(path: Path, scan: Scan) -> frozenset[str]:
    """The facilities an input's claims come from, without reading it: an XML file's
    sender (MACSKCB, from the bytes its scan kept), a bulk folder's XML1 ``ma_cskcb``
    values (one column read). Empty when unknown (a refused or headless file)."""
    if path.is_dir():
        for suffix, read in ((".parquet", pl.read_parquet), (".csv", pl.read_csv)):
            table = path / f"xml1{suffix}"
            if table.is_file():
                try:
                    column = read(table, columns=["ma_cskcb"])["ma_cskcb"]
                except (pl.exceptions.PolarsError, OSError):
                    return frozenset()
                return frozenset(str(v) for v in column.drop_nulls().unique())
        return frozenset()
    found = _HEADER["MACSKCB"].search(scan.edges)
    return (
        frozenset({found.group(1).decode("utf-8", "replace")}) if found else frozenset()
    )


def scan_submission(path: Path, *, max_bytes: int) -> Scan:
    """Hash an input (and check an XML file's bytes) without parsing it."""
    if path.is_dir():
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        return Scan(file_sha256(path), size)
    size = path.stat().st_size
    return Scan(size=size, **_scan(path, size, max_bytes))


def read_submission(
    path: Path,
    *,
    max_bytes: int,
    scan: Scan | None = None,
    signatures: SignaturePolicy | None = None,
) -> Submission | FileFailure:
    """Read a submission: a ``.xml`` wrapper, or a folder of bulk tables.

    Args:
        path: the file or bulk folder.
        max_bytes: a larger XML file is refused whole (FILE_TOO_LARGE).
        scan: the input's first pass, when the caller already made it.
        signatures: when signatures are mandatory, the policy an XML file's
            CHUKYDONVI is checked against before its claims are read
            (:mod:`claims.intake.signature`); None: not checked.

    Example:
        >>> result = read_submission(Path("inbox/01030_20251006.xml"), max_bytes=2**31)
    """
    scan = scan or scan_submission(path, max_bytes=max_bytes)
    if path.is_dir():
        return read_bulk(path, scan.file_id, scan.size)
    if scan.problem is not None:
        return FileFailure(scan.file_id, path.name, scan.size, *scan.problem)
    if signatures is not None:
        header = _header(scan.edges)
        refused = check_signature(
            path,
            signatures,
            sender=header["macskcb"],
            ngay_lap=header["ngaylap"],
            tail=scan.edges,
        )
        if refused is not None:
            return FileFailure(scan.file_id, path.name, scan.size, *refused)
    batch = HosoBatch(scan.file_id)
    try:
        _stream(path, batch)
    except (ParseError, RuntimeError, TypeError, ValueError):
        batch.close()
        return FileFailure(scan.file_id, path.name, scan.size, *diagnose_wrapper(path))
    except BaseException:
        batch.close()
        raise
    misplaced = _misplaced(path, scan, batch.hoso_count())
    if misplaced is not None:
        batch.close()
        return FileFailure(scan.file_id, path.name, scan.size, *misplaced)
    meta = _meta(path, scan.file_id, scan.size, scan.edges, batch.hoso_count())
    result = batch.finish()
    return Submission(
        meta, result.tables, result.raw_docs, result.hoso_errors, _warnings(meta)
    )


def _misplaced(path: Path, scan: Scan, read: int) -> tuple[ReasonCode, str] | None:
    """Every HOSO element of the file is a claim of the listing, or the file is refused:
    a HOSO elsewhere would be declared and never read.

    The scan's tag count decides when it agrees; else (a comment or CDATA may name
    the tag) lxml counts the elements.
    """
    if scan.hoso_tags is None or scan.hoso_tags == read:
        return None
    present = count_elements(path, "HOSO")
    if present is None:
        return diagnose_wrapper(path)
    if present == read:
        return None
    msg = (
        f"tệp có {present} thẻ <HOSO> nhưng {read} nằm đúng vị trí {_LISTING}; "
        "hãy kiểm tra cấu trúc tệp"
    )
    return ReasonCode.FILE_STRUCTURE_INVALID, msg


def _stream(path: Path, batch: HosoBatch) -> None:
    """Feed the wrapper's FILEHOSO rows to the decoder in chunks of whole claims.

    Rows gather until about ``_FLUSH_BYTES`` of payload; then all but the last claim
    (which may continue in the next batch) are decoded. A small file is decoded in one
    call, so the per-call costs are paid once per file.
    """
    pending: list[pl.DataFrame] = []
    size = 0
    for name, frame in iter_wrapper(path, batch_bytes=64 << 20):
        if name == "hosos" and frame.height:
            batch.max_hoso = max(batch.max_hoso, last_index(frame[HOSO_INDEX]))
        if name != "files":
            continue
        pending.append(frame)
        size += int(frame["noidungfile"].str.len_bytes().sum() or 0)
        if size >= _FLUSH_BYTES:
            rows = pl.concat(pending)
            last = rows[HOSO_INDEX].max()
            decode_hoso_rows(batch, rows.filter(pl.col(HOSO_INDEX) != last))
            pending, size = [rows.filter(pl.col(HOSO_INDEX) == last)], 0
    if pending:
        decode_hoso_rows(batch, pl.concat(pending))


def _scan(path: Path, size: int, max_bytes: int) -> dict[str, Any]:
    """One pass over the bytes: sha256, UTF-8 validity, then the wrapper's shape.

    Returns the :class:`Scan` fields: the file id, the first and last 64 KiB (where the
    header values and the closing tag are), the problem that makes the wrapper
    unreadable, if any, and the number of ``<HOSO>`` start tags.
    """
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    first = last = b""
    utf8_error: str | None = None
    checking = size <= max_bytes
    tags = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            tags += _hoso_tags(chunk) + _hoso_tags(last[-5:] + chunk[:5])
            first = first or chunk
            last = (last + chunk[-_EDGE:])[-_EDGE:]
            if (
                checking
                and utf8_error is None
                and not (chunk.isascii() and not decoder.getstate()[0])
            ):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    utf8_error = f"byte không hợp lệ ở vị trí {exc.start} của khối"
    if not checking:
        msg = f"tệp {size} byte vượt giới hạn {max_bytes} byte; hãy chia nhỏ tệp"
        return {
            "file_id": digest.hexdigest(),
            "problem": (ReasonCode.FILE_TOO_LARGE, msg),
        }
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        utf8_error = utf8_error or "tệp kết thúc giữa một ký tự UTF-8"
    edges = first[:_EDGE] + b"\n" + last
    problem = _first_problem(first, utf8_error) or _last_problem(last)
    return {
        "file_id": digest.hexdigest(),
        "edges": edges,
        "problem": problem,
        "hoso_tags": tags,
    }


def _hoso_tags(data: bytes) -> int:
    """``<HOSO>`` start tags in ``data`` (RE2 over the bytes, without a copy: the tags'
    ``<`` are rare among base64 payloads, so this runs at memory speed)."""
    offsets = pa.py_buffer(struct.pack("<qq", 0, len(data)))
    array = pa.Array.from_buffers(
        pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)]
    )
    return int(pc.count_substring_regex(array, _HOSO_TAG)[0].as_py())


def _last_problem(last: bytes) -> tuple[ReasonCode, str] | None:
    """A wrapper that does not end with its closing tag was cut short.

    Comments and processing instructions may follow the root element (the epilog).
    """
    if _EPILOG.search(last):
        return None
    msg = (
        f"tệp bị cắt cụt: không kết thúc bằng </{WRAPPER_ROOT}>; hãy gửi lại tệp đầy đủ"
    )
    return ReasonCode.FILE_TRUNCATED, msg


def _first_problem(
    first: bytes, utf8_error: str | None
) -> tuple[ReasonCode, str] | None:
    head = first.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not head:
        return ReasonCode.FILE_EMPTY, "tệp rỗng, không có dữ liệu hồ sơ"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[1:2] == b"\x00":
        msg = "tệp mã hóa UTF-16; chuẩn QĐ 130 yêu cầu UTF-8"
        return ReasonCode.FILE_NOT_UTF8, msg
    if not head.startswith(b"<"):
        return (
            ReasonCode.FILE_NOT_XML,
            "tệp không phải XML (không bắt đầu bằng thẻ XML)",
        )
    if utf8_error is not None:
        return ReasonCode.FILE_NOT_UTF8, f"tệp không phải UTF-8 hợp lệ: {utf8_error}"
    root, dtd, complete = prolog(first)
    if dtd:
        msg = "tệp khai báo DTD/ENTITY; chuẩn QĐ 130 không cho phép, hãy xuất lại tệp"
        return ReasonCode.FILE_DTD_FORBIDDEN, msg
    if not complete:
        return (
            ReasonCode.FILE_NOT_XML,
            "phần mở đầu của tệp quá dài hoặc không kết thúc",
        )
    if root is None:
        return ReasonCode.FILE_NOT_XML, "tệp không phải XML (không tìm thấy thẻ mở)"
    if root != WRAPPER_ROOT:
        msg = f"thẻ gốc là <{root}>, phải là <{WRAPPER_ROOT}> theo QĐ 130"
        return ReasonCode.FILE_WRONG_ROOT, msg
    return None


def _header(edges: bytes) -> dict[str, str | None]:
    """MACSKCB, NGAYLAP and SOLUONGHOSO (lower-case keys) from a scan's edges."""
    values: dict[str, str | None] = {}
    for name, pattern in _HEADER.items():
        found = pattern.search(edges)
        values[name.lower()] = found.group(1).decode("utf-8") if found else None
    return values


def _meta(
    path: Path, file_id: str, size: int, edges: bytes, hoso_count: int
) -> FileMeta:
    values = _header(edges)
    declared = values["soluonghoso"]
    return FileMeta(
        file_id,
        path.name,
        "xml",
        size,
        sender=values["macskcb"],
        ngay_lap=values["ngaylap"],
        declared=int(declared) if declared and declared.isdigit() else None,
        hoso_count=hoso_count,
    )


def _warnings(meta: FileMeta) -> list[tuple[ReasonCode, str]]:
    warnings: list[tuple[ReasonCode, str]] = []
    if meta.declared != meta.hoso_count:
        msg = (
            f"SOLUONGHOSO khai báo {meta.declared}, thực tế có {meta.hoso_count} hồ sơ"
        )
        warnings.append((ReasonCode.COUNT_MISMATCH, msg))
    if not meta.sender:
        warnings.append((ReasonCode.SENDER_MISSING, "thiếu MACSKCB của đơn vị gửi"))
    return warnings
