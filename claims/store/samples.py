"""Review samples in the store: the population a sample is drawn from, the samples
drawn (``review_samples``, ``review_sample_claims``, append-only), and what review
found on each sampled claim.

A sampled claim is **reviewed** when its claim version has a review in force
(``claims.store.review``: decided, or approved; its current reviewed version is the one
``claims.store.settlements.current_decisions`` takes as current), or when the
``decisions`` view holds a version of it with a ``review_id``. Its overpayment is the
T_BHTT the engine's decision accepted (the version's decision without a review id, of
its earliest run) minus the T_BHTT its current reviewed version accepts. A sampled
claim whose version was superseded by a newer one since the draw is no longer current:
it counts as not reviewed.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import polars as pl

from claims.errors import ConfigError
from claims.money import MONEY
from claims.store.review import reviewed_current
from claims.store.runs import append_table, has_table, sql

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
_CLAIM = ("ma_cskcb", "ma_lk", *_KEYS)


def period_population(
    con: duckdb.DuckDBPyConnection, months: Sequence[str]
) -> pl.DataFrame:
    """The current, not withdrawn claims of ``months``: keys, MA_LOAI_KCB, claimed
    T_BHTT and the anomaly risk (null when the period was not scored: no
    ``anomaly_scores`` table, or no row for the claim).

    One SQL over the decisions and claims (a reviewed version keeps the claim's keys
    and claimed money, so the engine's decision tells them); no decision line is read.

    Raises:
        ConfigError: the store holds no claims yet.
    """
    if not has_table(con, "claims") or not has_table(con, "decisions"):
        msg = (
            "the store holds no claims yet; run `giamdinh run` or `giamdinh demo` first"
        )
        raise ConfigError(msg)
    found: pl.DataFrame = con.sql(
        f"""
        WITH population AS (
            SELECT d.file_id, d.hoso_idx, any_value(d.ma_cskcb) AS ma_cskcb,
                any_value(d.ma_lk) AS ma_lk, any_value(c.ma_loai_kcb) AS ma_loai_kcb,
                any_value(d.claimed_t_bhtt) AS claimed_t_bhtt
            FROM decisions d JOIN claims c USING (file_id, hoso_idx)
            WHERE c.is_current AND d.period IN (SELECT unnest($months))
                AND NOT coalesce(d.withdrawn, false)
            GROUP BY ALL
        )
        SELECT p.ma_cskcb, p.ma_lk, p.file_id, p.hoso_idx, p.ma_loai_kcb,
            p.claimed_t_bhtt, r.risk
        FROM population p LEFT JOIN ({_risks(con)}) r USING (file_id, hoso_idx)
        """,
        params={"months": list(months)},
    ).pl()
    return found.select(
        "ma_cskcb",
        "ma_lk",
        pl.col("file_id").cast(pl.String),
        pl.col("hoso_idx").cast(pl.UInt32),
        "ma_loai_kcb",
        pl.col("claimed_t_bhtt").cast(MONEY),
        pl.col("risk").cast(pl.Float64),
    )


def _risks(con: duckdb.DuckDBPyConnection) -> str:
    """The SQL of the claims' risks of the months (``$months``), from the stored
    anomaly scores (``claims.store.anomalies``), or of none."""
    if not has_table(con, "anomaly_scores"):
        return (
            "SELECT NULL::VARCHAR AS file_id, NULL::UINTEGER AS hoso_idx, "
            "NULL::DOUBLE AS risk WHERE false"
        )
    return (
        "SELECT file_id, hoso_idx, max(risk)::DOUBLE AS risk FROM anomaly_scores "
        "WHERE period IN (SELECT unnest($months)) GROUP BY ALL"
    )


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
    con: duckdb.DuckDBPyConnection, claims: pl.DataFrame
) -> pl.DataFrame:
    """``claims`` (a sample's) with ``engine_accepted``, ``review_accepted``,
    ``review_id``, ``reviewed`` and ``overpayment`` (engine − review; null when the
    claim is not reviewed). Reads the sampled claims' decisions only: the engine's, a
    reviewed version in the ``decisions`` view (with its ``review_id``), and the
    current reviewed version of ``claims.store.review`` (which
    ``current_decisions`` takes as current)."""
    keys = claims.select(_KEYS)
    in_force = _reviews_in_force(con, keys)
    version = reviewed_current(con, in_force.select(_KEYS))
    by_review = (
        version.decisions.select(
            *_KEYS, pl.col("accepted_t_bhtt").cast(MONEY).alias("_by_review")
        )
        if version is not None
        else pl.DataFrame(
            schema={"file_id": pl.String, "hoso_idx": pl.UInt32, "_by_review": MONEY}
        )
    )
    chosen = (
        _current_keys(con, keys)
        .join(_view_reviews(con, keys), on=list(_KEYS), how="left")
        .join(in_force, on=list(_KEYS), how="left")
        .join(by_review.unique(list(_KEYS)), on=list(_KEYS), how="left")
        .select(
            *_KEYS,
            pl.coalesce("_in_force", "review_id").alias("review_id"),
            pl.when(pl.col("_in_force").is_not_null())
            .then(pl.col("_by_review"))
            .otherwise(pl.col("_by_view"))
            .cast(MONEY)
            .alias("review_accepted"),
        )
    )
    return (
        claims.join(_engine_accepted(con, claims), on=list(_KEYS), how="left")
        .join(chosen, on=list(_KEYS), how="left")
        .with_columns(pl.col("review_id").is_not_null().alias("reviewed"))
        .with_columns(
            (pl.col("engine_accepted") - pl.col("review_accepted"))
            .cast(MONEY)
            .alias("overpayment"),
        )
    )


def _current_keys(con: duckdb.DuckDBPyConnection, keys: pl.DataFrame) -> pl.DataFrame:
    """Which of ``keys`` are still their claim's current version."""
    con.register("_keys", keys.to_arrow())
    try:
        found: pl.DataFrame = con.sql(
            "SELECT file_id, hoso_idx FROM claims JOIN _keys USING (file_id, hoso_idx) "
            "WHERE is_current"
        ).pl()
    finally:
        con.unregister("_keys")
    return found.with_columns(pl.col("hoso_idx").cast(pl.UInt32))


def _view_reviews(con: duckdb.DuckDBPyConnection, keys: pl.DataFrame) -> pl.DataFrame:
    """Reviewed versions the ``decisions`` view holds (rows with a ``review_id``; the
    latest run's), when it has that column."""
    empty = pl.DataFrame(
        schema={
            "file_id": pl.String,
            "hoso_idx": pl.UInt32,
            "review_id": pl.String,
            "_by_view": MONEY,
        }
    )
    if "review_id" not in _columns(con, "decisions"):
        return empty
    con.register("_keys", keys.to_arrow())
    try:
        found: pl.DataFrame = con.sql(
            "SELECT d.file_id, d.hoso_idx, "
            "arg_max(d.review_id, r.run_date || r.run_id) AS review_id, "
            "arg_max(d.accepted_t_bhtt, r.run_date || r.run_id) AS _by_view "
            "FROM decisions d JOIN _keys USING (file_id, hoso_idx) "
            "JOIN runs r USING (run_id) WHERE d.review_id IS NOT NULL GROUP BY ALL"
        ).pl()
    finally:
        con.unregister("_keys")
    return pl.concat([empty, found], how="diagonal_relaxed")


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    """The columns ``table`` has now (a view over Parquet gains the columns of newer
    files: it is described as it reads, not as it was created)."""
    return {str(r[0]) for r in sql(con, f'DESCRIBE SELECT * FROM "{table}"')}


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
    columns = _columns(con, "decisions")
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


def sampled_claims(
    con: duckdb.DuckDBPyConnection, months: Sequence[str] | None = None
) -> pl.DataFrame:
    """Every stored sample's claims not reviewed yet (of the samples of ``months``, or
    all): ``sample_id, period, stratum, ma_cskcb, ma_lk, file_id, hoso_idx,
    claimed_t_bhtt``, by sample and claim. What the review queue can hold for review
    so that an assessor may decide a sampled claim no rule or score held."""
    columns = ["sample_id", "period", "stratum", *_CLAIM, "claimed_t_bhtt"]
    if not has_table(con, "review_samples"):
        schema = {"period": pl.String(), **SAMPLE_CLAIMS_SCHEMA}
        return pl.DataFrame(schema=schema).select(columns)
    chosen = "true" if months is None else "s.period IN (SELECT unnest($months))"
    params: dict[str, object] = {} if months is None else {"months": list(months)}
    found: pl.DataFrame = con.sql(
        "SELECT c.*, s.period FROM review_sample_claims c "
        f"JOIN review_samples s USING (sample_id) WHERE {chosen} "
        "ORDER BY c.sample_id, c.stratum, c.file_id, c.hoso_idx",
        params=params,
    ).pl()
    state = reviewed_amounts(con, found.select(*_KEYS).unique(maintain_order=True))
    done = state.filter(pl.col("reviewed")).select(_KEYS)
    return found.join(done, on=list(_KEYS), how="anti").select(columns)
