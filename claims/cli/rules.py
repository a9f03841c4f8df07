"""``giamdinh rules …``: check, test, explain and shadow the rule packs."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.table import Table

from claims.assess import frame_schemas, load_packs
from claims.cli.common import (
    CatalogDir,
    DataDir,
    err,
    fail,
    out,
    print_frame,
    settings_for,
)
from claims.errors import ClaimsError
from rules.cases import read_cases, run_cases, uncovered
from rules.evaluate import Pack, param_columns, select_packs, version_of
from rules.packs import PACKS_ROOT

app = typer.Typer(
    help="Rule packs: type-check them, run their cases, explain a claim, shadow a draft.",
    no_args_is_help=True,
)
PacksRoot = Annotated[
    Path, typer.Option("--packs", help="The packs folder (default: the built-in one).")
]


def _packs(root: Path) -> list[Pack]:
    try:
        return load_packs(root)
    except ClaimsError as exc:
        raise fail(exc) from exc


def _pick(packs: list[Pack], which: str | None) -> list[Pack]:
    if which is None:
        return packs
    pack_id, _, version = which.partition("@")
    chosen = [
        p
        for p in packs
        if p.spec.id == pack_id and (not version or p.spec.version == version)
    ]
    if not chosen:
        known = ", ".join(p.label.split("#")[0] for p in packs)
        err.print(f"[bold red]error:[/] no pack {which!r}; the packs are: {known}")
        raise typer.Exit(code=2)
    return chosen


@app.command()
def check(root: PacksRoot = PACKS_ROOT) -> None:
    """Load, type-check and compile every pack version; print each with its data hash."""
    table = Table(title="rule packs")
    for column in ("pack", "status", "window", "rules", "data_hash"):
        table.add_column(column, no_wrap=True)
    for p in _packs(root):
        window = f"{p.spec.effective_from}…{p.spec.effective_to or ''}"
        table.add_row(
            p.label.split("#")[0], p.spec.status, window, str(len(p.rules)), p.data_hash
        )
    out.print(table)


@app.command("test")
def run_tests(
    which: Annotated[
        str | None,
        typer.Argument(help="ID or ID@VERSION (default: every pack version)."),
    ] = None,
    root: PacksRoot = PACKS_ROOT,
) -> None:
    """Run the cases of each pack version; every rule needs a hit and a miss."""
    schemas = frame_schemas()
    failed = 0
    for p in _pick(_packs(root), which):
        try:
            cases = read_cases(p.path.parent)
        except ClaimsError as exc:
            raise fail(exc) from exc
        failures = run_cases(p, cases, schemas)
        missing = uncovered(p, cases)
        status = "[green]ok[/]" if not failures and not missing else "[bold red]FAIL[/]"
        out.print(f"{status} {p.label}: {len(cases)} cases, {len(failures)} failed")
        for f in failures:
            out.print(
                f"  {f.case.rule}: expected {f.case.expect}, got {f.got} for {f.case.row}"
            )
        if missing:
            out.print(f"  rules without a hit and a miss: {', '.join(missing)}")
        failed += len(failures) + len(missing)
    raise typer.Exit(code=1 if failed else 0)


def _symbols(text: str, columns: list[str]) -> list[str]:
    names = set(re.findall(r"(?<![\w$.\"'])([a-z_][a-z0-9_]*)", text))
    return [c for c in columns if c in names]


@app.command()
def explain(
    facility: Annotated[str, typer.Option("--facility", help="MA_CSKCB of the claim.")],
    claim: Annotated[str, typer.Option("--claim", help="MA_LK of the claim.")],
    data_dir: DataDir = None,
    catalog_dir: CatalogDir = None,
    root: PacksRoot = PACKS_ROOT,
) -> None:
    """For a stored claim: every rule of its pack version, its inputs, and what it gave."""
    from claims.features import claim_features, line_features
    from claims.store.read import history_of, stored_batch
    from claims.store.runs import open_store

    settings = settings_for(data_dir, catalog_dir)
    packs = select_packs(_packs(root), settings.pack_id)
    with open_store(settings.store_path) as con:
        try:
            batch = stored_batch(
                con,
                "ma_cskcb = ? AND ma_lk = ?",
                [facility, claim],
                catalog_dir=catalog_dir,
            )
        except LookupError as exc:
            raise fail(exc) from exc
        history = history_of(con, batch.xml1)
    if batch.xml1.height == 0:
        err.print(
            f"[bold red]error:[/] no current claim {claim!r} of facility {facility!r}"
        )
        raise typer.Exit(code=1)
    claims = claim_features(batch, history)
    label = claims.select(version_of(packs, pl.col("ngay_vao").dt.date())).item()
    pack = next((p for p in packs if p.label == label), None)
    if pack is None:
        out.print(
            f"{facility}/{claim}: no released version covers its admission: NO_RULE_PACK"
        )
        return
    frames = {
        "XML1": claims,
        "XML2": line_features("XML2", batch, claims),
        "XML3": line_features("XML3", batch, claims),
        "XML4": batch.xml4,
        "XML5": batch.xml5,
    }
    out.print(f"{facility}/{claim} assessed by {pack.label}")
    table = Table()
    for column in ("rule", "action", "result", "inputs (first row)"):
        table.add_column(column)
    params = param_columns(pack)
    for r in pack.rules:
        frame = frames[r.spec.table].with_columns(params)
        results = frame.select(r.expr).to_series()
        fired, unknown = int(results.sum()), results.null_count()
        result = "—" if frame.height == 0 else ("fired" if fired else "no")
        if unknown:
            result = (
                f"not evaluable ×{unknown}"
                if not fired
                else f"{result}, not evaluable ×{unknown}"
            )
        if r.spec.level == "line" and frame.height:
            result += f" ({fired}/{frame.height} lines)"
        names = _symbols(r.spec.expr, frame.columns)
        shown = (
            frame.head(1).select(names).to_dicts()[0] if frame.height and names else {}
        )
        inputs = ", ".join(f"{k}={v}" for k, v in shown.items())
        style = "bold red" if fired else ("yellow" if unknown else None)
        table.add_row(r.spec.id, r.spec.action, result, inputs, style=style)
    out.print(table)


@app.command()
def shadow(
    candidate: Annotated[
        str, typer.Argument(help="The draft, ID@VERSION (e.g. vn-bhyt@2026.12.0).")
    ],
    since: Annotated[
        str, typer.Option("--since", help="Admissions from this date, YYYY-MM-DD.")
    ],
    data_dir: DataDir = None,
    catalog_dir: CatalogDir = None,
    root: PacksRoot = PACKS_ROOT,
) -> None:
    """Evaluate a draft on stored claims next to the active versions; report what changes."""
    from claims.assess import assess
    from claims.store.read import history_of, stored_batch
    from claims.store.runs import open_store

    settings = settings_for(data_dir, catalog_dir)
    every = _packs(root)
    draft = _pick(every, candidate)
    active = select_packs(every, settings.pack_id)
    try:
        day = dt.date.fromisoformat(since)
    except ValueError as exc:
        raise fail(ValueError(f"--since {since!r} is not a date YYYY-MM-DD")) from exc
    with open_store(settings.store_path) as con:
        try:
            batch = stored_batch(con, "ngay_vao >= ?", [day], catalog_dir=catalog_dir)
        except LookupError as exc:
            raise fail(exc) from exc
        history = history_of(con, batch.xml1)
    now = assess(batch, active, history=history)
    then = assess(batch, draft[:1], history=history, pinned=True)
    keys = ["file_id", "hoso_idx"]
    both = now.claims.join(then.claims, on=keys, suffix="_draft").join(
        batch.xml1.select(*keys, "t_tongchi_bh"), on=keys
    )
    changed = both.filter(pl.col("outcome") != pl.col("outcome_draft"))
    out.print(
        f"{batch.xml1.height:,} claims admitted since {day}: {changed.height:,} change outcome "
        f"under {draft[0].label} (claimed BH {changed['t_tongchi_bh'].sum() or 0:,})"
    )
    if changed.height:
        per_facility = (
            changed.group_by("ma_cskcb", "outcome", "outcome_draft")
            .agg(
                pl.len().alias("claims"),
                pl.col("t_tongchi_bh").sum().alias("claimed_bh"),
            )
            .sort("claims", descending=True)
        )
        print_frame("per facility", per_facility)
    fired = (
        now.hits.filter(pl.col("outcome") == "fired").group_by("rule_id").len("active")
    )
    fired_draft = (
        then.hits.filter(pl.col("outcome") == "fired").group_by("rule_id").len("draft")
    )
    per_rule = (
        fired.join(fired_draft, on="rule_id", how="full", coalesce=True)
        .fill_null(0)
        .filter(pl.col("active") != pl.col("draft"))
        .sort("rule_id", nulls_last=True)
    )
    if per_rule.height:
        print_frame("per rule (hits)", per_rule)
