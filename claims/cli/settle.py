"""``giamdinh settle …`` and ``giamdinh audit``: settlements, diffs, post-audit (the
advance commands are in ``claims.cli.advance``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from claims.cli.common import (
    CatalogDir,
    DataDir,
    Wait,
    err,
    fail,
    now,
    out,
    settings_for,
    writing,
)
from claims.cli.listing import Format, FormatOption, Listing, emit
from claims.cli.scale import (
    EngineChoice,
    EngineOption,
    MemoryBudget,
    Scale,
    SchedulerOption,
)
from claims.cli.users import Actor, actor_of
from claims.config import Settings
from claims.errors import ClaimsError
from claims.pipeline.settlement import (
    EXCEL_LIMIT,
    check_overlaps,
    compute_settlement,
    find_settlement,
    post_audit,
    post_settlement,
    settle_period,
    settlement_dir,
)
from claims.settle import Settlement

__all__ = [
    "EXCEL_LIMIT",
    "app",
    "audit",
    "carried_forward_messages",
    "check_overlaps",
    "compute_settlement",
    "post_audit",
    "post_settlement",
    "print_settlement",
    "run_settlement",
    "settlement_dir",
]

app = typer.Typer(
    help="Settle accepted claims with facilities per month or quarter (C79/C80-like "
    "reports, advances, a double-entry ledger).",
    no_args_is_help=True,
)
Period = Annotated[
    str,
    typer.Option(
        "--period",
        help="A month YYYY-MM or a quarter YYYY-Qn (declared NAM_QT/THANG_QT).",
    ),
]
Facility = Annotated[
    str | None,
    typer.Option("--facility", help="One facility (MA_CSKCB); default: all."),
]


def run_settlement(
    settings: Settings,
    period: str,
    facility: str | None,
    *,
    excel: bool | None = None,
    posted_at: str | None = None,
    actor: str | None = None,
) -> tuple[Settlement, pl.DataFrame, Path]:
    """:func:`claims.pipeline.settlement.settle_period` under the writer lock;
    (settlement, posted rows, folder). ``posted_at`` stamps the postings; default:
    :func:`now`; ``actor`` posts them (the audit trail's; default:
    ``claims.cli.users.actor_of``).

    Raises:
        ConfigError: no decided claim declares the period, or it overlaps a posted one.
        ReconciliationError: the settlement does not add up (nothing written).
    """
    with writing(settings, f"settle run --period {period}"):
        return settle_period(
            settings, period, facility, excel=excel, posted_at=posted_at or now(),
            actor=actor_of(actor),
        )  # fmt: skip


def print_settlement(
    settlement: Settlement,
    posted: pl.DataFrame,
    folder: Path,
    fmt: Format = Format.table,
) -> None:
    """The settlement per facility (the first 20 in a table, all in JSON and CSV), its
    totals and the ledger entries posted; notes on stderr."""
    facilities = settlement.frames["facilities"]
    shown = (
        "ma_cskcb", "claims", "requested", "accepted", "rejected", "pending_amount",
        "advances", "due", "carried_forward",
    )  # fmt: skip
    title = f"settlement {settlement.settlement_id} — {settlement.period}"
    totals = facilities.select(
        pl.len().alias("facilities"), *[pl.col(c).sum() for c in shown[1:]]
    )
    kinds = (
        posted.group_by("kind")
        .agg(pl.len().alias("entries"), pl.col("debit").sum())
        .sort("kind")
    )
    listings: list[Listing] = [
        (f"{title} (per facility)", facilities.select(shown)),
        ("settlement totals", totals),
    ]
    if fmt is Format.table:
        emit(out, listings[:1], fmt, limit=20)
        if facilities.height > 20:
            err.print(f"… {facilities.height - 20:,} more facilities (see {folder})")
        emit(out, listings[1:], fmt)
        if posted.height:
            emit(out, [("ledger entries posted", kinds)], fmt)
    else:
        names = ("facilities", "totals", "ledger_entries_posted")
        frames = [*[f for _, f in listings], kinds]
        emit(out, list(zip(names, frames, strict=True)), fmt)
    for line in carried_forward_messages(facilities):
        err.print(line)
    if not posted.height:
        err.print("ledger: nothing changed since the last posting of this period")
    err.print(f"outputs: {folder}")


def carried_forward_messages(facilities: pl.DataFrame) -> list[str]:
    """One line per facility whose advances are above what it is due."""
    over = facilities.filter(pl.col("carried_forward") > 0)
    return [
        f"advance above the amount due: {r['ma_cskcb']} was advanced "
        f"{r['advances']:,.2f} against {r['accepted']:,.2f} accepted; nothing is due "
        f"for {r['period']} and {r['carried_forward']:,.2f} is carried forward to "
        f"{r['carried_to']}, whose settlement nets it"
        for r in over.iter_rows(named=True)
    ]


@app.command("run")
def run_cmd(
    period: Period,
    facility: Facility = None,
    excel: Annotated[
        bool | None,
        typer.Option(
            "--excel/--no-excel",
            help=f"Excel per facility (default: when at most {EXCEL_LIMIT} facilities).",
        ),
    ] = None,
    user: Actor = None,
    data_dir: DataDir = None,
    wait: Wait = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Settle a period: C79/C80-like totals per facility, rejections, pending claims, ledger.

    It writes the store: while another command writes it, this waits (--wait).
    """
    settings = settings_for(data_dir, None, wait=wait)
    try:
        settlement, posted, folder = run_settlement(
            settings, period, facility, excel=excel, actor=user
        )
    except ClaimsError as exc:
        raise fail(exc) from exc
    print_settlement(settlement, posted, folder, fmt)


