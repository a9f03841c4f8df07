"""``giamdinh rules …``: check, test, explain and shadow the rule packs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from claims.assess import load_packs
from claims.cli.common import (
    CatalogDir,
    DataDir,
    err,
    fail,
    out,
    print_frame,
    settings_for,
)
from claims.cli.coverage import coverage_command
from claims.cli.listing import Format, FormatOption, emit
from claims.errors import ClaimsError
from claims.schema import rule_frame_schemas
from rules.cases import read_cases, run_cases, uncovered
from rules.evaluate import Pack, superseded
from rules.packs import PACKS_ROOT

app = typer.Typer(
    help="Rule packs: type-check them, run their cases, explain a claim, shadow a draft.",
    no_args_is_help=True,
)
app.command("coverage")(coverage_command)
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
def check(root: PacksRoot = PACKS_ROOT, fmt: FormatOption = Format.table) -> None:
    """Load, type-check and compile every pack version; print each with its data hash
    (a correction names the version it corrects; a superseded version applies only
    when pinned)."""
    packs = _packs(root)
    replaced = superseded(packs)
    frame = pl.DataFrame(
        [
            {
                "pack": p.label.split("#")[0],
                "status": p.spec.status
                + (" (superseded)" if (p.spec.id, p.spec.version) in replaced else ""),
                "corrects": p.spec.corrects,
                "window": f"{p.spec.effective_from}…{p.spec.effective_to or ''}",
                "rules": len(p.rules),
                "data_hash": p.data_hash,
            }
            for p in packs
        ],
        schema={
            "pack": pl.String,
            "status": pl.String,
            "corrects": pl.String,
            "window": pl.String,
            "rules": pl.Int64,
            "data_hash": pl.String,
        },
    )
    emit(out, [("rule packs", frame)], fmt)


@app.command("test")
def run_tests(
    which: Annotated[
        str | None,
        typer.Argument(help="ID or ID@VERSION (default: every pack version)."),
    ] = None,
    root: PacksRoot = PACKS_ROOT,
) -> None:
    """Run the cases of each pack version; every rule needs a hit and a miss."""
    schemas = rule_frame_schemas()
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


@app.command()
def explain(
    facility: Annotated[str, typer.Option("--facility", help="MA_CSKCB of the claim.")],
    claim: Annotated[str, typer.Option("--claim", help="MA_LK of the claim.")],
    data_dir: DataDir = None,
    catalog_dir: CatalogDir = None,
    root: PacksRoot = PACKS_ROOT,
    fmt: FormatOption = Format.table,
) -> None:
    """For a stored claim: every rule of its pack version, its inputs and what it gave;
    the decision the stages give now beside the stored one (run id, versions, amounts
    per total), every reason (rule, payment, validation), and the patient's other
    claims that same-day, overlapping-stay and window rules count."""
    from claims.cli.claims import print_explained
    from claims.pipeline.explain import explain_claim

    settings = settings_for(data_dir, catalog_dir)
    try:
        found = explain_claim(settings, _packs(root), facility, claim)
    except (LookupError, ClaimsError) as exc:
        raise fail(exc) from exc
    print_explained(found, facility, claim, fmt)


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
    fmt: FormatOption = Format.table,
) -> None:
    """Decide stored claims with a draft next to the active versions; report the
    outcomes and money that change, per facility and per rule."""
    from claims.pipeline.explain import shadow as run_shadow

    settings = settings_for(data_dir, catalog_dir)
    every = _packs(root)
    draft = _pick(every, candidate)
    try:
        day = dt.date.fromisoformat(since)
    except ValueError as exc:
        raise fail(ValueError(f"--since {since!r} is not a date YYYY-MM-DD")) from exc
    try:
        found = run_shadow(settings, every, draft[0], day)
    except (LookupError, ClaimsError) as exc:
        raise fail(exc) from exc
    moved = found.changed["difference"].sum() if found.changed.height else 0
    summary = (
        f"{found.claims:,} claims admitted since {day}: {found.changed.height:,} change "
        f"outcome or payable T_BHTT under {draft[0].label} "
        f"(payable T_BHTT moves by {moved:,.2f})"
    )
    if fmt is not Format.table:
        err.print(summary)
        listings = [("per_facility", found.per_facility), ("per_rule", found.per_rule)]
        emit(out, [*listings, ("claims", found.changed)], fmt)
        return
    out.print(summary)
    if found.per_facility.height:
        print_frame("per facility", found.per_facility)
    if found.per_rule.height:
        print_frame("per rule (hits)", found.per_rule)
