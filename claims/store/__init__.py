"""The store: an embedded DuckDB file plus Parquet run folders (``runs``), the stored
claims read back (``read``), and the crash points fault tests use (``faults``)."""

from claims.store.faults import crash_point
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

__all__ = [
    "PARQUET_TABLES",
    "STORE_TABLES",
    "append_table",
    "crash_point",
    "has_table",
    "history_of",
    "known_files",
    "open_store",
    "sql",
    "store_run",
    "StoredClaims",
    "stored_claims",
    "write_run_dir",
]
