"""Settlement per facility and period, and the ledger entries it posts.

Pure stages: they take frames and plain values and return frames; they do no I/O and
read no clock. ``claims.store.settlements`` and ``claims.store.ledger`` read their
inputs from the store and write their outputs; ``claims.pipeline.settlement`` puts them
together.

- :mod:`claims.settle.period`: months and quarters (``months_of``, overlaps, the next
  and the earlier periods);
- :mod:`claims.settle.lines`: every amount a claim asks, on one settled line
  (quarantined lines and the XML1 total's rest included);
- :mod:`claims.settle.compute`: the settlement frames (``settle``, ``paid``);
- :mod:`claims.settle.reconcile`: the identities the frames hold (requested = accepted
  + rejected + pending, everywhere), checked;
- :mod:`claims.settle.advances`: who may be paid an advance;
- :mod:`claims.settle.ledger`: the double-entry ledger lines (``postings``, reversals,
  advances and their reversals, audit recoveries, balances);
- :mod:`claims.settle.diff`: what changed between two settlements;
- :mod:`claims.settle.excel`: the Excel workbooks per facility, built in memory
  (openpyxl; not imported here).
"""

from __future__ import annotations

from claims.settle.advances import period_days, refuse_unknown_facility
from claims.settle.compute import GROUPS, PAYABLE, Settlement, paid, settle
from claims.settle.ledger import (
    ACCOUNTS,
    Reposting,
    advance_entries,
    advance_id,
    advance_reversal_entries,
    advance_reversal_id,
    audit_entries,
    balances,
    fingerprint,
    postings,
    repost,
    reversal,
)
from claims.settle.lines import AMOUNTS_SCHEMA, UNALLOCATED, settled_lines
from claims.settle.period import (
    PERIOD,
    earlier,
    months_of,
    next_period,
    overlapping,
    refuse_overlaps,
)
from claims.settle.reconcile import ReconciliationError, breaks, reconcile

__all__ = [
    "ACCOUNTS",
    "AMOUNTS_SCHEMA",
    "GROUPS",
    "PAYABLE",
    "PERIOD",
    "UNALLOCATED",
    "ReconciliationError",
    "Reposting",
    "Settlement",
    "advance_entries",
    "advance_id",
    "advance_reversal_entries",
    "advance_reversal_id",
    "audit_entries",
    "balances",
    "breaks",
    "earlier",
    "fingerprint",
    "months_of",
    "next_period",
    "overlapping",
    "paid",
    "period_days",
    "postings",
    "reconcile",
    "refuse_overlaps",
    "refuse_unknown_facility",
    "repost",
    "reversal",
    "settle",
    "settled_lines",
]
