"""Who may be paid an advance: a facility of the ``facilities`` catalog whose contract
with the fund covers part of the period (reference §5.2: advances are paid to
facilities under contract, per quarter)."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from claims.errors import ConfigError
from claims.settle.period import months_of, next_period


def period_days(period: str) -> tuple[date, date]:
    """The first and the last day of a month or quarter period."""
    months = months_of(period)
    first = date.fromisoformat(f"{months[0]}-01")
    after = date.fromisoformat(f"{months_of(next_period(period))[0]}-01")
    return first, after - timedelta(days=1)


def refuse_unknown_facility(
    facilities: pl.DataFrame, facility: str, period: str
) -> None:
    """Refuse an advance to a facility the fund cannot pay for ``period``.

    Args:
        facilities: the resolved ``facilities`` catalog (``ma_cskcb``,
            ``contract_from``, ``contract_to``, ``valid_from``, ``valid_to``).
        facility: the MA_CSKCB to be paid.
        period: the advance's period, ``YYYY-MM`` or ``YYYY-Qn``.

    Raises:
        ConfigError: ``facility`` is not in the catalog, or neither its catalog row nor
            its contract covers a day of ``period``.
    """
    first, last = period_days(period)
    rows = facilities.filter(pl.col("ma_cskcb") == facility)
    if rows.height == 0:
        msg = (
            f"facility {facility!r} is not in the facilities catalog: an advance needs "
            "a known facility code (MA_CSKCB)"
        )
        raise ConfigError(msg)
    overlaps = (
        (pl.col("contract_from") <= last)
        & (pl.col("contract_to").is_null() | (pl.col("contract_to") >= first))
        & (pl.col("valid_from").is_null() | (pl.col("valid_from") <= last))
        & (pl.col("valid_to").is_null() | (pl.col("valid_to") >= first))
    )
    if rows.filter(overlaps.fill_null(False)).height == 0:
        spans = ", ".join(
            f"{r['contract_from'] or '?'}–{r['contract_to'] or '…'}"
            for r in rows.iter_rows(named=True)
        )
        msg = (
            f"facility {facility} has no contract with the fund during {period} "
            f"({first}–{last}); its contracts: {spans}"
        )
        raise ConfigError(msg)
