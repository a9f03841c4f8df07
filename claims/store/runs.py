"""The store: an embedded DuckDB file, plus Parquet run outputs with a manifest.

One run is one DuckDB transaction: a crash leaves nothing half-written, and the rerun
completes it. Run outputs are written to a temporary folder and renamed into
``runs/<date>/<run_id>/`` before the transaction commits, so a committed run always
has its outputs. Claims, submissions, quarantine and statuses are DuckDB tables; the
detail lines (``xml2`` … ``xml5``) and the typed XML6–15 documents (``xml6`` …
``xml15``; ``raw_docs`` holds the raw documents older engines kept), append-only and by
far the largest, stay in the runs' Parquet files and are DuckDB views over the committed
runs (a run directory without its ``runs`` row is invisible; a store made before the
typed documents gains their views with its first new run). Loading millions of wide
rows into DuckDB tables would cost more than parsing them.

A file already stored (same sha256) is skipped. A resubmitted claim (same MA_CSKCB and
MA_LK) becomes a new version that supersedes the older one; a claim sent with
MA_DOITUONG_KCB 8 is a withdrawal. Every version stays queryable.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb
import orjson
import polars as pl

from claims.errors import ClaimsError, ConfigError, TransientError
from claims.store.faults import crash_point, fail_point

WITHDRAWAL_CODE = "8"
DOC_VIEWS = tuple(f"xml{n}" for n in range(6, 16))
"""The XML6–XML15 documents, typed (older stores kept them in ``raw_docs`` only)."""
PARQUET_TABLES = (
    "xml2",
    "xml3",
    "xml4",
    "xml5",
    *DOC_VIEWS,
    "raw_docs",
    "prices",
    "rule_hits",
    "assessments",
    "decisions",
    "decision_lines",
    "decision_reasons",
)
"""Kept in the run directories and seen through views."""
STORE_TABLES = (
    "submissions",
    "claims",
    "xml2",
    "xml3",
    "xml4",
    "xml5",
    *DOC_VIEWS,
    "raw_docs",
    "quarantine",
    "claim_status",
    "runs",
)
UNIQUE_KEYS = {"submissions": "file_id", "runs": "run_id"}
"""A file's sha256 and a run id are stored once, whatever a writer does."""
FULL_BELOW = 1 << 20
"""A write failure with less free space than this is told as a full disk."""
RETRY_SECONDS = 30.0
"""How long opening the store waits while another process has it open."""


class StoreError(ClaimsError):
    """The store or a run folder could not be written (disk full, permissions…).

    Nothing of the run is committed; the message names the path and the cause.
    """


class AlreadyStored(ClaimsError):
    """A file of this run was stored by another writer since the run began."""


@contextmanager
def open_store(
    path: Path, *, read_only: bool = False, retry_seconds: float = RETRY_SECONDS
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the DuckDB store: read-write (creating it if needed) or read-only.

    DuckDB lets one process open a file read-write, and nobody else beside it; while
    another process has it open, this retries for ``retry_seconds``.

    Raises:
        ConfigError: read-only, and there is no store at ``path``.
        TransientError: the store stayed busy (or could not be opened).
    """
    if read_only and not path.is_file():
        msg = (
            f"no store at {path}: check --data-dir (or GIAMDINH_DATA_DIR); "
            "`giamdinh run` creates the store"
        )
        raise ConfigError(msg)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = _connect(path, read_only=read_only, retry_seconds=retry_seconds)
    try:
        yield con
    finally:
        with _OPENING:
            con.close()


_READ_WRITE: set[Path] = set()
_OPENING = threading.Lock()
"""Held while this process opens or closes a store connection. DuckDB (2.0.1) shares
one database instance between a process's connections to a file and drops it with the
last one; a thread that opens a connection while another closes the last one can get
an instance without the Python client's table functions ("Table Function with name
python_arrow_scan does not exist" on the next registered frame): a server's threads
hit it within a few hundred writes. Opening and closing one at a time does not."""


def read_write_only(path: Path) -> None:
    """Open every later connection of this process to the store at ``path``
    read-write, even a reader's.

    Inside one process DuckDB refuses a connection whose mode differs from the open
    ones', so a long-lived process whose threads read while its writer thread writes
    (``giamdinh serve``) opens all of them in one mode; the readers still only read.
    """
    _READ_WRITE.add(path.resolve())


def _connect(
    path: Path, *, read_only: bool, retry_seconds: float
) -> duckdb.DuckDBPyConnection:
    read_only = read_only and path.resolve() not in _READ_WRITE
    deadline = time.monotonic() + retry_seconds
    while True:
        try:
            with _OPENING:
                return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            busy = "lock" in str(exc).lower()
            if busy and time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            if busy:
                msg = (
                    f"the store {path} stayed in use by another process for "
                    f"{retry_seconds:g} s; try again when it is done ({exc})"
                )
            else:
                msg = f"cannot open the store {path}: {exc}"
            raise TransientError(msg) from exc


def sql(
    con: duckdb.DuckDBPyConnection, query: str, params: list[object] | None = None
) -> list[tuple[object, ...]]:
    """Run one statement to completion and return its rows."""
    return con.execute(query, params or []).fetchall()


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the store already holds table ``name``."""
    query = "SELECT count(*) FROM information_schema.tables WHERE table_name = ?"
    return bool(sql(con, query, [name])[0][0])


def known_files(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, str]]:
    """Every file already stored: sha256 → (status, receipt JSON)."""
    if not has_table(con, "submissions"):
        return {}
    rows = sql(con, "SELECT file_id, status, receipt FROM submissions")
    return {str(r[0]): (str(r[1]), str(r[2])) for r in rows}


