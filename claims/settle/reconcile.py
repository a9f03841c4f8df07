"""The identities every settlement's frames hold, checked: money reconciles to the line.

Per row: requested = accepted + rejected + pending (facilities, treatments, cost groups,
claims), and claimed = accepted + rejected (rejected claims and lines). Per facility:
its cost groups, its claims, its treatments add up to its totals; its rejected lines
and its rejected claims add up to what it rejected; its pending claims to what is
pending; per facility and treatment, its cost groups to the treatment's line. And the
amount due is never negative: an advance above it is carried forward.

:func:`breaks` lists what does not hold (the same checks apply to the frames read back
from CSV, Parquet or the Excel workbooks); :func:`reconcile` refuses a settlement that
breaks any, before anything is written or posted.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from claims.errors import ClaimsError
from claims.money import MONEY

ROWS: dict[str, tuple[str, tuple[str, ...]]] = {
    "facilities": ("requested", ("accepted", "rejected", "pending_amount")),
    "summary": ("requested", ("accepted", "rejected", "pending_amount")),
    "groups": ("claimed_bhtt", ("accepted_bhtt", "rejected_amount", "pending_amount")),
    "claims": ("claimed_bhtt", ("accepted_bhtt", "rejected_amount", "pending_amount")),
    "rejected_claims": ("claimed_t_bhtt", ("accepted_t_bhtt", "rejected_amount")),
    "rejected_lines": ("claimed_bhtt", ("accepted_bhtt", "rejected_amount")),
}
"""Per frame, the column each row's other columns add up to."""
TOTALS: dict[str, dict[str, str]] = {
    "groups": {
        "claimed_bhtt": "requested",
        "accepted_bhtt": "accepted",
        "rejected_amount": "rejected",
        "pending_amount": "pending_amount",
    },
    "summary": {
        "requested": "requested",
        "accepted": "accepted",
        "rejected": "rejected",
        "pending_amount": "pending_amount",
        "claims": "claims",
        "pending_claims": "pending_claims",
    },
    "rejected_claims": {"rejected_amount": "rejected"},
    "rejected_lines": {"rejected_amount": "rejected"},
    "pending": {"claimed_t_bhtt": "pending_amount", "": "pending_claims"},
}
"""Per frame, its sums per facility (``""``: its row count) and the ``facilities``
column each equals; ``claims`` is checked as ``groups`` is."""
TOTALS["claims"] = TOTALS["groups"]
BREAKS_SCHEMA: dict[str, pl.DataType] = {
    "check": pl.String(),
    "key": pl.String(),
    "expected": pl.String(),
    "found": pl.String(),
}
"""One row per identity that does not hold: which, where, the two sides (as text)."""


class ReconciliationError(ClaimsError):
    """A settlement whose frames do not add up: a bug, never written or posted."""


def reconcile(frames: Mapping[str, pl.DataFrame]) -> None:
    """Refuse frames that break an identity of the module docstring.

    Raises:
        ReconciliationError: naming the first identities that do not hold.
    """
    found = breaks(frames)
    if found.height:
        shown = "; ".join(
            f"{r['check']} at {r['key']}: {r['expected']} ≠ {r['found']}"
            for r in found.head(5).iter_rows(named=True)
        )
        msg = f"the settlement does not reconcile ({found.height} breaks): {shown}"
        raise ReconciliationError(msg)


def breaks(frames: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """Every identity the frames present in ``frames`` break (:data:`BREAKS_SCHEMA`).

    ``frames`` holds the settlement's frames, or those read back from its files; a
    frame that is absent is not checked.
    """
    found = [
        _row_breaks(name, frames[name], total, parts)
        for name, (total, parts) in ROWS.items()
        if name in frames
    ]
    if "facilities" in frames:
        facilities = frames["facilities"]
        found.append(_due_breaks(facilities))
        found += [
            _total_breaks(name, frames[name], facilities, ["ma_cskcb"], TOTALS[name])
            for name in TOTALS
            if name in frames
        ]
    if "summary" in frames and "groups" in frames:
        keys = ["ma_cskcb", "treatment"]
        found.append(
            _total_breaks(
                "groups", frames["groups"], frames["summary"], keys, TOTALS["groups"]
            )
        )
    return pl.concat(found).cast(pl.Schema(BREAKS_SCHEMA))


def _key(frame: pl.DataFrame) -> pl.Expr:
    """Where a row is: its facility, claim, treatment, group or line, as text."""
    parts = ("ma_cskcb", "treatment", "ma_lk", "cost_group", "table", "line_no")
    present = [pl.col(c).cast(pl.String).fill_null("") for c in parts if c in frame]
    return pl.concat_str(present, separator="/")


def _shown(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.String)


def _row_breaks(
    name: str, frame: pl.DataFrame, total: str, parts: tuple[str, ...]
) -> pl.DataFrame:
    """The rows of ``frame`` whose ``parts`` do not add up to ``total``."""
    added = pl.sum_horizontal(pl.col(parts).fill_null(0)).cast(MONEY)
    return frame.filter(pl.col(total).fill_null(0).cast(MONEY) != added).select(
        pl.lit(f"{name}: {total} = {' + '.join(parts)}").alias("check"),
        _key(frame).alias("key"),
        _shown(pl.col(total)).alias("expected"),
        _shown(added).alias("found"),
    )


def _total_breaks(
    name: str,
    frame: pl.DataFrame,
    totals: pl.DataFrame,
    keys: list[str],
    columns: Mapping[str, str],
) -> pl.DataFrame:
    """The keys where the sums of ``frame`` differ from the columns of ``totals``."""
    sums = frame.group_by(keys).agg(
        [
            (pl.len() if column == "" else pl.col(column).sum()).alias(f"_{total}")
            for column, total in columns.items()
        ]
    )
    joined = totals.select(*keys, *columns.values()).join(
        sums, on=keys, how="full", coalesce=True
    )
    return pl.concat(
        [
            joined.filter(
                pl.col(total).fill_null(0).cast(MONEY)
                != pl.col(f"_{total}").fill_null(0).cast(MONEY)
            ).select(
                pl.lit(f"{name}: Σ {column or 'rows'} = {total}").alias("check"),
                pl.concat_str(keys, separator="/").alias("key"),
                _shown(pl.col(total).fill_null(0)).alias("expected"),
                _shown(pl.col(f"_{total}").fill_null(0)).alias("found"),
            )
            for column, total in columns.items()
        ]
    )


def _due_breaks(facilities: pl.DataFrame) -> pl.DataFrame:
    """The facilities whose amount due is negative, or is not their accepted amount
    net of their advances (what an advance exceeds it by is carried forward)."""
    if "due" not in facilities:
        return pl.DataFrame(schema=BREAKS_SCHEMA)
    carried = pl.col("carried_forward").fill_null(0)
    net = (pl.col("due") - carried).cast(MONEY)
    owed = (pl.col("accepted") - pl.col("advances")).cast(MONEY)
    wrong = (net != owed) | (pl.col("due") < 0) | (carried < 0)
    wrong = wrong | ((pl.col("due") > 0) & (carried > 0))
    return facilities.filter(wrong).select(
        pl.lit(
            "facilities: due − carried_forward = accepted − advances, both ≥ 0"
        ).alias("check"),
        pl.col("ma_cskcb").alias("key"),
        _shown(owed).alias("expected"),
        _shown(net).alias("found"),
    )
