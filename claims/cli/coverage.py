"""``giamdinh rules coverage``: where each check of reference §4.3 is implemented."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from claims.cli.common import err, fail, out
from claims.errors import ClaimsError
from rules.coverage import COVERAGE_PATH, Coverage, as_records, coverage, markdown
from rules.packs import PACKS_ROOT

TESTS_ROOT = Path(__file__).resolve().parents[2] / "tests"
"""The repository's tests (searched for the codes; absent in an installed package)."""


def _table(found: Coverage) -> Table:
    table = Table(title="§4.3 checks")
    for column in ("id", "check", "implemented in", "action", "test"):
        table.add_column(column, overflow="fold")
    for row in found.rows:
        where = [f"{p.kind} {p.ref}" for p in row.places]
        if row.not_checkable:
            where.append(f"not checkable: {row.not_checkable}")
        if row.open and not row.places:
            where.append(f"open: {row.open}")
        table.add_row(
            row.id,
            row.title,
            "\n".join(where),
            "\n".join(p.action for p in row.places) or "—",
            "\n".join(p.test or "no test" for p in row.places) or "—",
            style=None if row.places or row.not_checkable else "yellow",
        )
    return table


def coverage_command(
    out_path: Annotated[
        Path | None,
        typer.Option("--out", help="Write the Markdown table here (docs/checks.md)."),
    ] = None,
    fmt: Annotated[
        Literal["table", "json"], typer.Option("--format", help="table or json.")
    ] = "table",
    root: Annotated[
        Path,
        typer.Option("--packs", help="The packs folder (default: the built-in one)."),
    ] = PACKS_ROOT,
    checks: Annotated[
        Path, typer.Option("--checks", help="The list of §4.3 checks.")
    ] = COVERAGE_PATH,
) -> None:
    """One row per check of reference §4.3 (A1 … J9): where it is implemented (pack
    rule, validation or payment reason code, anomaly feature), its action and its test,
    or why it cannot be checked. Exits 1 when a row names a rule, code or feature that
    does not exist."""
    try:
        found = coverage(checks, root, TESTS_ROOT if TESTS_ROOT.is_dir() else None)
    except ClaimsError as exc:
        raise fail(exc) from exc
    if out_path is not None:
        out_path.write_text(markdown(found), encoding="utf-8")
        out.print(f"wrote {out_path} ({len(found.rows)} checks)")
    elif fmt == "json":
        out.print_json(json.dumps(as_records(found), ensure_ascii=False))
    else:
        out.print(_table(found))
    for problem in found.problems:
        err.print(f"[bold red]error:[/] {problem}")
    if found.problems:
        raise typer.Exit(code=1)
