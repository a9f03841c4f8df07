"""Settlement per facility and period, and the ledger entries it posts.

Pure stages: they take frames and plain values and return frames; they do no I/O and
read no clock. ``claims.store.settlements`` and ``claims.store.ledger`` read their
inputs from the store and write their outputs; ``claims.cli.settle`` puts them together.

- :mod:`claims.settle.period`: months and quarters (``months_of``, overlaps);
- :mod:`claims.settle.compute`: the settlement frames (``settle``, ``paid``);
- :mod:`claims.settle.ledger`: the double-entry ledger lines (``postings``, reversals,
  advances, audit recoveries, balances);
- :mod:`claims.settle.diff`: what changed between two settlements;
- :mod:`claims.settle.excel`: the Excel workbooks per facility, built in memory
  (openpyxl; not imported here).
"""

from __future__ import annotations

from claims.settle.compute import GROUPS, PAYABLE, Settlement, paid, settle
from claims.settle.ledger import (
    ACCOUNTS,
    Reposting,
    advance_entries,
    advance_id,
    audit_entries,
    balances,
    fingerprint,
    postings,
    repost,
    reversal,
)
from claims.settle.period import PERIOD, months_of, overlapping, refuse_overlaps

__all__ = [
    "ACCOUNTS",
    "GROUPS",
    "PAYABLE",
    "PERIOD",
    "Reposting",
    "Settlement",
    "advance_entries",
    "advance_id",
    "audit_entries",
    "balances",
    "fingerprint",
    "months_of",
    "overlapping",
    "paid",
    "postings",
    "refuse_overlaps",
    "repost",
    "reversal",
    "settle",
]
