"""Pieces shared by the command-line modules: consoles, common options, settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from claims.config import Settings

out = Console()
err = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="GIAMDINH_DATA_DIR",
        help="Where the DuckDB store, run outputs, processed and failed files live.",
    ),
]
CatalogDir = Annotated[
    Path | None,
    typer.Option(
        "--catalog-dir",
        envvar="GIAMDINH_CATALOG_DIR",
        help="A catalog root overlaying the built-in catalogs (catalog by catalog).",
    ),
]


def settings_for(data_dir: Path | None, catalog_dir: Path | None) -> Settings:
    values: dict[str, object] = {}
    if data_dir is not None:
        values["data_dir"] = data_dir
    if catalog_dir is not None:
        values["catalog_dir"] = catalog_dir
    return Settings.model_validate(values)


def fail(exc: Exception) -> typer.Exit:
    err.print(f"[bold red]error:[/] {exc}")
    return typer.Exit(code=1)


def print_frame(
    title: str, frame: pl.DataFrame, *, limit: int = 30, highlight: str | None = None
) -> None:
    """A frame as a table on stdout: its first ``limit`` rows, nulls blank.

    Rows where the Boolean column ``highlight`` is true are shown in bold red.
    """
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(column)
    for row in frame.head(limit).iter_rows(named=True):
        style = "bold red" if highlight and row[highlight] else None
        table.add_row(*["" if v is None else str(v) for v in row.values()], style=style)
    out.print(table)
