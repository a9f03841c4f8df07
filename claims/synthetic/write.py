"""Write synthetic tables as GIAMDINHHS XML submissions or as bulk Parquet tables.

XML is built with vectorized string expressions: each row's elements with
``concat_str`` (text escaped, empty element for null), rows joined per claim, the inner
document base64-encoded, FILEHOSO elements joined per claim into a HOSO and HOSOs per
facility and day into one wrapper (§1.2, as the example submission). Only the final
write is a loop, one file per facility per day.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from claims.synthetic.documents import WRITTEN
from claims.synthetic.faults import ORPHAN_SUFFIX
from claims.synthetic.sign import fixed_signer, sign_wrapper
from claims.xml130 import PARSED_TABLES, WRAPPER_ROOT, TableSpec

DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'
NAMESPACES = (
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
)
TABLES = ("XML1", "XML2", "XML3", "XML4", "XML5", *WRITTEN)
"""The tables the generator writes, the documents of
:mod:`claims.synthetic.documents` among them."""
BATCH_CLAIMS = 5_000
"""Claims turned into XML at once (bounds memory: inpatient claims are large)."""


def claim_key(table: str) -> pl.Expr:
    """The MA_LK of the claim a row belongs to (an orphan line keeps its claim's)."""
    ma_lk = pl.col("ma_lk")
    return ma_lk if table == "XML1" else ma_lk.str.strip_suffix(ORPHAN_SUFFIX)


def claim_day(key: pl.Expr) -> pl.Expr:
    """``yyyyMMdd`` of the submission day, held in the generator's MA_LK."""
    return key.str.slice(5, 8)


def _escaped(column: str) -> pl.Expr:
    return (
        pl.col(column)
        .fill_null("")
        .str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
    )


def _row_xml(spec: TableSpec) -> pl.Expr:
    """One row's elements, in spec order (``<X></X>`` when empty)."""
    parts: list[pl.Expr] = []
    for (
        field
    ) in spec.fields:  # one expression per column, evaluated for all rows at once
        parts += [
            pl.lit(f"<{field.element}>"),
            _escaped(field.column),
            pl.lit(f"</{field.element}>"),
        ]
    return pl.concat_str(parts)


def _file_elements(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """``ma_cskcb, key, order, xml``: the FILEHOSO element of each claim for ``table``."""
    spec = PARSED_TABLES[table]
    rows = frame.select(
        pl.col("ma_cskcb"), claim_key(table).alias("key"), _row_xml(spec).alias("row")
    )
    if spec.row_path:
        wrap = [f"<{e}>" for e in (spec.root, *spec.row_path[:-1])]
        row = spec.row_element
        rows = rows.with_columns(
            pl.concat_str(pl.lit(f"<{row}>"), "row", pl.lit(f"</{row}>")).alias("row")
        )
        rows = rows.group_by("ma_cskcb", "key", maintain_order=True).agg(
            pl.col("row").str.join("")
        )
        head, tail = (
            "".join(wrap),
            "".join(f"</{e}>" for e in reversed((spec.root, *spec.row_path[:-1]))),
        )
    else:
        head, tail = f"<{spec.root}>", f"</{spec.root}>"
    document = pl.concat_str(pl.lit(DECLARATION + head), "row", pl.lit(tail))
    return rows.select(
        "ma_cskcb",
        "key",
        pl.lit(TABLES.index(table)).alias("order"),
        pl.concat_str(
            pl.lit(f"<FILEHOSO><LOAIHOSO>{table}</LOAIHOSO><NOIDUNGFILE>"),
            document.str.encode("base64"),
            pl.lit("</NOIDUNGFILE></FILEHOSO>"),
        ).alias("xml"),
    )


def submissions(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """One row per facility and day: ``ma_cskcb, day, count, body`` (the whole file)."""
    files = pl.concat([_file_elements(t, tables[t]) for t in TABLES])
    hoso = (
        files.sort("ma_cskcb", "key", "order")
        .group_by("ma_cskcb", "key", maintain_order=True)
        .agg(pl.col("xml").str.join(""))
        .with_columns(claim_day(pl.col("key")).alias("day"))
    )
    hoso = hoso.with_columns(
        pl.concat_str(pl.lit("<HOSO>"), "xml", pl.lit("</HOSO>")).alias("xml")
    )
    grouped = hoso.group_by("ma_cskcb", "day", maintain_order=True).agg(
        pl.len().alias("count"), pl.col("xml").str.join("")
    )
    body = pl.concat_str(
        pl.lit(f"{DECLARATION}<{WRAPPER_ROOT} {NAMESPACES}><THONGTINDONVI><MACSKCB>"),
        "ma_cskcb",
        pl.lit("</MACSKCB></THONGTINDONVI><THONGTINHOSO><NGAYLAP>"),
        "day",
        pl.lit("</NGAYLAP><SOLUONGHOSO>"),
        pl.col("count").cast(pl.String),
        pl.lit("</SOLUONGHOSO><DANHSACHHOSO>"),
        "xml",
        pl.lit(
            f"</DANHSACHHOSO></THONGTINHOSO><CHUKYDONVI></CHUKYDONVI></{WRAPPER_ROOT}>"
        ),
    )
    return grouped.select("ma_cskcb", "day", "count", body.alias("body")).sort(
        "ma_cskcb", "day"
    )


def _batches(xml1: pl.DataFrame) -> list[list[str]]:
    """Facilities grouped so that a batch holds about :data:`BATCH_CLAIMS` claims."""
    counts = xml1.group_by("ma_cskcb").len().sort("ma_cskcb")
    batches: list[list[str]] = [[]]
    size = 0
    for code, n in counts.iter_rows():  # one step per facility
        if size >= BATCH_CLAIMS:
            batches.append([])
            size = 0
        batches[-1].append(code)
        size += n
    return [b for b in batches if b]


def write_xml_tables(
    tables: dict[str, pl.DataFrame], out: Path, *, sign: bool = False
) -> list[Path]:
    """Write ``out/<MA_CSKCB>_<yyyymmdd>.xml`` for every facility and day in ``tables``.

    ``sign``: each file carries the test key's XML signature in CHUKYDONVI
    (:mod:`claims.synthetic.sign`; deterministic, streamed over the bytes)."""
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for batch in _batches(tables["XML1"]):
        part = {t: f.filter(pl.col("ma_cskcb").is_in(batch)) for t, f in tables.items()}
        for code, day, _, body in submissions(part).iter_rows():  # one file each
            path = out / f"{code}_{day}.xml"
            data = body.encode("utf-8")
            pieces = sign_wrapper(data, fixed_signer()) if sign else [data]
            with path.open("wb") as handle:
                for piece in pieces:
                    handle.write(piece)
            paths.append(path)
    return sorted(paths)


class ParquetSink:
    """Bulk tables ``out/bulk_<yyyymmdd>/xml1.parquet`` … appended chunk by chunk."""

    def __init__(self, out: Path) -> None:
        """Write under ``out`` (created when the first rows arrive)."""
        self.out = out
        self._writers: dict[tuple[str, str], Any] = {}

    def add(self, tables: dict[str, pl.DataFrame]) -> None:
        """Append the rows of ``tables``, split by submission day."""
        for table in TABLES:
            frame = tables[table].with_columns(
                claim_day(claim_key(table)).alias("_day")
            )
            for day in sorted(frame["_day"].unique().to_list()):  # a handful of days
                rows = frame.filter(pl.col("_day") == day).drop("_day")
                self._writer(day, table, rows).write_table(rows.to_arrow())

    def _writer(self, day: str, table: str, rows: pl.DataFrame) -> Any:
        key = (day, table)
        if key not in self._writers:
            folder = self.out / f"bulk_{day}"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{table.lower()}.parquet"
            self._writers[key] = pq.ParquetWriter(
                path, rows.to_arrow().schema, compression="zstd"
            )
        return self._writers[key]

    def close(self, days: list[str], columns: dict[str, list[str]]) -> list[Path]:
        """Close every file; a table with no rows on a day still gets an empty file."""
        for day in days:
            for table in TABLES:
                if (day, table) not in self._writers:
                    empty = pl.DataFrame(
                        schema=dict.fromkeys(columns[table], pl.String)
                    )
                    self._writer(day, table, empty).write_table(empty.to_arrow())
        paths = []
        for (day, table), writer in sorted(self._writers.items()):
            writer.close()
            paths.append(self.out / f"bulk_{day}" / f"{table.lower()}.parquet")
        return sorted(paths)


def table_columns() -> dict[str, list[str]]:
    """Columns of each synthetic table: spec columns, ``ma_cskcb`` first on line tables."""
    return {
        t: list(s.columns)
        if t == "XML1"
        else ["ma_cskcb", *(c for c in s.columns if c != "ma_cskcb")]
        for t, s in PARSED_TABLES.items()
        if t in TABLES
    }
