"""The store: an embedded DuckDB file, plus Parquet run outputs with a manifest.

One run is one DuckDB transaction: a crash leaves nothing half-written, and the rerun
completes it. Run outputs are written to a temporary folder and renamed into
``runs/<date>/<run_id>/`` before the transaction commits, so a committed run always
has its outputs. Claims, submissions, quarantine and statuses are DuckDB tables; the
detail lines (``xml2`` … ``xml5``) and raw XML6–15 documents, append-only and by far
the largest, stay in the runs' Parquet files and are DuckDB views over the committed
runs (a run directory without its ``runs`` row is invisible). Loading millions of wide
rows into DuckDB tables would cost more than parsing them.

A file already stored (same sha256) is skipped. A resubmitted claim (same MA_CSKCB and
MA_LK) becomes a new version that supersedes the older one; a claim sent with
MA_DOITUONG_KCB 8 is a withdrawal. Every version stays queryable.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

from claims.errors import TransientError
from claims.store.faults import crash_point

WITHDRAWAL_CODE = "8"
PARQUET_TABLES = (
    "xml2",
    "xml3",
    "xml4",
    "xml5",
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
    "raw_docs",
    "quarantine",
    "claim_status",
    "runs",
)


@contextmanager
def open_store(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open (creating it if needed) the DuckDB store."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path))
    except duckdb.IOException as exc:
        msg = f"cannot open the store {path}: {exc}"
        raise TransientError(msg) from exc
    try:
        yield con
    finally:
        con.close()


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


def append_table(
    con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame
) -> None:
    """Append ``frame`` to table ``name`` by column name, creating it if needed."""
    con.register("_incoming", frame.to_arrow())
    try:
        if not has_table(con, name):
            sql(con, f'CREATE TABLE "{name}" AS SELECT * FROM _incoming LIMIT 0')
        sql(con, f'INSERT INTO "{name}" BY NAME SELECT * FROM _incoming')
    finally:
        con.unregister("_incoming")


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


def store_run(
    con: duckdb.DuckDBPyConnection,
    frames: Mapping[str, pl.DataFrame],
    run_row: pl.DataFrame,
    runs_dir: Path,
) -> None:
    """Write one run's frames in a single transaction, then supersede older versions.

    Args:
        con: the open store.
        frames: ``submissions``, ``claims`` (with ``_file_order``), ``quarantine``,
            ``claim_status``; the Parquet-kept tables are skipped (the run directory
            already holds them).
        run_row: the ``runs`` row (run id, date, manifest).
        runs_dir: the root of the run directories, for the views.
    """
    sql(con, "BEGIN TRANSACTION")
    try:
        for name, frame in frames.items():
            if name in PARQUET_TABLES:
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
        _create_views(con, runs_dir)
        crash_point("in-transaction")
        sql(con, "COMMIT")
    except BaseException:
        sql(con, "ROLLBACK")
        raise


def _create_views(con: duckdb.DuckDBPyConnection, runs_dir: Path) -> None:
    """(Re)create the views over the committed runs' Parquet tables."""
    root = runs_dir.resolve().as_posix().replace("'", "''")
    for name in PARQUET_TABLES:
        sql(
            con,
            f"""
            CREATE OR REPLACE VIEW "{name}" AS
            SELECT * EXCLUDE (filename)
            FROM read_parquet('{root}/*/*/{name}.parquet', union_by_name = true,
                              filename = true)
            WHERE run_id IN (SELECT run_id FROM runs) AND filename NOT LIKE '%/.%'
            """,
        )


def write_run_dir(
    runs_dir: Path,
    run_date: str,
    run_id: str,
    frames: Mapping[str, pl.DataFrame],
    extra: Mapping[str, object],
) -> Path:
    """Write Parquet outputs and JSON files atomically into ``runs/<date>/<run_id>/``."""
    final = runs_dir / run_date / run_id
    tmp = runs_dir / run_date / f".{run_id}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    for name, frame in frames.items():
        frame.write_parquet(tmp / f"{name}.parquet", statistics=False)
    for name, value in extra.items():
        target = tmp / name
        target.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(
            value, ensure_ascii=False, indent=2, sort_keys=True, default=str
        )
        target.write_text(text + "\n", encoding="utf-8")
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return final
