"""Type and check the rows of one catalog version against its schema.

Rows arrive as text (``rows.csv``, or ``rows.parquet`` cast to text), are matched with
a regular expression before every cast (so ``12.3456`` is an error, not a rounded
price) and checked: columns, required values, ranges, choices, validity windows, ICD
codes and overlapping rows of one key. The first bad row raises a :class:`CatalogError`
naming the file, the row (1 = the first row under the header) and the value.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from catalogs.errors import CatalogError, CatalogIntegrityError
from catalogs.schema import CatalogSchema, Column

ROW = "_row"


@dataclass(frozen=True)
class Window:
    """A release's effective window (``to`` None: open)."""

    start: date
    end: date | None


def type_rows(
    raw: pl.DataFrame,
    schema: CatalogSchema,
    path: Path,
    *,
    window: Window,
    icd_codes: Collection[str] | None = None,
) -> pl.DataFrame:
    """Typed rows of one version, or a :class:`CatalogError` naming the first bad row.

    Args:
        raw: the rows file as text columns (empty cells are null).
        schema: the catalog's row schema.
        path: the rows file, named in errors.
        window: the release's effective window; a row wholly outside it is an error.
        icd_codes: known ICD-10 codes, to check columns marked ``icd`` (None: unchecked).
    """
    _check_columns(raw, schema, path)
    frame = raw.with_row_index(ROW, offset=1).with_columns(
        pl.lit(None, pl.String()).alias(c.name)
        for c in schema.all_columns
        if c.name not in raw.columns
    )
    typed = frame.select(ROW, *(_parse(c) for c in schema.all_columns))
    for column in schema.all_columns:
        _check_parsed(frame, typed, column, path)
        _check_values(typed, column, path, icd_codes)
    _check_windows(typed, path, window)
    _check_overlaps(typed, schema, path)
    return typed.drop(ROW)


def _check_columns(raw: pl.DataFrame, schema: CatalogSchema, path: Path) -> None:
    unknown = [c for c in raw.columns if c not in schema.names]
    if unknown:
        msg = (
            f"unknown column(s) {', '.join(unknown)} for catalog {schema.id!r}; "
            f"the columns are: {', '.join(schema.names)}"
        )
        raise CatalogIntegrityError(msg, path=path)
    missing = [c.name for c in schema.all_columns if c.required and c.name not in raw]
    if missing:
        msg = (
            f"required column(s) {', '.join(missing)} missing for catalog {schema.id!r}"
        )
        raise CatalogIntegrityError(msg, path=path)


def _pattern(dtype: pl.DataType) -> tuple[str, str] | None:
    """The text a value of ``dtype`` must match, and how to say so."""
    if isinstance(dtype, pl.Decimal):
        scale = dtype.scale
        return (
            rf"^-?\d{{1,30}}(\.\d{{1,{scale}}})?$",
            f"a number with ≤ {scale} decimals",
        )
    if dtype == pl.Int64():
        return r"^-?\d{1,18}$", "a whole number"
    if dtype == pl.Date():
        return r"^\d{4}-\d{2}-\d{2}$", "a date YYYY-MM-DD"
    if dtype == pl.Boolean():
        return r"^(?i:true|false|1|0)$", "true or false"
    return None


def _parse(column: Column) -> pl.Expr:
    stripped = pl.col(column.name).str.strip_chars()
    text = pl.when(stripped != "").then(stripped)  # a blank cell is empty
    pattern = _pattern(column.dtype)
    if pattern is None:
        return text.alias(column.name)
    ok = text.str.contains(pattern[0])
    if column.dtype == pl.Date():
        value = text.str.to_date("%Y-%m-%d", strict=False)
    elif column.dtype == pl.Boolean():
        value = text.str.to_lowercase().is_in(["true", "1"])
    else:
        value = text.cast(column.dtype, strict=False)
    return pl.when(ok).then(value).alias(column.name)


def _first(frame: pl.DataFrame, bad: pl.Expr) -> tuple[int, int] | None:
    """The first row number where ``bad`` holds, and how many rows it holds on."""
    hits = frame.filter(bad)[ROW]
    return (int(hits[0]), hits.len()) if hits.len() else None


def _raise(
    found: tuple[int, int], path: Path, message: str, *, value: object = None
) -> None:
    row, count = found
    more = f" (and {count - 1} more row(s))" if count > 1 else ""
    shown = f" '{value}'" if value is not None else ""
    msg = f"{message}{shown}{more}"
    raise CatalogError(msg, path=path, row=row)


