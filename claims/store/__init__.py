"""The store: an embedded DuckDB file plus Parquet run folders (``runs``), the stored
claims read back (``read``), settlements and the ledger (``settlements``, ``ledger``),
and the crash points fault tests use (``faults``). It reads and writes; it decides
nothing."""

from claims.store.faults import crash_point, fail_point
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
from claims.store.lock import Holder, Lock, StoreBusy, holder_of, writer_lock
from claims.store.read import StoredClaims, history_of, stored_claims
from claims.store.runs import (
    PARQUET_TABLES,
    STORE_TABLES,
    AlreadyStored,
    StoreError,
    append_table,
    discard_run_dir,
    has_table,
    known_files,
    open_store,
    sql,
    store_run,
    sweep_temporary,
    write_run_dir,
)
from claims.store.settlements import current_decisions, write_frames, write_workbooks

__all__ = [
    "ADVANCES_SCHEMA",
    "PARQUET_TABLES",
    "POSTINGS_SCHEMA",
    "STORE_TABLES",
    "AlreadyStored",
    "Holder",
    "Lock",
    "StoreBusy",
    "StoreError",
    "StoredClaims",
    "advance_count",
    "advances_for",
    "append_advance",
    "append_entries",
    "append_posting",
    "append_table",
    "crash_point",
    "current_decisions",
    "discard_run_dir",
    "fail_point",
    "has_entries",
    "has_table",
    "history_of",
    "holder_of",
    "known_files",
    "ledger_of",
    "open_store",
    "posted_entries",
    "posted_periods",
    "sql",
    "store_run",
    "stored_claims",
    "sweep_temporary",
    "write_frames",
    "write_run_dir",
    "write_workbooks",
    "writer_lock",
]
