"""Pieces shared by the command-line modules: consoles, common options, settings, and
the one error boundary every command runs inside."""

from __future__ import annotations

import errno
import os
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import duckdb
import polars as pl
import pydantic
import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from claims.cli.listing import print_table, table_of
from claims.config import Settings
from claims.errors import ClaimsError, ConfigError
from claims.store import Holder, writer_lock

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

Wait = Annotated[
    float | None,
    typer.Option(
        "--wait",
        envvar="GIAMDINH_LOCK_WAIT",
        help="Seconds to wait while another command writes the store (default 300).",
    ),
]


def settings_for(
    data_dir: Path | None, catalog_dir: Path | None, *, wait: float | None = None
) -> Settings:
    values: dict[str, object] = {}
    if data_dir is not None:
        values["data_dir"] = data_dir
    if catalog_dir is not None:
        values["catalog_dir"] = catalog_dir
    if wait is not None:
        values["lock_wait"] = wait
    return Settings.model_validate(values)


def waiting(settings: Settings) -> Any:
    """An ``on_wait`` callback: say once whom a writer waits for."""

    def on_wait(holder: Holder | None) -> None:
        who = holder.describe() if holder else "another process"
        err.print(
            f"waiting up to {settings.lock_wait:g} s for the store: {escape(who)} "
            "is writing it"
        )

    return on_wait


@contextmanager
def writing(settings: Settings, command: str) -> Iterator[None]:
    """Hold the store's writer lock for a command that changes an existing store.

    Raises:
        ConfigError: there is no store under ``settings.data_dir`` (a misspelled
            --data-dir must not get an empty store).
        StoreBusy: another writer kept the lock past ``settings.lock_wait``.
    """
    if not settings.store_path.is_file():
        msg = (
            f"no store at {settings.store_path}: check --data-dir (or "
            "GIAMDINH_DATA_DIR); `giamdinh run` creates the store"
        )
        raise ConfigError(msg)
    with writer_lock(
        settings.data_dir, command, wait=settings.lock_wait, on_wait=waiting(settings)
    ):
        yield


def fail(exc: Exception) -> typer.Exit:
    # one line where stderr is a log or a pipe (a terminal wraps at its width)
    err.print("[bold red]error:[/]", escape(str(exc)), soft_wrap=not err.is_terminal)
    return typer.Exit(code=1)


def notice(text: str) -> None:
    err.print("[yellow]note:[/]", escape(text), soft_wrap=not err.is_terminal)


def describe_error(exc: BaseException) -> str:
    """One line for the user: what failed, where, and what to do."""
    if isinstance(exc, ClaimsError):
        return str(exc)
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        text = f"{exc.strerror or exc}{where}"
        if exc.errno == errno.ENOSPC:
            text += "; free space on that disk and run the command again"
        elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            text += "; check the permissions of that path, or pick another --data-dir"
        return text
    if isinstance(exc, pydantic.ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        return f"a setting is invalid ({problems}); check the GIAMDINH_* variables"
    if isinstance(exc, duckdb.Error):
        return _disk_hint(f"the store could not be read or written: {exc}")
    if isinstance(exc, pl.exceptions.PolarsError) and "os error" in str(exc):
        return _disk_hint(f"a data file could not be read or written: {exc}")
    return (
        f"unexpected {type(exc).__name__}: {exc}. This is a bug in giamdinh; "
        "set GIAMDINH_DEBUG=1 to see where it happened"
    )


def _disk_hint(text: str) -> str:
    if "No space left on device" in text:
        return text + "; free space on that disk and run the command again"
    return text


class Boundary(TyperGroup):
    """The root command group: every command's errors end as one message and exit 1.

    Errors of the engine, of the operating system (a full disk, a permission) and of
    the store are told in one line, without a traceback (``GIAMDINH_DEBUG=1`` shows
    it); the exits and usage errors of the command line pass through.
    """

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except Exception as exc:
            if os.environ.get("GIAMDINH_DEBUG"):
                traceback.print_exc()
            err.print("[bold red]error:[/]", escape(describe_error(exc)))
            raise typer.Exit(code=1) from exc


def print_frame(
    title: str, frame: pl.DataFrame, *, limit: int = 30, highlight: str | None = None
) -> None:
    """A frame as a table on stdout: its first ``limit`` rows, nulls blank, codes and
    amounts never cut (``claims.cli.listing``).

    Rows where the Boolean column ``highlight`` is true are shown in bold red.
    """
    print_table(out, table_of(title, frame, limit=limit, highlight=highlight))


def now(*, precise: bool = False) -> str:
    """The time stamp of a posting or an advance: UTC, to the second, or to the
    microsecond when it enters an id (the clock is read here, not in the settlement or
    the store)."""
    return datetime.now(UTC).isoformat(
        timespec="microseconds" if precise else "seconds"
    )