def _check_parsed(
    raw: pl.DataFrame, typed: pl.DataFrame, column: Column, path: Path
) -> None:
    name = column.name
    given = raw[name].str.strip_chars().is_not_null() & (
        raw[name].str.strip_chars() != ""
    )
    bad = given & typed[name].is_null()
    found = _first(raw.with_columns(_bad=bad), pl.col("_bad"))
    if found:
        pattern = _pattern(column.dtype)
        expected = pattern[1] if pattern else "text"
        value = raw[name][found[0] - 1]
        _raise(found, path, f"{name} must be {expected}, not", value=value)
    if column.required:
        found = _first(typed, pl.col(name).is_null())
        if found:
            _raise(found, path, f"{name} is required and empty")


def _check_values(
    typed: pl.DataFrame,
    column: Column,
    path: Path,
    icd_codes: Collection[str] | None,
) -> None:
    name = column.name
    value = pl.col(name)
    rules: list[tuple[pl.Expr, str]] = []
    if column.check == "positive":
        rules.append((value <= 0, f"{name} must be greater than 0, not"))
    elif column.check == "nonnegative":
        rules.append((value < 0, f"{name} must not be negative, not"))
    elif column.check == "percent":
        rules.append(
            (~value.is_between(1, 100), f"{name} must be a percent 1–100, not")
        )
    if column.choices:
        allowed = ", ".join(column.choices)
        rules.append(
            (~value.is_in(column.choices), f"{name} must be one of {allowed}, not")
        )
    if column.icd and icd_codes is not None:
        known = pl.Series(list(icd_codes), dtype=pl.String())
        rules.append(
            (~value.is_in(known), f"{name} is not an ICD-10 code known to icd10:")
        )
    for bad, message in rules:
        found = _first(typed, bad.fill_null(False))
        if found:
            _raise(found, path, message, value=typed[name][found[0] - 1])


def _check_windows(typed: pl.DataFrame, path: Path, window: Window) -> None:
    start, end = pl.col("valid_from"), pl.col("valid_to")
    found = _first(typed, (start > end).fill_null(False))
    if found:
        row = typed.row(found[0] - 1, named=True)
        message = f"valid_from {row['valid_from']} is after valid_to {row['valid_to']}"
        _raise(found, path, message)
    outside = end < window.start
    if window.end is not None:
        outside = outside | (start > window.end)
    found = _first(typed, outside.fill_null(False))
    if found:
        span = f"{window.start}…{window.end or ''}"
        row = typed.row(found[0] - 1, named=True)
        message = (
            f"validity {row['valid_from']}…{row['valid_to'] or ''} lies wholly outside "
            f"the release window {span}"
        )
        _raise(found, path, message)


def _check_overlaps(typed: pl.DataFrame, schema: CatalogSchema, path: Path) -> None:
    """Rows of one key must not overlap in time (an exact repeat is a duplicate key).

    Sorted by key and start, some two rows of a key overlap exactly when a row starts
    on or before the end of the row before it, so one shift finds them all.
    """
    key = [pl.col(k).fill_null("") for k in schema.key] or [pl.lit("")]
    start = pl.col("valid_from").fill_null(date.min)
    end = pl.col("valid_to").fill_null(date.max)
    ordered = typed.with_columns(
        _s=start, _e=end, _k=pl.concat_str(key, separator="\x1f")
    )
    ordered = ordered.sort("_k", "_s", ROW)
    same = pl.col("_k") == pl.col("_k").shift(1)
    clash = ordered.with_columns(
        _clash=same & (pl.col("_s") <= pl.col("_e").shift(1)),
        _dup=same & (pl.col("_s") == pl.col("_s").shift(1)),
        _other=pl.col(ROW).shift(1),
    ).filter("_clash")
    if clash.height == 0:
        return
    first = clash.sort(ROW).row(0, named=True)
    key_text = ", ".join(f"{k}={first[k]!r}" for k in schema.key) or "the catalog"
    kind = "duplicate key" if first["_dup"] else "overlapping validity for the same key"
    more = f" (and {clash.height - 1} more)" if clash.height > 1 else ""
    msg = f"{kind} {key_text}: clashes with row {first['_other']}{more}"
    raise CatalogIntegrityError(msg, path=path, row=first[ROW])
