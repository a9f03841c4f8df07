"""Pieces shared by the command-line modules: consoles, common options, settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

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
    return Settings(**values)  # type: ignore[arg-type]


def fail(exc: Exception) -> typer.Exit:
    err.print(f"[bold red]error:[/] {exc}")
    return typer.Exit(code=1)
