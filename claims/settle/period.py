"""Settlement periods: a month ``YYYY-MM`` or a quarter ``YYYY-Qn`` (declared
NAM_QT/THANG_QT), the months they cover, and which periods overlap."""

from __future__ import annotations

import re
from collections.abc import Iterable

from claims.errors import ConfigError

PERIOD = re.compile(
    r"^(?P<year>\d{4})-(?:(?P<month>0[1-9]|1[0-2])|Q(?P<quarter>[1-4]))$"
)


def months_of(period: str) -> list[str]:
    """The ``YYYY-MM`` months of a month or quarter period.

    Raises:
        ConfigError: ``period`` is neither ``YYYY-MM`` nor ``YYYY-Qn``.
    """
    found = PERIOD.match(period)
    if found is None:
        msg = f"period {period!r} is not YYYY-MM (a month) or YYYY-Qn (a quarter)"
        raise ConfigError(msg)
    year = found["year"]
    if found["month"]:
        return [f"{year}-{found['month']}"]
    first = 3 * (int(found["quarter"]) - 1) + 1
    return [f"{year}-{m:02d}" for m in range(first, first + 3)]


def overlapping(period: str, others: Iterable[str]) -> list[str]:
    """The periods of ``others`` that share a month with ``period``, sorted, once each."""
    months = set(months_of(period))
    return sorted({p for p in others if months & set(months_of(p))})


def refuse_overlaps(period: str, posted: Iterable[str]) -> None:
    """Refuse to post ``period`` for facilities already posted for ``posted`` periods.

    Raises:
        ConfigError: one of ``posted`` overlaps ``period`` (a month inside a settled
            quarter, or a quarter one of whose months was settled): posting both would
            pay the same claims twice.
    """
    clash = overlapping(period, posted)
    if clash:
        msg = (
            f"period {period} overlaps {', '.join(clash)}, already posted for "
            "some of its facilities; settle each facility by month or by quarter, not both"
        )
        raise ConfigError(msg)


def next_period(period: str) -> str:
    """The period after ``period``, of the same cadence (``2026-12`` → ``2027-01``,
    ``2026-Q4`` → ``2027-Q1``): where an advance above the amount due is carried."""
    months_of(period)  # refuses what is not a period
    year, _, part = period.partition("-")
    if part.startswith("Q"):
        quarter = int(part[1:])
        return f"{int(year) + quarter // 4}-Q{quarter % 4 + 1}"
    month = int(part)
    return f"{int(year) + month // 12}-{month % 12 + 1:02d}"


def earlier(period: str, others: Iterable[str]) -> list[str]:
    """The periods of ``others`` that end before ``period`` begins, sorted, once each
    (what an advance not yet netted is carried forward from)."""
    first = months_of(period)[0]
    return sorted({p for p in others if months_of(p)[-1] < first})
