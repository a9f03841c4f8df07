"""Settlements in the store: the current decisions of a period, the amounts validation
kept of their quarantined lines, the output folders (frames as Parquet and CSV, Excel
workbooks)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

import duckdb
import polars as pl

from claims.errors import ConfigError
from claims.store.review import ReviewVersion, reviewed_current
from claims.store.runs import has_table


def current_decisions(
    con: duckdb.DuckDBPyConnection,
    months: list[str],
    facility: str | None,
    hold_risk: float | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Decisions, lines and reasons of the current version of each claim of ``months``.

    A claim an assessor decided is read in its reviewed version. With ``hold_risk``
    (``Settings.review_risk_threshold``), a claim the engine accepted (in whole or in
    part) whose stored anomaly risk is at least ``hold_risk`` and that no review has
    decided yet is held: its outcome reads ``pending_review`` (not paid until an
    assessor decides it) with a reason ``RISK_HOLD`` naming its risk and explanation.

    Raises:
        ConfigError: the store holds no claims yet.
    """
    if not has_table(con, "claims"):
        msg = (
            "the store holds no claims yet; run `giamdinh run` or `giamdinh demo` first"
        )
        raise ConfigError(msg)
    where = "c.is_current AND d.period IN (SELECT unnest(?))"
    params: list[object] = [months]
    if facility is not None:
        where += " AND d.ma_cskcb = ?"
        params.append(facility)
    keys = (
        "SELECT d.file_id, d.hoso_idx FROM decisions d JOIN claims c "
        f"USING (file_id, hoso_idx) WHERE {where}"
    )
    decisions = con.sql(
        f"SELECT d.* FROM decisions d WHERE (d.file_id, d.hoso_idx) IN ({keys}) "
        "ORDER BY d.ma_cskcb, d.ma_lk, d.file_id, d.hoso_idx",
        params=params,
    ).pl()
    con.register("_keys", decisions.select("file_id", "hoso_idx").to_arrow())
    try:
        lines = con.sql(
            "SELECT l.* FROM decision_lines l JOIN _keys USING (file_id, hoso_idx) "
            "ORDER BY l.file_id, l.hoso_idx, l.table, l.line_no"
        ).pl()
        reasons = con.sql(
            "SELECT r.* FROM decision_reasons r JOIN _keys USING (file_id, hoso_idx)"
        ).pl()
    finally:
        con.unregister("_keys")
    return in_force(con, decisions, lines, reasons, hold_risk)


