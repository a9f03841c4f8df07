"""``giamdinh settle advance …``: record an advance (tạm ứng) paid to a facility under
contract, list the advances, reverse one; each write holds the store's writer lock."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated, Any

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
from claims.cli.listing import Format, FormatOption, emit
from claims.config import Settings
from claims.errors import ClaimsError, ConfigError
from claims.settle import (
    advance_entries,
    advance_id,
    advance_reversal_entries,
    advance_reversal_id,
    months_of,
    overlapping,
    refuse_unknown_facility,
)

if TYPE_CHECKING:
    import duckdb

Facility = Annotated[
    str | None,
    typer.Option("--facility", help="One facility (MA_CSKCB); default: all."),
]


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


advance_app = typer.Typer(
    help="Advances (tạm ứng) paid to facilities: record one (--facility, --period, "
    "--amount), list them, reverse one.",
)
OptionalPeriod = Annotated[
    str | None,
    typer.Option("--period", help="A month YYYY-MM or a quarter YYYY-Qn."),
]


@advance_app.callback(invoke_without_command=True)
def advance_cmd(
    ctx: typer.Context,
    facility: Annotated[
        str | None, typer.Option("--facility", help="The facility paid (MA_CSKCB).")
    ] = None,
    period: OptionalPeriod = None,
    amount: Annotated[
        str | None,
        typer.Option("--amount", help="Amount in đồng, e.g. 150000000.00."),
    ] = None,
    data_dir: DataDir = None,
    catalog_dir: CatalogDir = None,
    wait: Wait = None,
) -> None:
    """Record an advance (tạm ứng) paid to a facility under contract; the settlements of
    the period net it, and carry forward what it exceeds their amount due by."""
    given = {"--facility": facility, "--period": period, "--amount": amount}
    if ctx.invoked_subcommand is not None:
        if any(v is not None for v in given.values()):
            msg = "--facility, --period and --amount record an advance: give them alone"
            raise fail(ValueError(msg))
        return
    if facility is None or period is None or amount is None:
        missing = [name for name, value in given.items() if value is None]
        msg = (
            f"recording an advance needs {', '.join(missing)}; or see "
            "`giamdinh settle advance list` and `giamdinh settle advance reverse ID`"
        )
        raise fail(ValueError(msg))
    settings = settings_for(data_dir, catalog_dir, wait=wait)
    try:
        value = advance_amount(amount)
        check_advance(settings, facility, period)
    except ClaimsError as exc:
        raise fail(exc) from exc
    from claims.store.runs import open_store

    with (
        writing(settings, f"settle advance --facility {facility}"),
        open_store(settings.store_path) as con,
    ):
        advance = record_advance(
            con, facility, period, value, recorded_at=now(precise=True)
        )
    err.print(
        f"advance {advance}: {value:,.2f} to {facility} for {period} recorded and posted"
    )


def advance_amount(text: str) -> Decimal:
    """The amount of an advance: positive, in đồng, at most 2 decimals.

    Raises:
        ConfigError: ``text`` is not such an amount.
    """
    from claims.money import round_money

    try:
        value = Decimal(text)
        if value.is_finite() and value > 0 and value == round_money(value):
            return value
    except InvalidOperation:
        pass
    msg = f"--amount {text!r} is not a positive amount with at most 2 decimals"
    raise ConfigError(msg)


def check_advance(settings: Settings, facility: str, period: str) -> None:
    """Refuse an advance to a facility the ``facilities`` catalog does not know, or
    whose contract with the fund does not cover the period.

    Raises:
        ConfigError: the period is not one, or the facility cannot be paid for it.
    """
    from catalogs import load_catalogs

    catalog = load_catalogs(settings.catalog_dir, ids=["facilities"])["facilities"]
    refuse_unknown_facility(catalog.resolve(), facility, period)


@advance_app.command("list")
def advance_list_cmd(
    facility: Facility = None,
    period: OptionalPeriod = None,
    data_dir: DataDir = None,
    fmt: FormatOption = Format.table,
) -> None:
    """The advances recorded (of a facility, for periods overlapping --period), each
    with its reversal if it was reversed, and the total standing."""
    from claims.store.ledger import advances_of
    from claims.store.runs import open_store

    settings = settings_for(data_dir, None)
    try:
        if period is not None:
            months_of(period)
        with open_store(settings.store_path, read_only=True) as con:
            found = advances_of(con, facility=facility)
    except ClaimsError as exc:
        raise fail(exc) from exc
    if period is not None:
        periods = overlapping(period, found["period"].unique().to_list())
        found = found.filter(pl.col("period").is_in(periods))
    standing = found.filter(pl.col("reversal_id").is_null())
    totals = standing.group_by("ma_cskcb").agg(
        pl.len().alias("advances"), pl.col("amount").sum()
    )
    if fmt is Format.table:
        emit(out, [(f"advances: {found.height:,}", found)], fmt, limit=200)
        emit(out, [("standing advances per facility", totals.sort("ma_cskcb"))], fmt)
    else:
        emit(out, [("advances", found), ("standing", totals.sort("ma_cskcb"))], fmt)


@advance_app.command("reverse")
def advance_reverse_cmd(
    advance: Annotated[
        str, typer.Argument(help="The advance id (see `giamdinh settle advance list`).")
    ],
    data_dir: DataDir = None,
    wait: Wait = None,
) -> None:
    """Reverse an advance recorded by mistake: a balanced ledger transaction undoes it,
    and settlements stop netting it (the advance stays listed, marked reversed)."""
    from claims.store.ledger import posted_periods
    from claims.store.runs import open_store

    settings = settings_for(data_dir, None, wait=wait)
    try:
        with (
            writing(settings, f"settle advance reverse {advance}"),
            open_store(settings.store_path) as con,
        ):
            reversal, row = reverse_advance(con, advance, recorded_at=now(precise=True))
            posted = posted_periods(con, [row["ma_cskcb"]], other_than="")
    except ClaimsError as exc:
        raise fail(exc) from exc
    err.print(
        f"advance {advance} ({row['amount']:,.2f} to {row['ma_cskcb']} for "
        f"{row['period']}) reversed by {reversal}"
    )
    for settled in overlapping(row["period"], posted):
        err.print(
            f"{settled} is settled and posted for {row['ma_cskcb']}: settle it again "
            f"(`giamdinh settle run --period {settled}`) so that its posting nets the "
            "advances that stand"
        )


def reverse_advance(
    con: duckdb.DuckDBPyConnection, advance: str, *, recorded_at: str
) -> tuple[str, dict[str, Any]]:
    """Reverse advance ``advance``: record the reversal and post its entries
    (``claims.settle.ledger.advance_reversal_entries``); (reversal id, the advance).

    Raises:
        ConfigError: no advance has that id, or it was reversed already.
    """
    from claims.store.ledger import advances_of, append_advance_reversal

    found = advances_of(con).filter(pl.col("advance_id") == advance)
    if found.height == 0:
        msg = f"no advance {advance!r}; `giamdinh settle advance list` shows them"
        raise ConfigError(msg)
    row = found.row(0, named=True)
    if row["reversal_id"] is not None:
        msg = (
            f"advance {advance} was reversed already, by {row['reversal_id']} "
            f"at {row['reversed_at']}"
        )
        raise ConfigError(msg)
    reversal = advance_reversal_id(advance, recorded_at)
    entries = advance_reversal_entries(
        row["ma_cskcb"], row["period"], row["amount"], advance, reversal
    )
    append_advance_reversal(
        con,
        entries,
        reversal_id=reversal,
        advance_id=advance,
        recorded_at=recorded_at,
    )
    return reversal, row
