"""The store: an embedded DuckDB file plus Parquet run folders (``runs``), the stored
claims read back (``read``), settlements and the ledger (``settlements``, ``ledger``),
and the crash points fault tests use (``faults``). It reads and writes; it decides
nothing."""

from claims.store.faults import crash_point
from claims.store.ledger import (
    ADVANCES_SCHEMA,
    POSTINGS_SCHEMA,
    advance_count,
    advances_for,
    append_advance,
    append_entries,
    append_posting,
    has_entries,
    ledger_of,
    posted_entries,
    posted_periods,
)
from claims.store.read import StoredClaims, history_of, stored_claims
from claims.store.runs import (
    PARQUET_TABLES,
    STORE_TABLES,
    append_table,
    has_table,
    known_files,
    open_store,
    sql,
    store_run,
    write_run_dir,
)
from claims.store.settlements import current_decisions, write_frames, write_workbooks

__all__ = [
    "ADVANCES_SCHEMA",
    "PARQUET_TABLES",
    "POSTINGS_SCHEMA",
    "STORE_TABLES",
    "StoredClaims",
    "advance_count",
    "advances_for",
    "append_advance",
    "append_entries",
    "append_posting",
    "append_table",
    "crash_point",
    "current_decisions",
    "has_entries",
    "has_table",
    "history_of",
    "known_files",
    "ledger_of",
    "open_store",
    "posted_entries",
    "posted_periods",
    "sql",
    "store_run",
    "stored_claims",
    "write_frames",
    "write_run_dir",
    "write_workbooks",
]