def _find(settings: Settings, settlement_id: str) -> Path:
    found = find_settlement(settings, settlement_id)
    if found is None:
        msg = (
            f"no settlement {settlement_id!r} under {settings.data_dir / 'settlements'}"
        )
        raise fail(ValueError(msg))
    return found


@app.command("diff")
def diff_cmd(
    run_a: Annotated[str, typer.Argument(help="The earlier settlement id.")],
    run_b: Annotated[str, typer.Argument(help="The later settlement id.")],
    data_dir: DataDir = None,
    fmt: FormatOption = Format.table,
) -> None:
    """What changed between two settlements, per facility, claim and cost group."""
    from claims.settle.diff import diff

    settings = settings_for(data_dir, None)
    a = pl.read_parquet(_find(settings, run_a) / "claims.parquet")
    b = pl.read_parquet(_find(settings, run_b) / "claims.parquet")
    changes = diff(a, b)
    if fmt is Format.table:
        listings = [(f"{t}: {f.height:,} changed", f) for t, f in changes.items()]
        emit(out, listings, fmt, limit=25)
    else:
        emit(out, list(changes.items()), fmt)


def audit(
    period: Annotated[
        str, typer.Option("--period", help="The settled period, YYYY-MM or YYYY-Qn.")
    ],
    pack: Annotated[
        str,
        typer.Option("--pack", help="The pack version to re-assess with, ID@VERSION."),
    ],
    facility: Facility = None,
    post: Annotated[
        bool,
        typer.Option(
            "--post",
            help="Post the recoveries and underpayments to the ledger (claims "
            "pending review are never posted).",
        ),
    ] = False,
    user: Actor = None,
    data_dir: DataDir = None,
    catalog_dir: CatalogDir = None,
    wait: Wait = None,
    fmt: FormatOption = Format.table,
    memory_budget: MemoryBudget = None,
    engine: EngineOption = EngineChoice.local,
    scheduler: SchedulerOption = None,
) -> None:
    """Post-audit (hậu kiểm): re-assess a settled period with another pack or catalogs and
    report recoveries and underpayments per facility, rule and claim (decisions untouched).

    A period larger than --memory-budget is re-assessed in groups of whole facilities
    (each seeing the whole store), one after the other or on a Dask cluster (--engine
    dask): the report is the same."""
    from claims.pipeline.audit import run_audit

    scale = Scale(memory_budget, engine, scheduler)
    scale.check()
    settings = scale.settings(settings_for(data_dir, catalog_dir, wait=wait))
    try:
        report, folder = run_audit(
            settings,
            period,
            pack,
            facility,
            engine="dask" if scale.engine is EngineChoice.dask else "local",
            scheduler=scale.scheduler,
        )
    except ClaimsError as exc:
        raise fail(exc) from exc
    _print_audit(report, fmt)
    err.print(f"outputs: {folder}")
    if post:
        from claims.store.runs import open_store

        with (
            writing(settings, f"audit --post --period {period}"),
            open_store(settings.store_path) as con,
        ):
            written = post_audit(
                con, folder.name, period, report["ledger_proposal"],
                posted_at=now(), actor=actor_of(user),
            )  # fmt: skip
        if written.height:
            err.print(f"ledger: {written.height // 2:,} recovery transaction(s) posted")
        else:
            err.print(
                "ledger: nothing to post (no difference, or this audit was posted)"
            )


def _print_audit(report: dict[str, pl.DataFrame], fmt: Format) -> None:
    """The audit per facility, rule and claim, and the claims pending review apart."""
    pending = report["pending"].select(
        "ma_cskcb", "ma_lk", "settled_outcome", "audit_outcome", "settled"
    )
    if fmt is not Format.table:
        names = ("facilities", "rules", "claims")
        emit(out, [*[(n, report[n]) for n in names], ("pending", pending)], fmt)
        return
    emit(out, [("audit per facility", report["facilities"])], fmt, limit=20)
    emit(out, [("audit per rule", report["rules"])], fmt, limit=20)
    emit(out, [("audit per claim (largest first)", report["claims"])], fmt, limit=15)
    if pending.height:
        title = (
            f"claims pending review, listed apart ({pending.height:,}): "
            "neither recovered nor paid until reviewed"
        )
        emit(out, [(title, pending)], fmt, limit=15)
