"""The outcome settlement reads for a stored decision, computed apart from the engine
(``claims.store.settlements.current_decisions`` is what is checked): a claim the rules
accepted whose stored anomaly risk reaches the threshold is held, ``pending_review``."""

from __future__ import annotations

import duckdb
import polars as pl

from claims.config import Settings

PAYABLE = ("accepted", "partially_accepted")


def as_settled(
    con: duckdb.DuckDBPyConnection,
    decisions: pl.DataFrame,
    threshold: float = Settings().review_risk_threshold,
) -> pl.DataFrame:
    """``decisions`` with held claims' outcome ``pending_review``."""
    tables = {
        r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
    }
    if "anomaly_scores" not in tables:
        return decisions
    held = con.sql(
        "SELECT DISTINCT file_id, hoso_idx, true AS _held FROM anomaly_scores "
        "WHERE risk >= ?",
        params=[threshold],
    ).pl()
    held = held.with_columns(pl.col("hoso_idx").cast(decisions.schema["hoso_idx"]))
    return (
        decisions.join(held, on=["file_id", "hoso_idx"], how="left")
        .with_columns(
            pl.when(pl.col("_held") & pl.col("outcome").is_in(PAYABLE))
            .then(pl.lit("pending_review"))
            .otherwise(pl.col("outcome"))
            .alias("outcome")
        )
        .drop("_held")
    )
