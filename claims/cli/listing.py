"""Listings on stdout: frames as tables for people, or as JSON or CSV for tools.

Every listing command takes ``--format table|json|csv``. A table never cuts an
identifier or an amount: text columns wrap, and a table is drawn wider than the
terminal (or ``COLUMNS``, 80 when piped) when its unbreakable values (codes, ids,
amounts) need it. JSON is one object
per listing name holding its rows; CSV is one table, or each listing after a
``# name`` line. Amounts are 2-decimal strings in JSON and CSV.
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import polars as pl
import typer
from rich.cells import cell_len
from rich.console import Console
from rich.measure import Measurement
from rich.segment import Segments
from rich.table import Table
from rich.text import Text


class Format(enum.StrEnum):
    """How a listing command prints what it found."""

    table = "table"
    json = "json"
    csv = "csv"


FormatOption = Annotated[
    Format,
    typer.Option(
        "--format",
        help="table (for people; never cuts codes or amounts), json or csv (for tools).",
    ),
]

Listing = tuple[str, pl.DataFrame]
"""A named frame: its name (a JSON key, a CSV section, a table title) and its rows."""


def table_of(
    title: str | None,
    frame: pl.DataFrame,
    *,
    limit: int | None = None,
    highlight: str | None = None,
) -> Table:
    """``frame`` as a rich table: its first ``limit`` rows (all: None), nulls blank,
    numbers right-aligned; a column that holds no whitespace (codes, ids, amounts)
    never wraps. Rows where the Boolean column ``highlight`` is true are bold red."""
    table = Table(title=title)
    shown = frame if limit is None else frame.head(limit)
    text = _as_text(shown)
    for column in shown.columns:
        number = shown.schema[column].is_numeric()
        words = bool(text[column].str.contains(r"\s").any())
        # a column that cannot wrap is as wide as its header and its longest value
        longest = text[column].str.len_chars().max()
        widest = max(cell_len(column), longest if isinstance(longest, int) else 0)
        table.add_column(
            column,
            justify="right" if number else "left",
            no_wrap=not words,
            overflow="fold",
            min_width=None if words else widest,
        )
    marked = (
        shown[highlight].fill_null(False).to_list()
        if highlight
        else [False] * shown.height
    )
    for row, bold in zip(text.iter_rows(), marked, strict=True):
        cells = [Text("" if v is None else v) for v in row]
        table.add_row(*cells, style="bold red" if bold else None)
    return table


def print_table(console: Console, table: Table) -> None:
    """Print ``table`` without cutting what cannot wrap: at the console's width (a
    terminal's, else ``COLUMNS`` or 80), or wider when its unbreakable values need
    it (text wraps, codes and amounts stay whole)."""
    options = console.options.update(width=1 << 16)
    measure = Measurement.get(console, options, table)
    width = max(console.width, measure.minimum)
    # Console.print would narrow ``width`` to the console's: render, then print
    segments = console.render(table, console.options.update_width(width))
    console.print(Segments(segments), crop=False)


def emit(
    console: Console,
    listings: Sequence[Listing],
    fmt: Format,
    *,
    limit: int | None = None,
) -> None:
    """Print ``listings`` in ``fmt``: tables (the first ``limit`` rows each), one JSON
    object ``{name: [rows]}``, or CSV (a ``# name`` line before each when several).
    JSON and CSV hold every row."""
    if fmt is Format.table:
        for title, frame in listings:
            print_table(console, table_of(title, frame, limit=limit))
        return
    if fmt is Format.json:
        body = {name: rows_of(frame) for name, frame in listings}
        sys.stdout.write(json.dumps(body, ensure_ascii=False, indent=1) + "\n")
        return
    for name, frame in listings:
        if len(listings) > 1:
            sys.stdout.write(f"# {name}\n")
        sys.stdout.write(_flat(frame).write_csv())
        if len(listings) > 1:
            sys.stdout.write("\n")
    sys.stdout.flush()


def rows_of(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """``frame`` as JSON-ready rows: amounts and dates as text, nested values kept."""
    converted = frame.with_columns(
        pl.col(c).dt.to_string("%Y-%m-%dT%H:%M:%S")
        if isinstance(dtype, pl.Datetime)
        else pl.col(c).cast(pl.String)
        for c, dtype in frame.schema.items()
        if isinstance(dtype, pl.Decimal | pl.Date | pl.Datetime | pl.Time)
    )
    return converted.to_dicts()


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column as display text (amounts as their exact 2-decimal text, nested
    values as JSON)."""
    return frame.select(_text(c, d) for c, d in frame.schema.items())


def _text(column: str, dtype: pl.DataType) -> pl.Expr:
    if isinstance(dtype, pl.List | pl.Array):
        return pl.col(column).cast(pl.List(pl.String)).list.join(", ").alias(column)
    if isinstance(dtype, pl.Struct):
        return pl.col(column).struct.json_encode().alias(column)
    return pl.col(column).cast(pl.String)


def _flat(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` as CSV can hold it: lists joined with ``;``, structs as JSON."""
    return frame.with_columns(
        pl.col(c).cast(pl.List(pl.String)).list.join(";")
        if isinstance(d, pl.List | pl.Array)
        else pl.col(c).struct.json_encode()
        for c, d in frame.schema.items()
        if isinstance(d, pl.List | pl.Array | pl.Struct)
    )