def stored_days(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Every stored file's run date: sha256 → the date of the run that stored it."""
    if not has_table(con, "submissions") or not has_table(con, "runs"):
        return {}
    rows = sql(
        con,
        "SELECT s.file_id, r.run_date FROM submissions s JOIN runs r "
        "ON r.run_id = json_extract_string(s.receipt, '$.run_id')",
    )
    return {str(r[0]): str(r[1]) for r in rows}


def append_table(
    con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame
) -> None:
    """Append ``frame`` to table ``name`` by column name, creating it if needed."""
    con.register("_incoming", frame.to_arrow())
    try:
        _append_incoming(con, name)
    finally:
        # after a failed INSERT the transaction is aborted and so is this call; its
        # error would hide the INSERT's
        with suppress(duckdb.Error):
            con.unregister("_incoming")


def append_parquet(
    con: duckdb.DuckDBPyConnection, name: str, files: Sequence[Path]
) -> None:
    """Append the rows of Parquet ``files`` to table ``name`` (DuckDB streams them: a
    partitioned run's day never sits in memory whole); ``claims`` rows are numbered
    as versions on the way in (:func:`_version_claims`, in SQL)."""
    source = parquet_source(files)
    if name == "claims":
        source = _versioned_sql(con, source)
    sql(con, f"CREATE OR REPLACE TEMP VIEW _incoming AS SELECT * FROM {source}")
    try:
        _append_incoming(con, name)
    finally:
        with suppress(duckdb.Error):
            sql(con, "DROP VIEW IF EXISTS _incoming")


def parquet_source(files: Sequence[Path]) -> str:
    """A DuckDB table expression reading ``files`` (Parquet, by column name)."""
    quoted = ", ".join(
        "'" + f.resolve().as_posix().replace("'", "''") + "'" for f in files
    )
    return f"read_parquet([{quoted}], union_by_name = true)"


def _append_incoming(con: duckdb.DuckDBPyConnection, name: str) -> None:
    if not has_table(con, name):
        sql(con, f'CREATE TABLE "{name}" AS SELECT * FROM _incoming LIMIT 0')
    else:
        _add_new_columns(con, name)
    sql(con, f'INSERT INTO "{name}" BY NAME SELECT * FROM _incoming')


def _add_new_columns(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """A store made by an older engine gains the columns a newer one writes (null in
    its older rows)."""
    have = {
        str(r[0])
        for r in sql(
            con,
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?",
            [name],
        )
    }
    for column, kind, *_ in sql(con, "DESCRIBE SELECT * FROM _incoming"):
        if column not in have:
            sql(con, f'ALTER TABLE "{name}" ADD COLUMN "{column}" {kind}')


def _version_claims(
    con: duckdb.DuckDBPyConnection, claims: pl.DataFrame
) -> pl.DataFrame:
    """Number each claim's version after those already stored for its (MA_CSKCB, MA_LK)."""
    previous = pl.DataFrame(
        schema={"ma_cskcb": pl.String, "ma_lk": pl.String, "_prev": pl.Int64}
    )
    if has_table(con, "claims"):
        previous = con.sql(
            "SELECT ma_cskcb, ma_lk, max(version)::BIGINT AS _prev FROM claims GROUP BY ALL"
        ).pl()
    order = pl.int_range(1, pl.len() + 1).over(
        "ma_cskcb", "ma_lk", order_by=["_file_order", "hoso_idx"]
    )
    return (
        claims.join(
            previous, on=["ma_cskcb", "ma_lk"], how="left", maintain_order="left"
        )
        .with_columns(
            (pl.col("_prev").fill_null(0) + order).cast(pl.Int32).alias("version"),
            (pl.col("ma_doituong_kcb") == WITHDRAWAL_CODE).alias("withdrawn"),
            pl.lit(True).alias("is_current"),
        )
        .drop("_prev", "_file_order")
    )


def _versioned_sql(con: duckdb.DuckDBPyConnection, source: str) -> str:
    """:func:`_version_claims` as SQL over ``source`` (a table expression)."""
    previous = "(SELECT NULL::VARCHAR AS ma_cskcb, NULL::VARCHAR AS ma_lk, 0 AS _prev)"
    if has_table(con, "claims"):
        previous = (
            "(SELECT ma_cskcb, ma_lk, max(version)::BIGINT AS _prev "
            "FROM claims GROUP BY ALL)"
        )
    return f"""(
        SELECT i.* EXCLUDE (_file_order),
            CAST(coalesce(p._prev, 0) + row_number() OVER (
                PARTITION BY i.ma_cskcb, i.ma_lk ORDER BY i._file_order, i.hoso_idx
            ) AS INTEGER) AS version,
            (i.ma_doituong_kcb = '{WITHDRAWAL_CODE}') AS withdrawn,
            true AS is_current
        FROM {source} i LEFT JOIN {previous} p
            ON p.ma_cskcb = i.ma_cskcb AND p.ma_lk = i.ma_lk
    )"""


def store_run(
    con: duckdb.DuckDBPyConnection,
    frames: Mapping[str, pl.DataFrame | Sequence[Path]],
    run_row: pl.DataFrame,
    runs_dir: Path,
) -> None:
    """Write one run's frames in a single transaction, then supersede older versions.

    Args:
        con: the open store.
        frames: ``submissions``, ``claims`` (with ``_file_order``), ``quarantine``,
            ``claim_status``, each a frame or the Parquet files of a partitioned run's
            parts; the Parquet-kept tables are skipped (the run directory already
            holds them).
        run_row: the ``runs`` row (run id, date, manifest).
        runs_dir: the root of the run directories, for the views.
    """
    sql(con, "BEGIN TRANSACTION")
    try:
        submissions = frames["submissions"]
        if not isinstance(submissions, pl.DataFrame):
            submissions = pl.read_parquet(list(submissions), columns=["file_id"])
        _refuse_stored(con, submissions, run_row)
        for name, frame in frames.items():
            if name in PARQUET_TABLES:
                continue
            if not isinstance(frame, pl.DataFrame):
                append_parquet(con, name, frame)
                continue
            if name == "claims":
                frame = _version_claims(con, frame)
            if frame.height or not has_table(con, name):
                append_table(con, name, frame)
        append_table(con, "runs", run_row)
        if has_table(con, "claims"):
            sql(
                con,
                """
                UPDATE claims SET is_current = false
                WHERE is_current AND version < (
                    SELECT max(d.version) FROM claims d
                    WHERE d.ma_cskcb = claims.ma_cskcb AND d.ma_lk = claims.ma_lk)
                """,
            )
        _ensure_unique(con)
        _create_views(con, runs_dir)
        crash_point("in-transaction")
        fail_point("commit")
        sql(con, "COMMIT")
    except BaseException as exc:
        _rollback(con)
        if isinstance(exc, duckdb.Error | OSError):
            msg = f"the run could not be stored, nothing of it was committed: {exc}"
            raise StoreError(_with_hint(msg)) from exc
        raise


def _disk_full(exc: Exception, folder: Path) -> str:
    """The error's text, saying so when the disk is full: Parquet writers do not
    always pass the OS error on ("Invalid thrift: transport error")."""
    text = str(exc)
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return text
    if free < FULL_BELOW and "No space left on device" not in text:
        text += f" (No space left on device: {free:,} bytes free)"
    return text


def _with_hint(message: str) -> str:
    if "No space left on device" in message:
        return message + "; free space on that disk and run again"
    return message


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back if a transaction is still open; the original error stays the one told.

    A failed COMMIT (a full disk) leaves no transaction to roll back: DuckDB then
    answers "no transaction is active", which would hide the cause.
    """
    with suppress(duckdb.Error):
        sql(con, "ROLLBACK")


def _refuse_stored(
    con: duckdb.DuckDBPyConnection, submissions: pl.DataFrame, run_row: pl.DataFrame
) -> None:
    """Inside the committing transaction: no file or run of this run is stored yet.

    The writer lock makes this true; the check (and the unique indexes) keep it true
    for a writer that bypassed the lock.
    """
    if not has_table(con, "submissions"):
        return
    ids = submissions["file_id"].to_list()
    stored = sql(
        con,
        "SELECT file_id, name FROM submissions WHERE list_contains(?, file_id) "
        "ORDER BY name",
        [ids],
    )
    run_id = run_row["run_id"][0]
    if stored or sql(con, "SELECT 1 FROM runs WHERE run_id = ?", [run_id]):
        names = ", ".join(str(r[1]) for r in stored[:5]) or f"run {run_id}"
        msg = (
            f"{len(stored) or 1} input(s) of this run were stored by another writer "
            f"meanwhile ({names}); nothing of this run was committed. Run again: "
            "the stored files are skipped and the rest is processed"
        )
        raise AlreadyStored(msg)


def _ensure_unique(con: duckdb.DuckDBPyConnection) -> None:
    for table, column in UNIQUE_KEYS.items():
        sql(
            con,
            f'CREATE UNIQUE INDEX IF NOT EXISTS "{table}_{column}_unique" '
            f'ON "{table}" ("{column}")',
        )


def _create_views(con: duckdb.DuckDBPyConnection, runs_dir: Path) -> None:
    """(Re)create the views over the committed runs' Parquet tables.

    A run folder being written (a name starting with ``.``) is left out; only the
    path below ``runs_dir`` is looked at, so a data folder under a hidden one
    (``~/.cache/…``) still shows its runs.
    """
    resolved = runs_dir.resolve().as_posix()
    root = resolved.replace("'", "''")
    below = len(resolved) + 1  # the first character after the root, 1-based
    for name in PARQUET_TABLES:
        sql(
            con,
            f"""
            CREATE OR REPLACE VIEW "{name}" AS
            SELECT * EXCLUDE (filename)
            FROM read_parquet('{root}/*/*/{name}.parquet', union_by_name = true,
                              filename = true)
            WHERE run_id IN (SELECT run_id FROM runs)
              AND position('/.' IN substr(filename, {below})) = 0
            """,
        )


_JSON_FILE = (
    orjson.OPT_INDENT_2
    | orjson.OPT_SORT_KEYS
    | orjson.OPT_APPEND_NEWLINE
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
)
"""A run folder's JSON files (receipts, manifest): two-space indents, sorted keys,
UTF-8 as is, a final newline; dates, times and dataclasses through ``default=str``.
The same bytes as ``json.dumps(…, indent=2, sort_keys=True, ensure_ascii=False)``,
written by orjson (a national day's receipts: several times faster than the standard
library's pure-Python indenting encoder)."""


def write_run_dir(
    runs_dir: Path,
    run_date: str,
    run_id: str,
    frames: Mapping[str, pl.DataFrame | pl.LazyFrame],
    extra: Mapping[str, object] | Iterable[tuple[str, object]],
) -> Path:
    """Write Parquet outputs and JSON files atomically into ``runs/<date>/<run_id>/``.

    ``extra``: the JSON files by name (pairs are written as they come, one at a time).

    A lazy frame (a partitioned run's parts) is streamed to its file.

    The files are written to a folder private to this process, then renamed into
    place. A folder already there is a leftover of a run that never committed (the
    caller holds the writer lock): it is replaced.

    Raises:
        StoreError: a write failed (disk full…); nothing is left behind.
    """
    final = runs_dir / run_date / run_id
    tmp = runs_dir / run_date / f".{run_id}.{os.getpid()}.tmp"
    try:
        _write_files(tmp, frames, extra)
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    except (OSError, pl.exceptions.PolarsError) as exc:
        cause = _disk_full(exc, runs_dir)
        shutil.rmtree(tmp, ignore_errors=True)
        with suppress(OSError):
            final.parent.rmdir()  # only when empty: the date's first run
        msg = f"could not write the run folder {final}, nothing was stored: {cause}"
        raise StoreError(_with_hint(msg)) from exc
    return final


def discard_run_dir(folder: Path) -> None:
    """Remove the folder of a run that did not commit (it is invisible anyway)."""
    shutil.rmtree(folder, ignore_errors=True)


def sweep_temporary(runs_dir: Path) -> list[Path]:
    """Remove the temporary run folders of writers that died; returns them.

    Call only while holding the writer lock: no other writer is then writing one.
    """
    found = sorted(runs_dir.glob("*/.*.tmp")) if runs_dir.is_dir() else []
    for folder in found:
        shutil.rmtree(folder, ignore_errors=True)
    return found


def _write_files(
    tmp: Path,
    frames: Mapping[str, pl.DataFrame | pl.LazyFrame],
    extra: Mapping[str, object] | Iterable[tuple[str, object]],
) -> None:
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    fail_point("run-dir")
    for name, frame in frames.items():
        if isinstance(frame, pl.LazyFrame):
            frame.sink_parquet(tmp / f"{name}.parquet", statistics=False)
        else:
            frame.write_parquet(tmp / f"{name}.parquet", statistics=False)
    for name, value in extra.items() if isinstance(extra, Mapping) else extra:
        target = tmp / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(orjson.dumps(value, default=str, option=_JSON_FILE))
