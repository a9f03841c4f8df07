"""Advances (tạm ứng) paid to facilities under contract: record, list, reverse.

Engine (what ``giamdinh settle advance …`` calls): :func:`advance_amount`,
:func:`check_advance`, :func:`record_advance`, :func:`reverse_advance`,
:func:`advances_listing`. For the API (plain values): :func:`add_advance`,
:func:`cancel_advance`, :func:`list_advances`; money in their dicts is a string of the
exact decimal, never a float.

Nothing here takes the writer lock: a caller that writes holds it. Time stamps are given
by the caller (``recorded_at``/``at``, to the microsecond: they enter the ids).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import polars as pl

from claims.config import Settings
from claims.errors import ConfigError
from claims.pipeline.settlement import need_store, plain_money
from claims.settle import (
    advance_entries,
    advance_id,
    advance_reversal_entries,
    advance_reversal_id,
    months_of,
    overlapping,
    refuse_unknown_facility,
)
from claims.store.events import SYSTEM_ACTOR, append_event

if TYPE_CHECKING:
    import duckdb


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


def record_advance(
    con: duckdb.DuckDBPyConnection,
    facility: str,
    period: str,
    amount: Decimal,
    *,
    recorded_at: str,
    actor: str = SYSTEM_ACTOR,
) -> str:
    """Record an advance paid to ``facility`` for ``period`` and post it, with its
    ``advance.recorded`` event by ``actor``; its id."""
    from claims.store.ledger import append_advance

    advance = advance_id(facility, period, amount, recorded_at)
    after = {"ma_cskcb": facility, "period": period, "amount": str(amount)}
    append_advance(
        con,
        advance_entries(facility, period, amount, advance),
        advance_id=advance,
        facility=facility,
        period=period,
        amount=amount,
        recorded_at=recorded_at,
        also=lambda c: append_event(
            c, at=recorded_at, actor=actor, action="advance.recorded",
            subject=f"advance:{advance}", after=after,
        ),
    )  # fmt: skip
    return advance


def reverse_advance(
    con: duckdb.DuckDBPyConnection,
    advance: str,
    *,
    recorded_at: str,
    actor: str = SYSTEM_ACTOR,
) -> tuple[str, dict[str, Any]]:
    """Reverse advance ``advance``: record the reversal and post its entries
    (``claims.settle.ledger.advance_reversal_entries``), with its ``advance.reversed``
    event by ``actor``; (reversal id, the advance).

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
    before = {"ma_cskcb": row["ma_cskcb"], "period": row["period"],
              "amount": str(row["amount"]), "reversal_id": None}  # fmt: skip
    append_advance_reversal(
        con,
        entries,
        reversal_id=reversal,
        advance_id=advance,
        recorded_at=recorded_at,
        also=lambda c: append_event(
            c, at=recorded_at, actor=actor, action="advance.reversed",
            subject=f"advance:{advance}", before=before,
            after={**before, "reversal_id": reversal},
        ),
    )  # fmt: skip
    return reversal, row


def advances_listing(
    con: duckdb.DuckDBPyConnection, facility: str | None, period: str | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The advances recorded (of ``facility``, for periods overlapping ``period``), each
    with its reversal if it was reversed, and the standing ones' count and sum per
    facility; (advances, standing).

    Raises:
        ConfigError: ``period`` is not a period.
    """
    from claims.store.ledger import advances_of

    if period is not None:
        months_of(period)
    found = advances_of(con, facility=facility)
    if period is not None:
        periods = overlapping(period, found["period"].unique().to_list())
        found = found.filter(pl.col("period").is_in(periods))
    standing = found.filter(pl.col("reversal_id").is_null())
    totals = standing.group_by("ma_cskcb").agg(
        pl.len().alias("advances"), pl.col("amount").sum()
    )
    return found, totals.sort("ma_cskcb")


def settled_overlaps(
    con: duckdb.DuckDBPyConnection, facility: str, period: str
) -> list[str]:
    """The periods overlapping ``period`` that are settled and posted for ``facility``
    (after a reversal, each must be settled again to net the advances that stand)."""
    from claims.store.ledger import posted_periods

    return overlapping(period, posted_periods(con, [facility], other_than=""))


# ---- for the API: plain values


def add_advance(
    settings: Settings,
    *,
    facility: str,
    period: str,
    amount: str,
    actor: str,
    at: str,
) -> dict[str, Any]:
    """Record an advance of ``amount`` (đồng, text) to ``facility`` for ``period``,
    stamped ``at`` (to the microsecond) by ``actor``; the advance. The caller holds the
    writer lock.

    Raises:
        ConfigError: the amount, the period or the facility is refused (see
            :func:`advance_amount`, :func:`check_advance`).
    """
    from claims.store.runs import open_store

    value = advance_amount(amount)
    check_advance(settings, facility, period)
    need_store(settings)
    with open_store(settings.store_path) as con:
        advance = record_advance(
            con, facility, period, value, recorded_at=at, actor=actor
        )
    return {
        "advance_id": advance,
        "ma_cskcb": facility,
        "period": period,
        "amount": str(value),
        "recorded_at": at,
        "recorded_by": actor,
    }


def cancel_advance(
    settings: Settings, advance: str, *, actor: str, at: str
) -> dict[str, Any]:
    """Reverse advance ``advance``, stamped ``at`` (to the microsecond) by ``actor``:
    the advance, its ``reversal_id`` and the ``settle_again`` periods (settled and
    posted for its facility, overlapping its period). The caller holds the writer lock.

    Raises:
        ConfigError: no store, no such advance, or it was reversed already.
    """
    from claims.store.runs import open_store

    need_store(settings)
    with open_store(settings.store_path) as con:
        reversal, row = reverse_advance(con, advance, recorded_at=at, actor=actor)
        again = settled_overlaps(con, row["ma_cskcb"], row["period"])
    return {
        **plain_money(row),
        "reversal_id": reversal,
        "reversed_at": at,
        "reversed_by": actor,
        "settle_again": again,
    }


def list_advances(
    settings: Settings, *, facility: str | None = None, period: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """``advances`` (see :func:`advances_listing`) and ``standing`` per facility, as
    rows; none without a store.

    Raises:
        ConfigError: ``period`` is not a period.
    """
    from claims.store.runs import open_store

    if period is not None:
        months_of(period)
    if not settings.store_path.is_file():
        return {"advances": [], "standing": []}
    with open_store(settings.store_path) as con:
        found, standing = advances_listing(con, facility, period)
    return {
        "advances": [plain_money(r) for r in found.to_dicts()],
        "standing": [plain_money(r) for r in standing.to_dicts()],
    }
