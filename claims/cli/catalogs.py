"""``giamdinh catalogs …``: list, check, diff, show and export the reference catalogs."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.table import Table
from rich.text import Text

from catalogs.diff import DEFAULT_THRESHOLD, diff_versions
from catalogs.errors import CatalogError
from catalogs.loader import BUILTIN_ROOT, load_root, write_version
from catalogs.resolve import Catalog, load_catalogs
from catalogs.schema import SCHEMAS
from claims.cli.common import CatalogDir, err, fail, out
from claims.cli.listing import Format, FormatOption, emit, print_table, table_of

app = typer.Typer(
    help="Reference catalogs: prices, facilities, ICD-10, base salary, benefit tables.",
    no_args_is_help=True,
)


def _load(overlay: Path | None, ids: list[str] | None = None) -> dict[str, Catalog]:
    try:
        return load_catalogs(overlay, ids)
    except CatalogError as exc:
        raise fail(exc) from exc


def _catalog_id(catalog_id: str) -> str:
    if catalog_id not in SCHEMAS:
        known = ", ".join(SCHEMAS)
        err.print(
            f"[bold red]error:[/] unknown catalog {catalog_id!r}; the catalogs are: {known}"
        )
        raise typer.Exit(code=2)
    return catalog_id


@app.command("list")
def list_catalogs(
    catalog_dir: CatalogDir = None, fmt: FormatOption = Format.table
) -> None:
    """Every catalog with its versions: window, recorded time, rows, hash and source
    (the table shows the hash's first 12 characters, JSON and CSV all of it)."""
    catalogs = _load(catalog_dir)
    rows = []
    for catalog_id, catalog in catalogs.items():
        overlaid = catalog_dir is not None and (catalog_dir / catalog_id).is_dir()
        for v in catalog.versions:
            m = v.manifest
            rows.append(
                (
                    catalog_id,
                    m.version,
                    m.effective_from.isoformat(),
                    m.effective_to.isoformat() if m.effective_to else None,
                    m.recorded_at.isoformat(timespec="minutes"),
                    v.rows.height,
                    v.content_hash,
                    "overlay" if overlaid else "built-in",
                    m.source,
                )
            )
    names = (
        "catalog", "version", "effective_from", "effective_to", "recorded", "rows",
        "hash", "root", "source",
    )  # fmt: skip
    frame = pl.DataFrame(rows, schema=list(names), orient="row")
    if fmt is Format.table:
        frame = frame.with_columns(pl.col("hash").str.slice(0, 12))
    emit(out, [("catalogs", frame)], fmt)


@app.command()
def check(
    root: Annotated[
        Path | None,
        typer.Argument(
            help="A catalog root to check on its own (default: the built-in root)."
        ),
    ] = None,
) -> None:
    """Load and check every catalog under a root: manifests, hashes, rows, overlaps, ICD codes.

    Exits 1 at the first catalog that does not load, naming the file, row and value. A
    root without an ``icd10`` catalog has its ICD codes checked against the built-in one.
    """
    base = root or BUILTIN_ROOT
    if not base.is_dir():
        err.print(f"[bold red]error:[/] {base} is not a folder")
        raise typer.Exit(code=2)
    present = [c for c in SCHEMAS if (base / c).is_dir()]
    unknown = sorted(
        p.name for p in base.iterdir() if p.is_dir() and p.name not in SCHEMAS
    )
    if unknown:
        err.print(
            f"[bold red]error:[/] unknown catalog folder(s) {', '.join(unknown)} in {base}; "
            f"the catalogs are: {', '.join(SCHEMAS)}"
        )
        raise typer.Exit(code=1)
    icd_root = base if (base / "icd10").is_dir() else BUILTIN_ROOT
    try:
        icd = load_root(icd_root / "icd10", "icd10")
        codes = set(pl.concat([v.rows["code"] for v in icd]).to_list())
        for catalog_id in present:
            versions = load_root(base / catalog_id, catalog_id, icd_codes=codes)
            rows = sum(v.rows.height for v in versions)
            out.print(
                f"[green]ok[/] {catalog_id}: {len(versions)} version(s), {rows:,} rows"
            )
    except CatalogError as exc:
        raise fail(exc) from exc
    if not present:
        err.print(f"no catalog folder in {base}")
        raise typer.Exit(code=1)


@app.command()
def diff(
    catalog_id: Annotated[str, typer.Argument(help="Catalog id, e.g. drugs.")],
    version_a: Annotated[
        str, typer.Argument(help="The older version, e.g. 2024-07-01.")
    ],
    version_b: Annotated[
        str, typer.Argument(help="The newer version, e.g. 2024-07-01.2.")
    ],
    threshold: Annotated[
        float, typer.Option(help="Percent change (either way) flagged as suspicious.")
    ] = float(DEFAULT_THRESHOLD),
    limit: Annotated[int, typer.Option(help="Rows of detail to print.")] = 40,
    catalog_dir: CatalogDir = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Entries added, removed and changed between two versions; price jumps highlighted."""
    catalog = _load(catalog_dir, [_catalog_id(catalog_id)])[catalog_id]
    try:
        a, b = catalog.version(version_a), catalog.version(version_b)
    except KeyError as exc:
        err.print(f"[bold red]error:[/] {exc.args[0]}")
        raise typer.Exit(code=2) from exc
    result = diff_versions(a, b, Decimal(str(threshold)))
    counts = result.counts()
    shown = result.changes.sort("suspicious", "change", descending=[True, False])
    if fmt is not Format.table:
        tally = pl.DataFrame(
            {"change": list(counts), "entries": list(counts.values())},
            schema={"change": pl.String, "entries": pl.Int64},
        )
        emit(out, [("counts", tally), ("changes", shown)], fmt)
        return
    summary = ", ".join(f"{k} {v:,}" for k, v in counts.items())
    out.print(f"{catalog_id} {a.label} → {b.label}: {summary}")
    if result.changes.height == 0:
        return
    title = f"changes (first {limit})"
    print_table(out, table_of(title, shown, limit=limit, highlight="suspicious"))


@app.command()
def show(
    catalog_id: Annotated[str, typer.Argument(help="Catalog id, e.g. services.")],
    code: Annotated[
        str | None,
        typer.Option("--code", help="The entry's code (MA_THUOC, MA_DICH_VU, …)."),
    ] = None,
    on: Annotated[
        str | None,
        typer.Option("--date", help="Valid on this date, YYYY-MM-DD (default: all)."),
    ] = None,
    facility: Annotated[
        str | None,
        typer.Option("--facility", help="MA_CSKCB: its rows and the national ones."),
    ] = None,
    recorded: Annotated[
        str | None,
        typer.Option(
            "--as-of-recorded",
            help="Answer as known at this time (ISO date-time): later corrections are ignored.",
        ),
    ] = None,
    catalog_dir: CatalogDir = None,
    fmt: FormatOption = Format.table,
) -> None:
    """The resolved rows of a catalog for a code and date, with the version each comes from."""
    catalog = _load(catalog_dir, [_catalog_id(catalog_id)])[catalog_id]
    try:
        day = date.fromisoformat(on) if on else None
        known = datetime.fromisoformat(recorded) if recorded else None
    except ValueError as exc:
        err.print(
            f"[bold red]error:[/] {exc}; use YYYY-MM-DD (and HH:MM:SS for a time)"
        )
        raise typer.Exit(code=2) from exc
    rows = catalog.resolve(known)
    if code is not None and catalog.schema.code is not None:
        rows = rows.filter(pl.col(catalog.schema.code) == code)
    if day is not None:
        rows = rows.filter(
            (pl.col("valid_from") <= day)
            & (pl.col("valid_to").is_null() | (pl.col("valid_to") >= day))
        )
    if facility is not None and catalog.schema.by_facility:
        rows = rows.filter(
            pl.col("ma_cskcb").is_null() | (pl.col("ma_cskcb") == facility)
        )
        # the facility's row wins over the national one
        rows = rows.sort(pl.col("ma_cskcb").is_null())
    if rows.height == 0:
        err.print(f"no {catalog_id} row for code={code!r} on {on or 'any date'}")
        raise typer.Exit(code=1)
    if fmt is not Format.table:
        emit(out, [(catalog_id, rows)], fmt)
        return
    out.print(f"{catalog_id}: {rows.height:,} row(s)")
    if rows.height <= 5:  # one panel per row: catalogs are wide
        for n, row in enumerate(rows.iter_rows(named=True), start=1):
            applies = " (applies)" if facility is not None and day and n == 1 else ""
            table = Table(title=f"row {n}{applies}", show_header=False)
            table.add_column("column", style="bold", no_wrap=True)
            table.add_column("value", overflow="fold")
            for name, value in row.items():
                table.add_row(name, Text("" if value is None else str(value)))
            print_table(out, table)
        return
    columns = [c for c in rows.columns if rows[c].null_count() < rows.height]
    if rows.height > 50:
        err.print(f"the first 50 of {rows.height:,} rows (--format csv: all of them)")
    emit(out, [(catalog_id, rows.select(columns))], fmt, limit=50)


@app.command()
def export(
    target: Annotated[
        Path, typer.Argument(help="An empty or new folder to write into.")
    ],
    catalog_dir: CatalogDir = None,
) -> None:
    """Write the catalogs (built-in, or overlaid) as rows.csv + manifest.yaml: a starting point.

    Edit the rows, then set ``sha256`` in the manifest (``sha256sum rows.csv``) and pass
    the folder as ``--catalog-dir``; ``giamdinh catalogs check FOLDER`` checks it first.
    """
    if target.exists() and any(target.iterdir()):
        err.print(
            f"[bold red]error:[/] {target} is not empty; export into a new folder"
        )
        raise typer.Exit(code=2)
    catalogs = _load(catalog_dir)
    for catalog_id, catalog in catalogs.items():
        for v in catalog.versions:
            manifest = v.manifest.hashed_fields()
            written = write_version(
                target / catalog_id / v.manifest.version, manifest, v.rows
            )
            err.print(f"{catalog_id} {written.label} ({written.rows.height:,} rows)")
    out.print(f"exported {len(catalogs)} catalogs to {target}")
