"""Settlements and post-audit postings, composed from ``claims.settle`` and the store.

Engine (what ``giamdinh settle …`` and ``giamdinh audit --post`` call):
:func:`compute_settlement` (a period's settlement from the store), :func:`check_overlaps`,
:func:`post_settlement` and :func:`post_audit` (the ledger), :func:`write_settlement`
(the report files: Parquet, CSV and the Excel workbooks) and :func:`settle_period`
(all of them in order).

For the API (plain values, no printing): :func:`start_settlement`,
:func:`settlement_status`, :func:`settlement_files`, :func:`ledger_diff`,
:func:`list_settlements`. Money in their dicts is a string of the exact decimal
(``"1234567.00"``), never a float.

Nothing here takes the writer lock: a caller that writes holds it (the CLI with
``claims.cli.common.writing``, the API on its one worker thread). Time stamps are given
by the caller; nothing reads the clock.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from claims.config import Settings
from claims.errors import ConfigError
from claims.schema import LEDGER_SCHEMA
from claims.settle import (
    Settlement,
    audit_entries,
    earlier,
    months_of,
    reconcile,
    refuse_overlaps,
    repost,
    settle,
)
from claims.store.events import SYSTEM_ACTOR, append_event

if TYPE_CHECKING:
    import duckdb

EXCEL_LIMIT = 50
"""Excel workbooks are written per facility when a settlement has at most this many."""
TOTALS = (
    "claims", "requested", "accepted", "rejected", "pending_amount", "advances", "due",
    "carried_forward",
)  # fmt: skip
"""The columns of a settlement's ``facilities`` frame summed into its totals."""
SETTLEMENT_ID = re.compile(r"^[0-9a-f]{16}$")
"""What a settlement id looks like (``claims.ids.content_id``)."""
Kind = Literal["month", "quarter"]


def settlement_dir(settings: Settings, settlement: Settlement) -> Path:
    """``<data-dir>/settlements/<period>/<settlement_id>``: its report files."""
    return (
        settings.data_dir / "settlements" / settlement.period / settlement.settlement_id
    )


def compute_settlement(
    con: duckdb.DuckDBPyConnection,
    period: str,
    facility: str | None,
    hold_risk: float | None = None,
) -> Settlement:
    """The settlement of ``period`` (one facility, or all) from the store's current
    decisions, the advances recorded for the period and those carried in from earlier
    periods (the ``facility_advance`` balance of their ledger entries). With
    ``hold_risk``, claims held by their anomaly risk and not reviewed yet are pending
    (``claims.store.settlements.current_decisions``)."""
    from claims.store.ledger import advance_balances, advances_for, ledger_periods
    from claims.store.settlements import current_decisions, quarantined_amounts

    months = months_of(period)
    decisions, lines, reasons = current_decisions(con, months, facility, hold_risk)
    if decisions.height == 0:
        scope = f" of facility {facility}" if facility else ""
        msg = (
            f"no decided claims{scope} declare NAM_QT/THANG_QT in {period}; "
            "check the period (YYYY-MM or YYYY-Qn) and that the month was run"
        )
        raise ConfigError(msg)
    before = earlier(period, ledger_periods(con))
    return settle(
        decisions,
        lines,
        reasons,
        advances_for(con, [period, *months], facility),
        period=period,
        scope=facility,
        carried_in=advance_balances(con, before, facility),
        amounts=quarantined_amounts(con, decisions),
    )


def check_overlaps(con: duckdb.DuckDBPyConnection, settlement: Settlement) -> None:
    """Raise ConfigError when a facility of ``settlement`` was posted for an overlapping
    period of the other cadence (see :func:`post_settlement`)."""
    from claims.store.ledger import posted_periods

    facilities = settlement.frames["facilities"]["ma_cskcb"].to_list()
    period = settlement.period
    refuse_overlaps(period, posted_periods(con, facilities, other_than=period))


