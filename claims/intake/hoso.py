"""Decode the FILEHOSO payloads of a wrapper and parse them table by table.

Each payload is base64 of one inner XML document. A payload that does not decode, is not
UTF-8, declares a DTD, has the wrong root, or does not end with its root's closing tag
(cut short) rejects its claim (HOSO) only. Documents of a table are parsed together by the
fast reader; every document must give as many rows as it holds row elements (the reader
can stop at a cut without complaint). When a batch fails, or a document's rows and
elements differ, the document is retried alone and, failing that, read by lxml; a
document neither reads, or whose row elements lie outside the table's row path, rejects
its claim. Every HOSO of the file ends with an XML1 row or a claim error.
"""

from __future__ import annotations

import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa

from claims.errors import ReasonCode
from claims.intake.submission import empty_table
from claims.intake.xmlfast import (
    DOC_INDEX,
    HOSO_INDEX,
    ROW_INDEX,
    ParseError,
    empty_rows,
    parse_body,
    parse_docs,
)
from claims.intake.xmlsafe import (
    MisplacedRowsError,
    check_doc,
    has_dtd,
    parse_doc,
    root_name,
)
from claims.xml130 import PARSED_TABLES

_ROOTS = {t: s.root for t, s in PARSED_TABLES.items()}
_ROOT_TAG = r"^\x{FEFF}?\s*(?:<\?xml[^?]*\?>\s*)?(?:<!--(?s:.*?)-->\s*)*<([A-Za-z_][\w.:-]*)[\s>/]"
"""The first element's name, after an optional declaration and comments (a DTD stops it)."""
_NAME = r"[A-Za-z_][\w.:-]*"
_EPILOG = r"(?:[ \t\r\n]|<!--(?s:.*?)-->|<\?(?s:.*?)\?>)*\z"
_LAST_TAG = rf"</({_NAME})[ \t\r\n]*>{_EPILOG}"
_LAST_EMPTY = rf"<({_NAME})[^<>]*/>{_EPILOG}"
"""The name of the element a document ends with (closing tag, or an empty element),
when only blanks, comments and PIs follow: a document cut short ends elsewhere. Anchored
at the end, so the regex reads the text backwards."""
_FAST_ERRORS = (ParseError, RuntimeError, TypeError, ValueError)

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


def _parse_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="giamdinh-parse")


@dataclass(frozen=True)
class HosoResult:
    """Everything read from the claims of one file."""

    tables: dict[str, pl.DataFrame]
    raw_docs: pl.DataFrame
    hoso_errors: pl.DataFrame


@dataclass
class HosoBatch:
    """Accumulates parsed frames and claim errors of one file."""

    file_id: str
    frames: dict[str, list[pl.DataFrame]] = field(default_factory=dict)
    errors: list[tuple[int, str, ReasonCode, str]] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)
    """Claims that carried an XML1 payload (readable or not)."""
    max_hoso: int = -1
    pending: list[tuple[str, Future[pl.DataFrame]]] = field(default_factory=list)
    pool: ThreadPoolExecutor = field(default_factory=lambda: _parse_pool())
    """Parses documents while the wrapper streams on (xml2arrow releases the GIL);
    owned by this batch and shut down by :meth:`finish` or :meth:`close`."""

    def reject(self, hoso: int, table: str, code: ReasonCode, message: str) -> None:
        """Record a claim-level error."""
        self.errors.append((hoso, table, code, message))

    def hoso_count(self) -> int:
        """Number of HOSO elements seen (by their indices)."""
        return self.max_hoso + 1

    def close(self) -> None:
        """Stop the parse pool (pending parses are cancelled)."""
        self.pool.shutdown(wait=True, cancel_futures=True)

    def finish(self) -> HosoResult:
        """Frames per table and claim errors, with missing XML1 flagged."""
        try:
            for table, job in self.pending:
                self.frames.setdefault(table, []).append(job.result())
        finally:
            self.close()
        self.pending.clear()
        tables = {t: self._table(t) for t in PARSED_TABLES}
        self._reject_unread(tables["XML1"])
        raw = pl.DataFrame(schema=RAW_SCHEMA)  # every table is parsed now
        errors = pl.DataFrame(
            [(self.file_id, h, t, str(c), m) for h, t, c, m in sorted(self.errors)],
            schema=ERROR_SCHEMA,
            orient="row",
        )
        return HosoResult(tables, raw, errors)

    def _reject_unread(self, xml1: pl.DataFrame) -> None:
        """Every HOSO has an XML1 row or an XML1 error: a claim read without either
        would be receipted and never stored."""
        slots = pl.int_range(self.max_hoso + 1, dtype=pl.UInt32, eager=True)
        flagged = [h for h, t, _, _ in self.errors if t == "XML1"]
        missing = (
            slots.alias("hoso_idx")
            .to_frame()
            .join(xml1.select("hoso_idx"), on="hoso_idx", how="anti")
            .join(
                pl.DataFrame({"hoso_idx": flagged}, schema={"hoso_idx": pl.UInt32}),
                on="hoso_idx",
                how="anti",
            )
        )
        for hoso in missing["hoso_idx"].to_list():
            if hoso in self.seen:  # a payload came but no row: never kept silently
                msg = "nội dung XML1 không có bản ghi TONG_HOP đọc được"
                self.reject(hoso, "XML1", ReasonCode.HOSO_XML_INVALID, msg)
            else:
                msg = "hồ sơ không có bảng XML1 (TONG_HOP)"
                self.reject(hoso, "XML1", ReasonCode.HOSO_NO_XML1, msg)

    def _table(self, table: str) -> pl.DataFrame:
        parts = self.frames.get(table)
        if not parts:
            return empty_table(table)
        return pl.concat(parts)


