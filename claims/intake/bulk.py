"""Bulk loads: a folder holding the same tables as Parquet or CSV (``xml1.parquet`` …).

Columns are the lower-cased element names; every value is read as text and validated
like XML input. The line tables carry ``ma_cskcb`` beside ``ma_lk`` (two facilities may
reuse a MA_LK); a line whose (ma_cskcb, ma_lk) has no XML1 row is kept and quarantined
as an orphan by validation.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from claims.errors import ReasonCode
from claims.intake.hoso import ERROR_SCHEMA, RAW_SCHEMA
from claims.intake.submission import (
    FileFailure,
    FileMeta,
    Submission,
    clean,
    empty_table,
)
from claims.xml130 import LINE_TABLES, PARSED_TABLES


def _table_file(folder: Path, table: str) -> Path | None:
    for suffix in (".parquet", ".csv"):
        path = folder / f"{table.lower()}{suffix}"
        if path.is_file():
            return path
    return None


def _read_text(path: Path) -> pl.DataFrame:
    if path.suffix == ".parquet":
        frame = pl.read_parquet(path)
        return frame.select(pl.all().cast(pl.String))
    return pl.read_csv(path, infer_schema=False)


def read_bulk(folder: Path, file_id: str, size: int) -> Submission | FileFailure:
    """Read a bulk folder into the same raw frames as an XML submission."""
    xml1_path = _table_file(folder, "XML1")
    if xml1_path is None:
        msg = "thiếu tệp xml1.parquet hoặc xml1.csv trong thư mục dữ liệu lô"
        return FileFailure(
            file_id, folder.name, size, ReasonCode.BULK_TABLE_INVALID, msg
        )
    try:
        # a table without MA_LK (XML12) cannot be linked to a claim: not read
        frames = {
            t: _read_text(p)
            for t, spec in PARSED_TABLES.items()
            if "ma_lk" in spec.columns and (p := _table_file(folder, t))
        }
    except (pl.exceptions.PolarsError, OSError) as exc:
        msg = f"không đọc được bảng dữ liệu lô: {exc}"
        return FileFailure(
            file_id, folder.name, size, ReasonCode.BULK_TABLE_INVALID, msg
        )
    problem = _missing_keys(frames)
    if problem:
        return FileFailure(
            file_id, folder.name, size, ReasonCode.BULK_TABLE_INVALID, problem
        )
    xml1 = _shape("XML1", frames["XML1"], file_id).with_columns(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("hoso_idx")
    )
    claims = xml1.select("hoso_idx", "ma_cskcb", "ma_lk")
    tables = {"XML1": xml1}
    for table in LINE_TABLES:
        tables[table] = _lines(table, frames.get(table), claims, file_id)
    meta = FileMeta(file_id, folder.name, "bulk", size, hoso_count=xml1.height)
    raw = pl.DataFrame(schema=RAW_SCHEMA)
    return Submission(meta, tables, raw, pl.DataFrame(schema=ERROR_SCHEMA))


def _missing_keys(frames: dict[str, pl.DataFrame]) -> str | None:
    for table, frame in frames.items():
        missing = {"ma_lk", "ma_cskcb"} - set(frame.columns)
        if missing:
            return f"bảng {table} thiếu cột {', '.join(sorted(missing))}"
    return None


def _shape(table: str, frame: pl.DataFrame, file_id: str) -> pl.DataFrame:
    """Spec columns in order (absent optional columns as null) plus the row keys."""
    present = [
        clean(f)
        if f.column in frame.columns
        else pl.lit(None, pl.String).alias(f.column)
        for f in PARSED_TABLES[table].fields
    ]
    return frame.select(
        pl.lit(file_id).alias("file_id"),
        pl.lit(None, pl.UInt32).alias("hoso_idx"),
        pl.lit(1, pl.UInt32).alias("line_no"),
        *present,
    )


def _lines(
    table: str, frame: pl.DataFrame | None, claims: pl.DataFrame, file_id: str
) -> pl.DataFrame:
    if frame is None:
        return empty_table(table)
    keyed = frame.with_columns(pl.int_range(pl.len()).alias("_order")).join(
        claims, on=["ma_cskcb", "ma_lk"], how="left", maintain_order="left"
    )
    line_no = pl.int_range(1, pl.len() + 1, dtype=pl.UInt32).over(
        "hoso_idx", order_by="_order"
    )
    keyed = keyed.with_columns(line_no.alias("_line"))
    return _shape(table, keyed, file_id).with_columns(
        keyed["hoso_idx"].alias("hoso_idx"), keyed["_line"].alias("line_no")
    )
