"""Review samples in the store: the population a sample is drawn from, the samples
drawn (``review_samples``, ``review_sample_claims``, append-only), and what review
found on each sampled claim.

A sampled claim is **reviewed** when its current decision carries a ``review_id`` (an
assessor's decision version; ``claims.store.settlements.current_decisions`` returns it
as current), or, for a store that gives the reviewed version without its id, when
``review_decisions`` holds a review of it in force (decided or approved). Its
overpayment is the T_BHTT the engine's decision accepted (the claim version's decision
without a review id, of its earliest run) minus the T_BHTT its current decision
accepts. A sampled claim whose version was superseded by a newer one since the draw is
no longer current: it counts as not reviewed.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import polars as pl

from claims.errors import ConfigError
from claims.money import MONEY
from claims.store.runs import append_table, has_table, sql
from claims.store.settlements import current_decisions

SAMPLES_SCHEMA: dict[str, pl.DataType] = {
    "sample_id": pl.String(),
    "period": pl.String(),
    "seed": pl.Int64(),
    "strata": pl.String(),
    "size": pl.Int64(),
    "allocation": pl.String(),
    "created": pl.String(),
}
"""One row per sample: ``strata`` is the JSON spec (dimensions, risk cuts, allocation
rule), ``allocation`` the JSON rows ``stratum, population, claimed, sampled``."""
SAMPLE_CLAIMS_SCHEMA: dict[str, pl.DataType] = {
    "sample_id": pl.String(),
    "stratum": pl.String(),
    "ma_cskcb": pl.String(),
    "ma_lk": pl.String(),
    "file_id": pl.String(),
    "hoso_idx": pl.UInt32(),
    "population": pl.Int64(),
    "claimed_t_bhtt": MONEY,
}
"""One row per sampled claim: its stratum, the stratum's population N_h, its claimed
T_BHTT."""
_KEYS = ("file_id", "hoso_idx")


def period_population(
    con: duckdb.DuckDBPyConnection, months: Sequence[str]
) -> pl.DataFrame:
    """The current, not withdrawn claims of ``months``: keys, MA_LOAI_KCB, claimed
    T_BHTT and the anomaly risk (null when the period was not scored: no
    ``anomaly_scores`` table, or no row for the claim).

    Raises:
        ConfigError: the store holds no claims yet.
    """
    current = current_decisions(con, list(months), None)[0]
    decisions = current.unique(list(_KEYS), keep="first", maintain_order=True).filter(
        ~pl.col("withdrawn").fill_null(False)
    )
    con.register("_keys", decisions.select(_KEYS).to_arrow())
    try:
        types = con.sql(
            "SELECT c.file_id, c.hoso_idx, any_value(c.ma_loai_kcb) AS ma_loai_kcb "
            "FROM claims c JOIN _keys USING (file_id, hoso_idx) GROUP BY ALL"
        ).pl()
        risks = _risks(con, months)
    finally:
        con.unregister("_keys")
    return (
        decisions.select("ma_cskcb", "ma_lk", *_KEYS, "claimed_t_bhtt")
        .join(types, on=list(_KEYS), how="left")
        .join(risks, on=list(_KEYS), how="left")
        .select(
            "ma_cskcb",
            "ma_lk",
            *_KEYS,
            "ma_loai_kcb",
            pl.col("claimed_t_bhtt").cast(MONEY),
            pl.col("risk").cast(pl.Float64),
        )
    )


def _risks(con: duckdb.DuckDBPyConnection, months: Sequence[str]) -> pl.DataFrame:
    if not has_table(con, "anomaly_scores"):
        return pl.DataFrame(
            schema={"file_id": pl.String, "hoso_idx": pl.UInt32, "risk": pl.Float64}
        )
    found: pl.DataFrame = con.sql(
        "SELECT s.file_id, s.hoso_idx, max(s.risk)::DOUBLE AS risk "
        "FROM anomaly_scores s JOIN _keys USING (file_id, hoso_idx) "
        "WHERE s.period IN (SELECT unnest(?)) GROUP BY ALL",
        params=[list(months)],
    ).pl()
    return found


def engine_rows(decisions: pl.DataFrame) -> pl.DataFrame:
    """The engine's own decision rows (no ``review_id``, or none set)."""
    if "review_id" not in decisions.columns:
        return decisions
    return decisions.filter(pl.col("review_id").is_null())


def store_sample(
    con: duckdb.DuckDBPyConnection, sample: pl.DataFrame, claims: pl.DataFrame
) -> None:
    """Append one sample (a :data:`SAMPLES_SCHEMA` row) and its claims in one
    transaction.

    Raises:
        ConfigError: a sample with that id is stored already (same period, seed,
            strata, size and population).
    """
    sample_id = sample["sample_id"][0]
    if has_table(con, "review_samples") and sql(
        con, "SELECT 1 FROM review_samples WHERE sample_id = ?", [sample_id]
    ):
        msg = (
            f"sample {sample_id} is stored already (same period, seed, strata, size "
            "and claims); `giamdinh review extrapolate "
            f"{sample_id}` reads it, or draw another with a different --seed"
        )
        raise ConfigError(msg)
    sql(con, "BEGIN TRANSACTION")
    try:
        append_table(con, "review_samples", sample.cast(pl.Schema(SAMPLES_SCHEMA)))
        rows = claims.with_columns(pl.lit(sample_id).alias("sample_id"))
        append_table(
            con,
            "review_sample_claims",
            rows.select(list(SAMPLE_CLAIMS_SCHEMA)).cast(
                pl.Schema(SAMPLE_CLAIMS_SCHEMA)
            ),
        )
        sql(con, "COMMIT")
    except BaseException:
        sql(con, "ROLLBACK")
        raise