def decode_hoso_rows(batch: HosoBatch, rows: pl.DataFrame) -> None:
    """Decode one batch of FILEHOSO rows; their documents are parsed on the pool.

    Base64, UTF-8, the XML declaration, DTDs and the root element are checked
    column-wise; Python only words the message of a rejected payload. Parsing runs
    while the caller decodes the next batch; ``HosoBatch.finish`` waits for it.
    """
    frame = _decoded(rows)
    batch.max_hoso = max(batch.max_hoso, last_index(frame["hoso"]))
    batch.seen.update(frame.filter(pl.col("table") == "XML1")["hoso"].to_list())
    faults = frame.filter(pl.col("fault").is_not_null())
    for hoso, table, fault, text in faults.select(
        "hoso", "table", "fault", "text"
    ).iter_rows():
        batch.reject(hoso, table or "?", *_fault_message(fault, table, text))
    good = frame.filter(pl.col("fault").is_null())
    for (table,), docs in good.partition_by("table", as_dict=True).items():
        job = batch.pool.submit(_parse_table, batch, table, docs["hoso"], docs["text"])
        batch.pending.append((str(table), job))


def last_index(indices: pl.Series) -> int:
    """The largest claim index of a batch (-1 for none)."""
    found = indices.cast(pl.Int64).max()
    return found if isinstance(found, int) else -1


def _decoded(rows: pl.DataFrame) -> pl.DataFrame:
    """Column-wise decoding: ``text`` is the document from its root on, ``fault`` why not."""
    table = pl.col("loaihoso").str.strip_chars().str.to_uppercase()
    payload = pl.col("noidungfile")
    frame = rows.select(
        pl.col(HOSO_INDEX).cast(pl.UInt32).alias("hoso"),
        table.alias("table"),
        payload.str.decode("base64", strict=False).alias("binary"),
        payload,
    )
    retry = frame["binary"].is_null() & frame["noidungfile"].is_not_null()
    if retry.any():  # line-wrapped base64 (76 characters per line) is common
        unwrapped = payload.str.replace_all(r"\s", "").str.decode(
            "base64", strict=False
        )
        fixed = frame.filter(retry).select(unwrapped)["noidungfile"]
        frame = frame.with_columns(frame["binary"].scatter(retry.arg_true(), fixed))
    frame = frame.drop("noidungfile")
    # the declaration may stay: the fast reader takes one in front of each document
    text = pl.col("text")
    expected = pl.col("table").replace_strict(
        _ROOTS, default=None, return_dtype=pl.String
    )
    last = pl.coalesce(text.str.extract(_LAST_TAG, 1), text.str.extract(_LAST_EMPTY, 1))
    fault = (
        pl.when(~pl.col("table").is_in(list(_ROOTS)).fill_null(value=False))
        .then(pl.lit("unknown"))
        .when(~pl.struct("hoso", "table").is_first_distinct())
        .then(pl.lit("duplicate"))
        .when(pl.col("binary").is_null())
        .then(pl.lit("base64"))
        .when(text.is_null())
        .then(pl.lit("utf8"))
        .when(text.str.extract(_ROOT_TAG, 1).ne_missing(expected))
        .then(pl.lit("root"))
        .when(last.ne_missing(expected))
        .then(pl.lit("cut"))
    )
    return (
        frame.with_columns(_as_text(frame["binary"]).alias("text"))
        .with_columns(fault.alias("fault"))
        .drop("binary")
    )


