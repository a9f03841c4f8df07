"""``giamdinh settle …`` and ``giamdinh audit``: settlements, advances, diffs, post-audit."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import polars as pl
import typer

from claims.cli.common import CatalogDir, DataDir, err, fail, print_frame, settings_for
from claims.config import Settings
from claims.errors import ClaimsError, ConfigError
from claims.schema import LEDGER_SCHEMA
from claims.settle import (
    Settlement,
    advance_entries,
    advance_id,
    audit_entries,
    months_of,
    refuse_overlaps,
    repost,
    settle,
)

if TYPE_CHECKING:
    import duckdb

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


def now(*, precise: bool = False) -> str:
    """The time stamp of a posting or an advance: UTC, to the second, or to the
    microsecond when it enters an id (the clock is read here, not in the settlement or
    the store)."""
    return datetime.now(UTC).isoformat(
        timespec="microseconds" if precise else "seconds"
    )


def run_settlement(
    settings: Settings,
    period: str,
    facility: str | None,
    *,
    excel: bool | None = None,
    posted_at: str | None = None,
) -> tuple[Settlement, pl.DataFrame, Path]:
    """Settle, write the outputs, post to the ledger; (settlement, posted rows, folder).

    ``posted_at`` stamps the postings; default: :func:`now`.
    """
    from claims.store.ledger import advances_for
    from claims.store.runs import open_store
    from claims.store.settlements import current_decisions, write_frames

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
        settlement = settle(
            decisions, lines, reasons, advances, period=period, scope=facility
        )
        check_overlaps(con, settlement)  # before any output is written
        folder = settlement_dir(settings, settlement)
        write_frames(folder, settlement.frames)
        facilities = settlement.frames["facilities"].height
        if excel if excel is not None else facilities <= EXCEL_LIMIT:
            _excel(folder / "excel", settlement)
        posted = post_settlement(con, settlement, posted_at=posted_at or now())
    return settlement, posted, folder


def check_overlaps(con: duckdb.DuckDBPyConnection, settlement: Settlement) -> None:
    """Raise ConfigError when a facility of ``settlement`` was posted for an overlapping
    period of the other cadence (see :func:`post_settlement`)."""
    from claims.store.ledger import posted_periods

    facilities = settlement.frames["facilities"]["ma_cskcb"].to_list()
    period = settlement.period
    refuse_overlaps(period, posted_periods(con, facilities, other_than=period))


def post_settlement(
    con: duckdb.DuckDBPyConnection, settlement: Settlement, *, posted_at: str
) -> pl.DataFrame:
    """Post a settlement: reverse the changed facilities' active postings, post theirs
    (``claims.settle.ledger.repost``), stamped ``posted_at``; one transaction.

    Returns:
        The ledger rows written (empty when nothing changed).

    Raises:
        ConfigError: a facility of the settlement has an active posting for an
            overlapping period of the other cadence (a month inside a settled quarter,
            or a quarter one of whose months was settled): posting both would pay the
            same claims twice.
    """
    from claims.store.ledger import append_posting, posted_entries

    check_overlaps(con, settlement)
    facilities = settlement.frames["facilities"]["ma_cskcb"].to_list()
    posted = posted_entries(con, settlement.period, facilities)
    change = repost(settlement, posted)
    if change.facilities:
        append_posting(
            con,
            change.entries,
            period=settlement.period,
            settlement_id=settlement.settlement_id,
            facilities=change.facilities,
            posted_at=posted_at,
        )
    return change.entries


def record_advance(
    con: duckdb.DuckDBPyConnection,
    facility: str,
    period: str,
    amount: Decimal,
    *,
    recorded_at: str,
) -> str:
    """Record an advance paid to ``facility`` for ``period`` and post it; its id."""
    from claims.store.ledger import append_advance

    advance = advance_id(facility, period, amount, recorded_at)
    append_advance(
        con,
        advance_entries(facility, period, amount, advance),
        advance_id=advance,
        facility=facility,
        period=period,
        amount=amount,
        recorded_at=recorded_at,
    )
    return advance


def post_audit(
    con: duckdb.DuckDBPyConnection, audit_id: str, period: str, proposal: pl.DataFrame
) -> pl.DataFrame:
    """Post an audit's proposal (``claims.settle.ledger.audit_entries``). An audit
    already posted posts nothing again. Returns the rows written."""
    from claims.store.ledger import append_entries, has_entries

    if has_entries(con, audit_id):
        return pl.DataFrame(schema=LEDGER_SCHEMA)
    written = audit_entries(audit_id, period, proposal)
    append_entries(con, written)
    return written


def _excel(folder: Path, settlement: Settlement) -> None:
    try:
        from claims.settle.excel import workbooks
    except ImportError:  # pragma: no cover - openpyxl is a dependency
        err.print("Excel output skipped: openpyxl is not installed")
        return
    from claims.store.settlements import write_workbooks

    books = workbooks(
        settlement.frames,
        period=settlement.period,
        settlement_id=settlement.settlement_id,
    )
    write_workbooks(folder, books)


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
        advance_id = record_advance(
            con, facility, period, value, recorded_at=now(precise=True)
        )
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
        from claims.store.runs import open_store

        with open_store(settings.store_path) as con:
            written = post_audit(con, folder.name, period, report["ledger_proposal"])
        if written.height:
            err.print(f"ledger: {written.height // 2:,} recovery transaction(s) posted")
        else:
            err.print(
                "ledger: nothing to post (no difference, or this audit was posted)"
            )