def post_settlement(
    con: duckdb.DuckDBPyConnection,
    settlement: Settlement,
    *,
    posted_at: str,
    actor: str = SYSTEM_ACTOR,
) -> pl.DataFrame:
    """Post a settlement: reverse the changed facilities' active postings, post theirs
    (``claims.settle.ledger.repost``), stamped ``posted_at``, and its audit-trail event
    (``settlement.posted`` by ``actor``, subject ``settlement:<id>``: before, the
    changed facilities' previous active settlement; after, the period, each changed
    facility's accepted and due amounts, the entries written); one transaction.

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
        before, after = _posting_change(settlement, posted, change.facilities)
        after["entries"] = change.entries.height
        append_posting(
            con,
            change.entries,
            period=settlement.period,
            settlement_id=settlement.settlement_id,
            facilities=change.facilities,
            posted_at=posted_at,
            also=lambda c: append_event(
                c, at=posted_at, actor=actor, action="settlement.posted",
                subject=f"settlement:{settlement.settlement_id}", before=before,
                after=after,
            ),
        )  # fmt: skip
    return change.entries


def _posting_change(
    settlement: Settlement, posted: pl.DataFrame, facilities: Sequence[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``before`` and ``after`` of a settlement's posting event."""
    previous = posted.group_by("ma_cskcb").agg(pl.col("settlement_id").first())
    was = dict(zip(previous["ma_cskcb"], previous["settlement_id"], strict=True))
    rows = settlement.frames["facilities"].filter(
        pl.col("ma_cskcb").is_in(list(facilities))
    )
    shown = [c for c in ("accepted", "due") if c in rows.columns]
    amounts = {
        r["ma_cskcb"]: {c: str(r[c]) for c in shown} for r in rows.iter_rows(named=True)
    }
    before = {"active_settlement": {f: was.get(f) for f in facilities}}
    after = {"period": settlement.period, "facilities": amounts}
    return before, after


def post_audit(
    con: duckdb.DuckDBPyConnection,
    audit_id: str,
    period: str,
    proposal: pl.DataFrame,
    *,
    posted_at: str,
    actor: str = SYSTEM_ACTOR,
) -> pl.DataFrame:
    """Post an audit's proposal (``claims.settle.ledger.audit_entries``) with its
    audit-trail event (``audit.posted`` by ``actor`` at ``posted_at``, subject
    ``audit:<id>``; after: the period, each facility's amount, the entries), in one
    transaction. An audit already posted, or with nothing to post, posts nothing (and
    no event). Returns the rows written."""
    from claims.store.ledger import append_entries, has_entries

    if has_entries(con, audit_id):
        return pl.DataFrame(schema=LEDGER_SCHEMA)
    written = audit_entries(audit_id, period, proposal)
    amounts = proposal.group_by("ma_cskcb").agg(pl.col("amount").sum()).sort("ma_cskcb")
    after = {
        "period": period,
        "facilities": {r[0]: str(r[1]) for r in amounts.iter_rows()},
        "entries": written.height,
    }
    append_entries(
        con, written,
        also=lambda c: append_event(
            c, at=posted_at, actor=actor, action="audit.posted",
            subject=f"audit:{audit_id}", after=after,
        ),
    )  # fmt: skip
    return written


def write_settlement(
    folder: Path, settlement: Settlement, *, excel: bool | None = None
) -> None:
    """The settlement's frames under ``folder`` (``<frame>.parquet`` and ``.csv``) and,
    with ``excel`` (default: at most :data:`EXCEL_LIMIT` facilities), one workbook per
    facility under ``folder/excel``."""
    from claims.settle.excel import workbooks
    from claims.store.settlements import write_frames, write_workbooks

    write_frames(folder, settlement.frames)
    facilities = settlement.frames["facilities"].height
    if excel if excel is not None else facilities <= EXCEL_LIMIT:
        books = workbooks(
            settlement.frames,
            period=settlement.period,
            settlement_id=settlement.settlement_id,
        )
        write_workbooks(folder / "excel", books)


def settle_period(
    settings: Settings,
    period: str,
    facility: str | None,
    *,
    posted_at: str,
    excel: bool | None = None,
    actor: str = SYSTEM_ACTOR,
) -> tuple[Settlement, pl.DataFrame, Path]:
    """Settle, check that it reconciles, write the outputs, post to the ledger (by
    ``actor``, in the audit trail); (settlement, posted rows, folder). The caller holds
    the writer lock.

    Raises:
        ConfigError: there is no store, no decided claim declares the period, or it
            overlaps a posted one.
        ReconciliationError: the settlement does not add up (nothing written).
    """
    from claims.store.runs import open_store

    need_store(settings)
    with open_store(settings.store_path) as con:
        settlement = compute_settlement(
            con, period, facility, settings.review_risk_threshold
        )
        check_overlaps(con, settlement)  # before any output is written
        reconcile(settlement.frames)
        folder = settlement_dir(settings, settlement)
        write_settlement(folder, settlement, excel=excel)
        posted = post_settlement(con, settlement, posted_at=posted_at, actor=actor)
    return settlement, posted, folder