def _as_text(binary: pl.Series) -> pl.Series:
    """Binary documents as text; a document that is not UTF-8 becomes null."""
    try:
        return binary.cast(pl.String)
    except pl.exceptions.ComputeError:  # rare: find the culprits one by one
        return pl.Series([_utf8_or_none(v) for v in binary.to_list()], dtype=pl.String)


def _utf8_or_none(value: bytes | None) -> str | None:
    if value is None:
        return None
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _fault_message(
    fault: str, table: str | None, text: str | None
) -> tuple[ReasonCode, str]:
    """Words for a rejected payload (only rejected payloads come here)."""
    match fault:
        case "unknown":
            return (
                ReasonCode.HOSO_UNKNOWN_TABLE,
                f"LOAIHOSO '{table or ''}' không thuộc XML1–XML15",
            )
        case "cut":
            return _cut(str(table), text or "")
        case "duplicate":
            msg = f"bảng {table} xuất hiện nhiều lần trong một hồ sơ"
            return ReasonCode.HOSO_DUPLICATE_TABLE, msg
        case "base64":
            msg = f"NOIDUNGFILE của {table} không phải base64 hợp lệ"
            return ReasonCode.HOSO_BASE64_INVALID, msg
        case "utf8":
            return ReasonCode.HOSO_XML_INVALID, f"nội dung {table} không phải UTF-8"
        case "dtd":
            msg = f"nội dung {table} khai báo DTD/ENTITY (không được phép)"
            return ReasonCode.HOSO_DTD_FORBIDDEN, msg
    doc = (text or "").encode("utf-8")
    if has_dtd(doc):  # a DTD before the root is why the root is not first
        msg = f"nội dung {table} khai báo DTD/ENTITY (không được phép)"
        return ReasonCode.HOSO_DTD_FORBIDDEN, msg
    return _wrong_root(str(table), doc)


def _cut(table: str, text: str) -> tuple[ReasonCode, str]:
    """A document that does not end with its root's closing tag."""
    root = _ROOTS[table]
    if f"</{root}" in text:
        msg = f"nội dung {table} có dữ liệu sau thẻ đóng </{root}>"
        return ReasonCode.HOSO_XML_INVALID, msg
    msg = (
        f"nội dung {table} bị cắt cụt: không kết thúc bằng </{root}>; "
        "hãy gửi lại hồ sơ đầy đủ"
    )
    return ReasonCode.HOSO_TRUNCATED, msg


def _wrong_root(table: str, doc: bytes) -> tuple[ReasonCode, str]:
    msg = f"thẻ gốc của {table} là <{root_name(doc)}>, phải là <{_ROOTS[table]}>"
    return ReasonCode.HOSO_WRONG_ROOT, msg


def _parse_table(
    batch: HosoBatch, table: str, hosos: pl.Series, texts: pl.Series
) -> pl.DataFrame:
    """Parse the documents of a table at once; a document the batch cannot read, whose
    rows differ from the row elements it holds, or that has more than one root element
    (the reader numbers root elements, so it would shift the documents after it), is
    read alone (slow path)."""
    spec = PARSED_TABLES[table]
    elements = _tags(texts, spec.row_element)
    roots = elements if spec.row_element == spec.root else _tags(texts, spec.root)
    one_root = roots == 1
    every = pl.int_range(texts.len(), dtype=pl.UInt32, eager=True)
    fast = every.filter(one_root)
    if fast.len() == texts.len():
        frame, bad = _parse_fast(table, texts, elements)
    else:
        frame, bad = _parse_fast(
            table, texts.filter(one_root), elements.filter(one_root)
        )
    retry = fast.gather(bad).append(every.filter(~one_root))
    frame = frame.with_columns(
        hosos.gather(fast.gather(frame[DOC_INDEX])).alias(DOC_INDEX)
    )
    if retry.len():
        alone = _parse_one_by_one(
            batch,
            table,
            hosos.gather(retry),
            texts.gather(retry),
            elements.gather(retry),
        )
        frame = pl.concat([frame, alone]).sort(DOC_INDEX, ROW_INDEX)
    return _with_keys(batch.file_id, frame)