def in_force(
    con: duckdb.DuckDBPyConnection,
    decisions: pl.DataFrame,
    lines: pl.DataFrame,
    reasons: pl.DataFrame,
    hold_risk: float | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The engine's decisions, lines and reasons of some claim versions as settlement
    reads them (see :func:`current_decisions`): an assessor's current reviewed version
    in place of the engine's, and with ``hold_risk`` the engine-payable claims whose
    risk reaches it and that no review decided held ``pending_review``."""
    reviewed = reviewed_current(con, decisions)
    if hold_risk is not None:
        decisions, reasons = _with_holds(con, decisions, reasons, reviewed, hold_risk)
    return _with_reviews(reviewed, decisions, lines, reasons)


def file_outcomes(
    con: duckdb.DuckDBPyConnection, file_id: str, hold_risk: float | None
) -> list[dict[str, object]]:
    """Each stored claim of file ``file_id`` as settlement reads it now (see
    :func:`in_force`): ``hoso_idx, ma_lk, outcome, reason_codes, review_id``. A claim
    held by its risk or decided by an assessor after its run differs from its
    receipt."""
    if not has_table(con, "decisions"):
        return []
    decisions = con.sql(
        "SELECT * FROM decisions WHERE file_id = ? ORDER BY hoso_idx", params=[file_id]
    ).pl()
    if decisions.height == 0:
        return []
    empty_lines = con.sql("SELECT * FROM decision_lines LIMIT 0").pl()
    reasons = con.sql(
        "SELECT * FROM decision_reasons WHERE file_id = ?", params=[file_id]
    ).pl()
    now, _, _ = in_force(con, decisions, empty_lines, reasons, hold_risk)
    shown = ["hoso_idx", "ma_lk", "outcome", "reason_codes"]
    if "review_id" in now.columns:
        shown.append("review_id")
    return now.select(shown).sort("hoso_idx").to_dicts()


HOLD_CODE = "RISK_HOLD"
"""The reason code of a claim held for review by its anomaly risk."""
_PAYABLE = ("accepted", "partially_accepted")


def _with_holds(
    con: duckdb.DuckDBPyConnection,
    decisions: pl.DataFrame,
    reasons: pl.DataFrame,
    reviewed: ReviewVersion | None,
    hold_risk: float,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The engine-payable claims whose risk reaches ``hold_risk`` and that no review
    decided, as ``pending_review`` with a ``RISK_HOLD`` reason."""
    if not has_table(con, "anomaly_scores") or decisions.height == 0:
        return decisions, reasons
    keys = ["file_id", "hoso_idx"]
    con.register("_held_keys", decisions.select(keys).to_arrow())
    try:
        scores = con.sql(
            "SELECT s.file_id, s.hoso_idx, max(s.risk)::DOUBLE AS risk, "
            "arg_max(s.explanation::VARCHAR, s.risk) AS explanation "
            "FROM anomaly_scores s JOIN _held_keys USING (file_id, hoso_idx) "
            "GROUP BY ALL HAVING max(s.risk) >= ?",
            params=[hold_risk],
        ).pl()
    finally:
        con.unregister("_held_keys")
    if reviewed is not None:
        scores = scores.join(reviewed.decisions.select(keys), on=keys, how="anti")
    held = (
        decisions.filter(pl.col("outcome").is_in(_PAYABLE))
        .select(*keys, "run_id")
        .join(scores.with_columns(pl.col("hoso_idx").cast(pl.UInt32)), on=keys)
    )
    if held.height == 0:
        return decisions, reasons
    marked = decisions.join(
        held.select(*keys, pl.lit(True).alias("_held")), on=keys, how="left"
    ).with_columns(
        pl.when(pl.col("_held"))
        .then(pl.lit("pending_review"))
        .otherwise(pl.col("outcome"))
        .alias("outcome"),
        pl.when(pl.col("_held"))
        .then(pl.concat_list("reason_codes", pl.lit([HOLD_CODE])).list.sort())
        .otherwise(pl.col("reason_codes"))
        .alias("reason_codes"),
    )
    message = pl.format(
        "Hồ sơ có điểm rủi ro {} (ngưỡng {}): chờ giám định viên xem xét trước khi "
        "thanh toán. {}",
        pl.col("risk").round(4),
        pl.lit(hold_risk),
        pl.col("explanation").fill_null(""),
    )
    rows = held.select(
        "run_id",
        *keys,
        pl.lit("claim").alias("level"),
        pl.lit(HOLD_CODE).alias("code"),
        pl.lit("anomaly").alias("source"),
        message.alias("message"),
    )
    extra = rows.select(
        [
            rows[c].cast(reasons.schema[c])
            if c in rows.columns
            else pl.lit(None, reasons.schema[c]).alias(c)
            for c in reasons.columns
        ]
    )
    return marked.drop("_held"), pl.concat([reasons, extra])


def _with_reviews(
    reviewed: ReviewVersion | None,
    decisions: pl.DataFrame,
    lines: pl.DataFrame,
    reasons: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The claims an assessor decided in their current reviewed version
    (``claims.store.review.reviewed_current``) in place of the engine's."""
    if reviewed is None or reviewed.decisions.height == 0:
        return decisions, lines, reasons
    keys = reviewed.decisions.select("file_id", "hoso_idx")

    def replaced(engine: pl.DataFrame, review: pl.DataFrame) -> pl.DataFrame:
        kept = engine.join(keys, on=["file_id", "hoso_idx"], how="anti")
        return pl.concat([kept, review.select(engine.columns).cast(engine.schema)])

    return (
        replaced(decisions, reviewed.decisions).sort(
            "ma_cskcb", "ma_lk", "file_id", "hoso_idx"
        ),
        replaced(lines, reviewed.lines).sort("file_id", "hoso_idx", "table", "line_no"),
        replaced(reasons, reviewed.reasons),
    )


KEPT_AMOUNTS = ("claimed_bh", "claimed_bhtt")
"""The quarantine columns holding a quarantined line's THANH_TIEN_BH and T_BHTT where
they parsed (null where they did not), when validation keeps them."""


def quarantined_amounts(
    con: duckdb.DuckDBPyConnection, decisions: pl.DataFrame
) -> pl.DataFrame | None:
    """``file_id, hoso_idx, table, line_no, claimed_bh, claimed_bhtt``: the amounts of
    the quarantined lines of ``decisions``' claims, one row per line; None when the
    store's quarantine does not keep amounts (every quarantined line then counts at 0,
    and its claim's total carries its money)."""
    if not has_table(con, "quarantine"):
        return None
    columns = {
        str(r[0])
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'quarantine'"
        ).fetchall()
    }
    if not set(KEPT_AMOUNTS) <= columns:
        return None
    con.register("_keys", decisions.select("file_id", "hoso_idx").to_arrow())
    try:
        kept: pl.DataFrame = con.sql(
            'SELECT q.file_id, q.hoso_idx, q."table", q.line_no, '
            "any_value(q.claimed_bh) AS claimed_bh, "
            "any_value(q.claimed_bhtt) AS claimed_bhtt "
            "FROM quarantine q JOIN _keys USING (file_id, hoso_idx) "
            "WHERE q.line_no IS NOT NULL GROUP BY ALL"
        ).pl()
    finally:
        con.unregister("_keys")
    return kept


def write_frames(folder: Path, frames: Mapping[str, pl.DataFrame]) -> None:
    """Each frame as ``<name>.parquet`` (exact decimals) and ``<name>.csv``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        frame.write_parquet(folder / f"{name}.parquet", statistics=False)
        frame.write_csv(folder / f"{name}.csv")


class Savable(Protocol):
    """A document that saves itself to a path (an openpyxl ``Workbook``)."""

    def save(self, filename: Path) -> None: ...


def write_workbooks(folder: Path, books: Iterable[tuple[str, Savable]]) -> list[Path]:
    """Save each ``(name, workbook)`` as ``folder/<name>.xlsx``, in order; the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, book in books:
        path = folder / f"{name}.xlsx"
        book.save(path)
        paths.append(path)
    return paths
