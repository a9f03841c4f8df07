"""``giamdinh settle …`` and ``giamdinh audit``: settlements, advances, diffs, post-audit."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from claims.cli.common import CatalogDir, DataDir, err, fail, print_frame, settings_for
from claims.config import Settings
from claims.errors import ClaimsError, ConfigError
from claims.settle.compute import Settlement

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
EXCEL_LIMIT = 50
"""Excel workbooks are written per facility when a settlement has at most this many."""


def settlement_dir(settings: Settings, settlement: Settlement) -> Path:
    return (
        settings.data_dir / "settlements" / settlement.period / settlement.settlement_id
    )


def run_settlement(
    settings: Settings, period: str, facility: str | None, *, excel: bool | None = None
) -> tuple[Settlement, pl.DataFrame, Path]:
    """Settle, write the outputs, post to the ledger; (settlement, posted rows, folder)."""
    from claims.settle.compute import current_decisions, months_of, settle, write_frames
    from claims.settle.ledger import advances_for, post, refuse_overlaps
    from claims.store.runs import open_store

    months = months_of(period)
    with open_store(settings.store_path) as con:
        decisions, lines, reasons = current_decisions(con, months, facility)
        if decisions.height == 0:
            scope = f" of facility {facility}" if facility else ""
            msg = (
                f"no decided claims{scope} declare NAM_QT/THANG_QT in {period}; "
                "check the period (YYYY-MM or YYYY-Qn) and that the month was run"
            )
            raise ConfigError(msg)
        advances = advances_for(con, [period, *months], facility)
        settlement = settle(decisions, lines, reasons, advances, period=period)
        refuse_overlaps(con, settlement)  # before any output is written
        folder = settlement_dir(settings, settlement)
        write_frames(folder, settlement.frames)
        facilities = settlement.frames["facilities"].height
        if excel if excel is not None else facilities <= EXCEL_LIMIT:
            _excel(folder / "excel", settlement)
        posted = post(con, settlement)
    return settlement, posted, folder


def _excel(folder: Path, settlement: Settlement) -> None:
    try:
        from claims.settle.excel import write_workbooks
    except ImportError:  # pragma: no cover - openpyxl is a dependency
        err.print("Excel output skipped: openpyxl is not installed")
        return
    write_workbooks(
        folder,
        settlement.frames,
        period=settlement.period,
        settlement_id=settlement.settlement_id,
    )


def print_settlement(
    settlement: Settlement, posted: pl.DataFrame, folder: Path
) -> None:
    facilities = settlement.frames["facilities"]
    print_frame(
        f"settlement {settlement.settlement_id} — {settlement.period} (per facility)",
        facilities.select(
            "ma_cskcb",
            "claims",
            "requested",
            "accepted",
            "rejected",
            "pending_claims",
            "advances",
            "due",
        ),
        limit=20,
    )
    if facilities.height > 20:
        err.print(f"… {facilities.height - 20:,} more facilities (see {folder})")
    totals = facilities.select(
        pl.len().alias("facilities"),
        *[
            pl.col(c).sum()
            for c in ("claims", "requested", "accepted", "rejected", "advances", "due")
        ],
    )
    print_frame("settlement totals", totals)
    if posted.height:
        kinds = (
            posted.group_by("kind")
            .agg(pl.len().alias("entries"), pl.col("debit").sum())
            .sort("kind")
        )
        print_frame("ledger entries posted", kinds)
    else:
        err.print("ledger: nothing changed since the last posting of this period")
    err.print(f"outputs: {folder}")


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
    data_dir: DataDir = None,
) -> None:
    """Settle a period: C79/C80-like totals per facility, rejections, pending claims, ledger."""
    settings = settings_for(data_dir, None)
    try:
        settlement, posted, folder = run_settlement(
            settings, period, facility, excel=excel
        )
    except ClaimsError as exc:
        raise fail(exc) from exc
    print_settlement(settlement, posted, folder)


@app.command("advance")
def advance_cmd(
    facility: Annotated[
        str, typer.Option("--facility", help="The facility paid (MA_CSKCB).")
    ],
    period: Period,
    amount: Annotated[
        str, typer.Option("--amount", help="Amount in đồng, e.g. 150000000.00.")
    ],
    data_dir: DataDir = None,
) -> None:
    """Record an advance (tạm ứng) paid to a facility; settlements of the period net it."""
    from claims.money import round_money
    from claims.settle.compute import months_of
    from claims.settle.ledger import record_advance
    from claims.store.runs import open_store

    try:
        months_of(period)
        value = Decimal(amount)
        if not value.is_finite() or value <= 0 or value != round_money(value):
            raise InvalidOperation
    except InvalidOperation as exc:
        raise fail(
            ValueError(
                f"--amount {amount!r} is not a positive amount with at most 2 decimals"
            )
        ) from exc
    except ClaimsError as exc:
        raise fail(exc) from exc
    settings = settings_for(data_dir, None)
    with open_store(settings.store_path) as con:
        advance_id = record_advance(con, facility, period, value)
    err.print(
        f"advance {advance_id}: {value:,.2f} to {facility} for {period} recorded and posted"
    )


def _find(settings: Settings, settlement_id: str) -> Path:
    found = sorted((settings.data_dir / "settlements").glob(f"*/{settlement_id}"))
    if not found:
        msg = (
            f"no settlement {settlement_id!r} under {settings.data_dir / 'settlements'}"
        )
        raise fail(ValueError(msg))
    return found[0]


@app.command("diff")
def diff_cmd(
    run_a: Annotated[str, typer.Argument(help="The earlier settlement id.")],
    run_b: Annotated[str, typer.Argument(help="The later settlement id.")],
    data_dir: DataDir = None,
) -> None:
    """What changed between two settlements, per facility, claim and cost group."""
    from claims.settle.diff import diff

    settings = settings_for(data_dir, None)
    a = pl.read_parquet(_find(settings, run_a) / "claims.parquet")
    b = pl.read_parquet(_find(settings, run_b) / "claims.parquet")
    changes = diff(a, b)
    for title, frame in changes.items():
        print_frame(f"{title}: {frame.height:,} changed", frame, limit=25)


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
            "--post", help="Post the recoveries and underpayments to the ledger."
        ),
    ] = False,
    data_dir: DataDir = None,
    catalog_dir: CatalogDir = None,
) -> None:
    """Post-audit (hậu kiểm): re-assess a settled period with another pack or catalogs and
    report recoveries and underpayments per facility, rule and claim (decisions untouched)."""
    from claims.pipeline.audit import run_audit

    settings = settings_for(data_dir, catalog_dir)
    try:
        report, folder = run_audit(settings, period, pack, facility)
    except ClaimsError as exc:
        raise fail(exc) from exc
    print_frame("audit per facility", report["facilities"], limit=20)
    print_frame("audit per rule", report["rules"], limit=20)
    print_frame("audit per claim (largest first)", report["claims"], limit=15)
    err.print(f"outputs: {folder}")
    if post:
        from claims.settle.ledger import post_audit
        from claims.store.runs import open_store

        with open_store(settings.store_path) as con:
            written = post_audit(con, folder.name, period, report["ledger_proposal"])
        if written.height:
            err.print(f"ledger: {written.height // 2:,} recovery transaction(s) posted")
        else:
            err.print(
                "ledger: nothing to post (no difference, or this audit was posted)"
            )
