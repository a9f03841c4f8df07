"""``giamdinh settle advance …``: record an advance (tạm ứng) paid to a facility under
contract, list the advances, reverse one; each write holds the store's writer lock."""

from __future__ import annotations

from typing import Annotated

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
from claims.cli.users import Actor, actor_of
from claims.errors import ClaimsError
from claims.pipeline.advances import (
    advance_amount,
    advances_listing,
    check_advance,
    record_advance,
    reverse_advance,
    settled_overlaps,
)

__all__ = [
    "advance_amount",
    "advance_app",
    "check_advance",
    "record_advance",
    "reverse_advance",
]

Facility = Annotated[
    str | None,
    typer.Option("--facility", help="One facility (MA_CSKCB); default: all."),
]


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
    user: Actor = None,
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
            con, facility, period, value, recorded_at=now(precise=True),
            actor=actor_of(user),
        )  # fmt: skip
    err.print(
        f"advance {advance}: {value:,.2f} to {facility} for {period} recorded and posted"
    )


@advance_app.command("list")
def advance_list_cmd(
    facility: Facility = None,
    period: OptionalPeriod = None,
    data_dir: DataDir = None,
    fmt: FormatOption = Format.table,
) -> None:
    """The advances recorded (of a facility, for periods overlapping --period), each
    with its reversal if it was reversed, and the total standing."""
    from claims.settle import months_of
    from claims.store.runs import open_store

    settings = settings_for(data_dir, None)
    try:
        if period is not None:
            months_of(period)
        with open_store(settings.store_path, read_only=True) as con:
            found, totals = advances_listing(con, facility, period)
    except ClaimsError as exc:
        raise fail(exc) from exc
    if fmt is Format.table:
        emit(out, [(f"advances: {found.height:,}", found)], fmt, limit=200)
        emit(out, [("standing advances per facility", totals)], fmt)
    else:
        emit(out, [("advances", found), ("standing", totals)], fmt)


@advance_app.command("reverse")
def advance_reverse_cmd(
    advance: Annotated[
        str, typer.Argument(help="The advance id (see `giamdinh settle advance list`).")
    ],
    data_dir: DataDir = None,
    wait: Wait = None,
    user: Actor = None,
) -> None:
    """Reverse an advance recorded by mistake: a balanced ledger transaction undoes it,
    and settlements stop netting it (the advance stays listed, marked reversed)."""
    from claims.store.runs import open_store

    settings = settings_for(data_dir, None, wait=wait)
    try:
        with (
            writing(settings, f"settle advance reverse {advance}"),
            open_store(settings.store_path) as con,
        ):
            reversal, row = reverse_advance(
                con, advance, recorded_at=now(precise=True), actor=actor_of(user)
            )
            again = settled_overlaps(con, row["ma_cskcb"], row["period"])
    except ClaimsError as exc:
        raise fail(exc) from exc
    err.print(
        f"advance {advance} ({row['amount']:,.2f} to {row['ma_cskcb']} for "
        f"{row['period']}) reversed by {reversal}"
    )
    for settled in again:
        err.print(
            f"{settled} is settled and posted for {row['ma_cskcb']}: settle it again "
            f"(`giamdinh settle run --period {settled}`) so that its posting nets the "
            "advances that stand"
        )