def need_store(settings: Settings) -> None:
    """Refuse a data folder without a store (a misspelled one must not get an empty
    store)."""
    if not settings.store_path.is_file():
        msg = (
            f"no store at {settings.store_path}: check --data-dir (or "
            "GIAMDINH_DATA_DIR); `giamdinh run` creates the store"
        )
        raise ConfigError(msg)


# ---- for the API: plain values


def start_settlement(
    settings: Settings,
    *,
    period: str,
    kind: Kind,
    facility: str | None = None,
    actor: str,
    at: str,
) -> dict[str, Any]:
    """Settle ``period`` (a ``kind`` of period) and post it, stamped ``at`` by ``actor``;
    what :func:`settlement_status` then says of it (``posted_by``, ``posted_at``, the
    ledger ``entries_posted`` added). The caller holds the writer lock.

    Raises:
        ConfigError: ``period`` is not a ``kind`` (``YYYY-MM`` for a month,
            ``YYYY-Qn`` for a quarter), or :func:`settle_period` refuses it.
    """
    months = months_of(period)
    if kind not in ("month", "quarter") or (len(months) == 1) != (kind == "month"):
        form = {"month": "YYYY-MM", "quarter": "YYYY-Qn"}.get(kind, "")
        msg = (
            f"period {period!r} is not a {kind}"
            + (f" ({form})" if form else "; the kinds are month and quarter")
            + "; give a period of that form, or the other kind"
        )
        raise ConfigError(msg)
    _, posted, folder = settle_period(
        settings, period, facility, posted_at=at, actor=actor
    )
    found = _describe(settings, folder)
    return {
        **found,
        "facility": facility,
        "kind": kind,
        "posted_by": actor,
        "posted_at": at,
        "entries_posted": posted.height,
    }


def start_audit(
    settings: Settings,
    *,
    period: str,
    pack: str,
    facility: str | None = None,
    post: bool = False,
    actor: str,
    at: str,
) -> dict[str, Any]:
    """Post-audit ``period`` with ``pack`` (``ID@VERSION``;
    ``claims.pipeline.audit.run_audit``) and, with ``post``, post its recoveries and
    underpayments (:func:`post_audit`; an audit posted before posts nothing again):
    ``id``, ``period``, ``pack``, ``facility``, ``totals`` over the facilities (money
    as strings), ``pending_claims`` (listed apart, never posted), ``entries_posted``,
    ``files`` (name → path), ``run_by``, ``at``. A caller that posts holds the writer
    lock. Every connection it opens is read-write (what the API server's must be).

    Raises:
        ConfigError: the period or the pack is not one, or no decided claim is in it.
    """
    from claims.pipeline.audit import run_audit
    from claims.store.runs import open_store

    report, folder = run_audit(settings, period, pack, facility, read_only=False)
    posted = 0
    if post:
        need_store(settings)
        with open_store(settings.store_path) as con:
            written = post_audit(
                con, folder.name, period, report["ledger_proposal"],
                posted_at=at, actor=actor,
            )  # fmt: skip
        posted = written.height
    sums = ("claims", "claims_changed", "pending_claims", "settled", "audited")
    totals = report["facilities"].select(
        pl.len().alias("facilities"),
        *[pl.col(c).sum() for c in (*sums, "recovery", "underpayment", "net_recovery")],
    )
    return {
        "id": folder.name,
        "period": period,
        "pack": pack,
        "facility": facility,
        "totals": plain_money(totals.row(0, named=True)),
        "pending_claims": report["pending"].height,
        "entries_posted": posted,
        "files": {
            p.relative_to(folder).as_posix(): str(p)
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        },
        "run_by": actor,
        "at": at,
    }


def find_settlement(settings: Settings, settlement_id: str) -> Path | None:
    """The folder of settlement ``settlement_id``; None when there is none (or the id
    is not one: 16 hex digits)."""
    if not SETTLEMENT_ID.match(settlement_id):
        return None
    root = settings.data_dir / "settlements"
    found = sorted(root.glob(f"*/{settlement_id}")) if root.is_dir() else []
    return found[0] if found else None


