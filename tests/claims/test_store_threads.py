"""A process's threads open and close store connections side by side (the API
server): a frame registered by one thread is always readable, while other threads
open and close connections around it (DuckDB 2.0.1 loses its Python table functions
when an instance is dropped and re-made concurrently; ``open_store`` serialises
opening and closing)."""

from __future__ import annotations

import threading
from pathlib import Path

import polars as pl

from claims.store.runs import append_table, open_store, sql


def test_threads_opening_and_closing_never_lose_a_registered_frame(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.duckdb"
    frame = pl.DataFrame({"a": list(range(1000))})
    with open_store(path) as con:
        sql(con, "CREATE TABLE t (a BIGINT)")
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            with open_store(path) as con:
                sql(con, "SELECT count(*) FROM t")

    readers = [threading.Thread(target=reader) for _ in range(6)]
    for thread in readers:
        thread.start()
    try:
        for _ in range(300):
            with open_store(path) as con:
                append_table(con, "t", frame)
    finally:
        stop.set()
        for thread in readers:
            thread.join()
    with open_store(path) as con:
        assert sql(con, "SELECT count(*) FROM t")[0][0] == 300 * 1000