def _tags(texts: pl.Series, name: str) -> pl.Series:
    """Per document, how many start tags of element ``name`` its text holds. Comments
    or CDATA naming the element count too: then the document is read alone, and lxml,
    which sees only elements, decides."""
    return texts.str.count_matches(rf"<{re.escape(name)}[ \t\r\n/>]").cast(pl.UInt32)


def _parse_fast(
    table: str, texts: pl.Series, elements: pl.Series
) -> tuple[pl.DataFrame, pl.Series]:
    """The fast reader on documents of one root each: rows (``<doc>`` the position in
    ``texts``) and the positions of the documents to read alone."""
    every = pl.int_range(texts.len(), dtype=pl.UInt32, eager=True)
    spec = PARSED_TABLES[table]
    try:
        frame = parse_body(table, _wrapped_body(texts))
    except _FAST_ERRORS:
        return empty_rows(spec), every
    if last_index(frame[DOC_INDEX]) >= texts.len():  # not with one root each
        return empty_rows(spec), every
    parsed = frame.group_by(DOC_INDEX).len("rows")
    docs = pl.DataFrame({DOC_INDEX: every, "elements": elements}).join(
        parsed, on=DOC_INDEX, how="left"
    )
    rows = pl.col("rows").fill_null(0)
    wrong = rows != pl.col("elements")
    if not spec.row_path:  # a one-record table: exactly one row per document
        wrong = wrong | (rows != 1)
    bad = docs.filter(wrong)[DOC_INDEX]
    return frame.filter(~pl.col(DOC_INDEX).is_in(bad.implode())), bad


def _wrapped_body(texts: pl.Series) -> bytes:
    """``<R>`` + every document + ``</R>`` as one bytes object, in a single copy.

    The documents already lie back to back in the Arrow string buffer; slicing it
    avoids building the body through Python strings (a transcoding of every byte).
    """
    array = texts.to_arrow(compat_level=pl.CompatLevel.oldest())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    offsets = memoryview(array.buffers()[1]).cast("q")
    start, end = offsets[array.offset], offsets[array.offset + len(array)]
    return b"".join((b"<R>", memoryview(array.buffers()[2])[start:end], b"</R>"))


def _parse_one_by_one(
    batch: HosoBatch,
    table: str,
    hosos: pl.Series,
    texts: pl.Series,
    elements: pl.Series,
) -> pl.DataFrame:
    parts: list[pl.DataFrame] = []
    for hoso, text, count in zip(
        hosos.to_list(), texts.to_list(), elements.to_list(), strict=True
    ):
        read = _parse_alone(table, text.encode("utf-8"), count)
        if isinstance(read, tuple):
            batch.reject(hoso, table, *read)
            continue
        parts.append(read.with_columns(pl.lit(hoso, pl.UInt32).alias(DOC_INDEX)))
    return pl.concat(parts) if parts else empty_rows(PARSED_TABLES[table])


def _parse_alone(
    table: str, doc: bytes, elements: int
) -> pl.DataFrame | tuple[ReasonCode, str]:
    """One document: the fast reader when it gives a row per row element, else lxml
    (which refuses what is not well-formed and row elements off the row path)."""
    one_record = not PARSED_TABLES[table].row_path
    try:
        frame = parse_docs(table, [doc])
    except _FAST_ERRORS:
        pass
    else:
        if frame.height == elements and (frame.height == 1 or not one_record):
            return frame
    try:
        return parse_doc(table, doc)
    except MisplacedRowsError as exc:
        return ReasonCode.HOSO_ROWS_MISPLACED, str(exc)
    except Exception:  # any failure of lxml is the document's fault
        reason = check_doc(doc) or "không đọc được"
        msg = f"nội dung {table} không phải XML hợp lệ: {reason}"
        return ReasonCode.HOSO_XML_INVALID, msg


def _with_keys(file_id: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Name the claim index (held in ``<doc>``) and number the rows from 1."""
    spec_columns = [c for c in frame.columns if c not in (DOC_INDEX, ROW_INDEX)]
    return frame.select(
        pl.lit(file_id).alias("file_id"),
        pl.col(DOC_INDEX).cast(pl.UInt32).alias("hoso_idx"),
        (pl.col(ROW_INDEX) + 1).cast(pl.UInt32).alias("line_no"),
        *spec_columns,
    )