def sample_of(
    con: duckdb.DuckDBPyConnection, sample_id: str
) -> tuple[dict[str, object], pl.DataFrame]:
    """The stored sample ``sample_id``: its row and its claims.

    Raises:
        ConfigError: no such sample.
    """
    found = (
        con.sql(
            "SELECT * FROM review_samples WHERE sample_id = ?", params=[sample_id]
        ).pl()
        if has_table(con, "review_samples")
        else pl.DataFrame()
    )
    if found.height == 0:
        msg = (
            f"no review sample {sample_id!r} in the store; draw one with "
            "`giamdinh review sample --period YYYY-MM --size N`"
        )
        raise ConfigError(msg)
    claims = con.sql(
        "SELECT * EXCLUDE (sample_id) FROM review_sample_claims WHERE sample_id = ? "
        "ORDER BY stratum, ma_cskcb, ma_lk, file_id, hoso_idx",
        params=[sample_id],
    ).pl()
    return found.row(0, named=True), claims


def reviewed_amounts(
    con: duckdb.DuckDBPyConnection, claims: pl.DataFrame, months: Sequence[str]
) -> pl.DataFrame:
    """``claims`` (a sample's) with ``engine_accepted``, ``review_accepted``,
    ``review_id``, ``reviewed`` and ``overpayment`` (engine − review; null when the
    claim is not reviewed)."""
    current = current_decisions(con, list(months), None)[0]
    if "review_id" not in current.columns:
        current = current.with_columns(pl.lit(None, pl.String).alias("review_id"))
    # a reviewed version carries its review id; else the current row is the engine's
    # (or, when the store gives the reviewed version without its id, the review's)
    chosen = (
        current.with_columns(pl.col("review_id").cast(pl.String))
        .sort(pl.col("review_id").is_not_null(), maintain_order=True)
        .group_by(_KEYS, maintain_order=True)
        .last()
        .join(_reviews_in_force(con, claims), on=list(_KEYS), how="left")
        .select(
            *_KEYS,
            pl.col("accepted_t_bhtt").cast(MONEY).alias("current_accepted"),
            pl.coalesce("review_id", "_in_force").alias("review_id"),
        )
    )
    return (
        claims.join(_engine_accepted(con, claims), on=list(_KEYS), how="left")
        .join(chosen, on=list(_KEYS), how="left")
        .with_columns(
            pl.col("review_id").is_not_null().alias("reviewed"),
            pl.when(pl.col("review_id").is_not_null())
            .then(pl.col("current_accepted"))
            .alias("review_accepted"),
        )
        .with_columns(
            (pl.col("engine_accepted") - pl.col("review_accepted"))
            .cast(MONEY)
            .alias("overpayment"),
        )
        .drop("current_accepted")
    )


def _reviews_in_force(
    con: duckdb.DuckDBPyConnection, claims: pl.DataFrame
) -> pl.DataFrame:
    """The latest review in force (decided, or approved) of each claim version, from
    ``review_decisions`` (``claims.store.review``) when the store has it."""
    if not has_table(con, "review_decisions"):
        return pl.DataFrame(
            schema={"file_id": pl.String, "hoso_idx": pl.UInt32, "_in_force": pl.String}
        )
    con.register("_keys", claims.select(_KEYS).to_arrow())
    try:
        found: pl.DataFrame = con.sql(
            "SELECT file_id, hoso_idx, arg_max(review_id, decided_at) AS _in_force "
            "FROM review_decisions JOIN _keys USING (file_id, hoso_idx) "
            "WHERE state IN ('decided', 'approved') GROUP BY ALL"
        ).pl()
    finally:
        con.unregister("_keys")
    return found.with_columns(pl.col("hoso_idx").cast(pl.UInt32))


def _engine_accepted(
    con: duckdb.DuckDBPyConnection, claims: pl.DataFrame
) -> pl.DataFrame:
    """The T_BHTT the engine's first decision of each claim version accepted (the
    decision row without a review id, of the earliest run)."""
    columns = {
        str(r[0])
        for r in sql(
            con,
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'decisions'",
        )
    }
    engine_only = "d.review_id IS NULL" if "review_id" in columns else "true"
    con.register("_keys", claims.select(_KEYS).to_arrow())
    try:
        found: pl.DataFrame = con.sql(
            "SELECT d.file_id, d.hoso_idx, "
            "arg_min(d.accepted_t_bhtt, r.run_date || r.run_id) AS engine_accepted "
            "FROM decisions d JOIN _keys USING (file_id, hoso_idx) "
            f"JOIN runs r USING (run_id) WHERE {engine_only} GROUP BY ALL"
        ).pl()
    finally:
        con.unregister("_keys")
    return found.with_columns(pl.col("engine_accepted").cast(MONEY))