def settlement_status(settings: Settings, settlement_id: str) -> dict[str, Any] | None:
    """Settlement ``settlement_id``: ``id``, ``period``, ``facilities``, ``totals``
    (money as strings), ``files`` (name → path), ``postings`` (the facilities it
    posted: whether it is still their active posting, when posted) and ``status``:
    ``posted`` (still the active posting of every facility it posted),
    ``partly_superseded`` or ``superseded`` (a later settlement of the period posted
    some or all of them again) or ``not_posted`` (it posted nothing: nothing had
    changed since an earlier posting of the period). None: no such settlement."""
    folder = find_settlement(settings, settlement_id)
    if folder is None:
        return None
    return _describe(settings, folder)


def settlement_files(settings: Settings, settlement_id: str) -> dict[str, Path]:
    """The report files of settlement ``settlement_id``, for downloads: name (its path
    under the settlement's folder, e.g. ``facilities.csv``, ``excel/01001.xlsx``) →
    file. Empty: no such settlement."""
    folder = find_settlement(settings, settlement_id)
    if folder is None:
        return {}
    return {
        p.relative_to(folder).as_posix(): p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix in (".parquet", ".csv", ".xlsx")
    }


def list_settlements(settings: Settings) -> list[dict[str, Any]]:
    """Every settlement written under the data folder, by period then id, as
    :func:`settlement_status` describes it."""
    root = settings.data_dir / "settlements"
    if not root.is_dir():
        return []
    folders = [
        f
        for f in sorted(root.glob("*/*"))
        if SETTLEMENT_ID.match(f.name) and (f / "facilities.parquet").is_file()
    ]
    if not folders:
        return []
    postings = _postings(settings)
    return [_describe(settings, f, postings) for f in folders]


def ledger_diff(settings: Settings, a: str, b: str) -> list[dict[str, Any]]:
    """What changed between settlements ``a`` and ``b`` (``claims.settle.diff``): one
    row per changed facility (``level`` = ``facility``), claim (``claim``) and cost
    group (``cost_group``), with ``accepted_a``, ``accepted_b`` and ``change`` = b − a
    as strings.

    Raises:
        ConfigError: ``a`` or ``b`` is no settlement under the data folder.
    """
    from claims.settle.diff import diff

    frames = []
    for settlement_id in (a, b):
        folder = find_settlement(settings, settlement_id)
        if folder is None:
            msg = (
                f"no settlement {settlement_id!r} under "
                f"{settings.data_dir / 'settlements'}; list them to pick an id"
            )
            raise ConfigError(msg)
        frames.append(pl.read_parquet(folder / "claims.parquet"))
    levels = {"facilities": "facility", "claims": "claim", "cost_groups": "cost_group"}
    return [
        {"level": levels[name], **plain_money(row)}
        for name, frame in diff(*frames).items()
        for row in frame.to_dicts()
    ]


def _postings(settings: Settings) -> pl.DataFrame:
    """The store's ``postings`` rows (none without a store)."""
    from claims.store.ledger import POSTINGS_SCHEMA, postings_of
    from claims.store.runs import open_store

    if not settings.store_path.is_file():
        return pl.DataFrame(schema=POSTINGS_SCHEMA)
    with open_store(settings.store_path) as con:
        return postings_of(con)


def _describe(
    settings: Settings, folder: Path, postings: pl.DataFrame | None = None
) -> dict[str, Any]:
    """What a settlement's folder and the store's postings say of it."""
    settlement_id = folder.name
    facilities = pl.read_parquet(folder / "facilities.parquet")
    totals = facilities.select(
        pl.len().alias("facilities"), *[pl.col(c).sum() for c in TOTALS]
    ).row(0, named=True)
    posted = (_postings(settings) if postings is None else postings).filter(
        pl.col("settlement_id") == settlement_id
    )
    active = posted.filter(pl.col("active")).height
    status = (
        "not_posted"
        if posted.height == 0
        else "posted"
        if active == posted.height
        else "superseded"
        if active == 0
        else "partly_superseded"
    )
    return {
        "id": settlement_id,
        "period": folder.parent.name,
        "status": status,
        "facilities": facilities["ma_cskcb"].to_list(),
        "totals": plain_money(totals),
        "postings": posted.select("ma_cskcb", "active", "posted_at")
        .sort("ma_cskcb")
        .to_dicts(),
        "files": {
            name: str(path)
            for name, path in settlement_files(settings, settlement_id).items()
        },
    }


def plain_money(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with its Decimal amounts as exact strings."""
    return {k: str(v) if isinstance(v, Decimal) else v for k, v in row.items()}
