"""Assessors' review decisions in the store, append-only: nothing is updated or deleted.

- ``review_decisions``: one row per reviewed line of a review (its id, the claim version
  ``file_id, hoso_idx``, the line, the action and amount, the BHXH reason code, the
  justification, who and when, and ``state``). An approval appends the review's rows
  again with ``state = 'approved'`` (or ``'refused'``: the claim is open again),
  ``approved_by`` and ``approved_at``.
- ``review_versions``, ``review_version_lines``, ``review_version_reasons``: the reviewed
  decision version of the claim (the engine's ``decisions`` / ``decision_lines`` /
  ``decision_reasons`` rows, same ids and hashes, with the review's amounts and
  ``review_id``). The engine's decision tables are views over the runs' Parquet files,
  which stay as the run wrote them; the reviewed versions are DuckDB tables beside them
  and :func:`reviewed_current` gives the current one of each claim version, which
  ``claims.store.settlements.current_decisions`` takes in place of the engine's.
- ``review_locks``: ``take`` and ``release`` rows; a claim is locked to the assessor of
  its latest ``take`` until that lock's ``expires_at`` or a later ``release``.
- ``review_events``: approvals and contests (``kind``), by whom, when, with a text.

A review is *in force* when its state is ``decided`` or ``approved``; the current
reviewed version of a claim version is its latest review in force (by ``decided_at``).
A claim version is *reopened* when a contest was recorded after its latest review.

Times are ISO 8601 UTC texts of one format (the caller reads the clock), so they
compare as texts.
"""

from __future__ import annotations

from typing import NamedTuple

import duckdb
import polars as pl

from claims.errors import ClaimsError
from claims.store.runs import append_table, has_table, sql

TABLES = (
    "review_decisions",
    "review_versions",
    "review_version_lines",
    "review_version_reasons",
    "review_locks",
    "review_events",
)
LOCK_SCHEMA: dict[str, pl.DataType] = {
    "ma_cskcb": pl.String(),
    "ma_lk": pl.String(),
    "assessor": pl.String(),
    "kind": pl.String(),
    "at": pl.String(),
    "expires_at": pl.String(),
}
EVENT_SCHEMA: dict[str, pl.DataType] = {
    "review_id": pl.String(),
    "ma_cskcb": pl.String(),
    "ma_lk": pl.String(),
    "file_id": pl.String(),
    "hoso_idx": pl.UInt32(),
    "kind": pl.String(),
    "by_user": pl.String(),
    "at": pl.String(),
    "text": pl.String(),
}


class ReviewLocked(ClaimsError):
    """The claim is locked to another assessor."""


class ReviewVersion(NamedTuple):
    """A reviewed decision version: its decision, lines and reasons."""

    decisions: pl.DataFrame
    lines: pl.DataFrame
    reasons: pl.DataFrame


def begin(con: duckdb.DuckDBPyConnection) -> None:
    sql(con, "BEGIN TRANSACTION")


def append_review(
    con: duckdb.DuckDBPyConnection, records: pl.DataFrame, version: ReviewVersion
) -> None:
    """Append a review's line records and its reviewed version (the caller holds the
    writer lock and commits)."""
    append_table(con, "review_decisions", records)
    append_table(con, "review_versions", version.decisions)
    append_table(con, "review_version_lines", version.lines)
    append_table(con, "review_version_reasons", version.reasons)


def append_approval(con: duckdb.DuckDBPyConnection, records: pl.DataFrame) -> None:
    """Append a review's line records again, approved (``state``, ``approved_by``,
    ``approved_at``)."""
    append_table(con, "review_decisions", records)


def append_event(con: duckdb.DuckDBPyConnection, event: pl.DataFrame) -> None:
    append_table(con, "review_events", event.cast(pl.Schema(EVENT_SCHEMA)))


def append_lock(con: duckdb.DuckDBPyConnection, lock: pl.DataFrame) -> None:
    append_table(con, "review_locks", lock.cast(pl.Schema(LOCK_SCHEMA)))


_STATES = """
    SELECT review_id, any_value(ma_cskcb) AS ma_cskcb, any_value(ma_lk) AS ma_lk,
        any_value(file_id) AS file_id, any_value(hoso_idx) AS hoso_idx,
        any_value(assessor) AS assessor, min(decided_at) AS decided_at,
        CASE WHEN bool_or(state = 'approved') THEN 'approved'
             WHEN bool_or(state = 'refused') THEN 'refused'
             ELSE any_value(state) END AS state,
        max(approved_by) AS approved_by, max(approved_at) AS approved_at,
        sum(engine_bhtt - amount) FILTER (WHERE state NOT IN ('approved', 'refused'))
            AS line_change
    FROM review_decisions GROUP BY review_id
"""


def review_states(
    con: duckdb.DuckDBPyConnection,
    facility: str | None = None,
    claim: str | None = None,
) -> pl.DataFrame:
    """One row per review: ``review_id, ma_cskcb, ma_lk, file_id, hoso_idx, assessor,
    decided_at, state, approved_by, approved_at, line_change`` (the engine's minus the
    reviewed T_BHTT over its lines), newest first; empty when none."""
    if not has_table(con, "review_decisions"):
        return pl.DataFrame(
            schema={
                "review_id": pl.String, "ma_cskcb": pl.String, "ma_lk": pl.String,
                "file_id": pl.String, "hoso_idx": pl.UInt32, "assessor": pl.String,
                "decided_at": pl.String, "state": pl.String, "approved_by": pl.String,
                "approved_at": pl.String,
            }
        )  # fmt: skip
    where, params = _claim_filter(facility, claim)
    found: pl.DataFrame = con.sql(
        f"SELECT * FROM ({_STATES}) {where} ORDER BY decided_at DESC, review_id",
        params=params,
    ).pl()
    return found


def review_history(
    con: duckdb.DuckDBPyConnection, facility: str, claim: str
) -> pl.DataFrame:
    """One row per review of a claim, newest first: its state (as
    :func:`review_states`), the BHXH reason code and justification the assessor gave,
    how many lines it decided, the reviewed version's ``outcome, claimed_t_bhtt,
    accepted_t_bhtt, rejected_amount``, and the clinic's latest contest of it
    (``contested_by, contested_at, contest_reason``; null when not contested)."""
    if not has_table(con, "review_decisions"):
        return pl.DataFrame()
    contests = (
        '(SELECT review_id, arg_max(by_user, "at") AS contested_by, '
        'max("at") AS contested_at, arg_max("text", "at") AS contest_reason '
        "FROM review_events WHERE kind = 'contest' GROUP BY review_id)"
        if has_table(con, "review_events")
        else "(SELECT NULL::VARCHAR AS review_id, NULL::VARCHAR AS contested_by, "
        "NULL::VARCHAR AS contested_at, NULL::VARCHAR AS contest_reason)"
    )
    found: pl.DataFrame = con.sql(
        f"""SELECT s.review_id, s.file_id, s.hoso_idx, s.assessor, s.decided_at,
            s.state, s.approved_by, s.approved_at, r.reason_code, r.justification,
            r.lines, v.outcome, v.claimed_t_bhtt, v.accepted_t_bhtt,
            v.rejected_amount, c.contested_by, c.contested_at, c.contest_reason
        FROM ({_STATES}) s
        JOIN (SELECT review_id, any_value(reason_code) AS reason_code,
                any_value(justification) AS justification, count(*) AS lines
            FROM review_decisions WHERE state NOT IN ('approved', 'refused')
            GROUP BY review_id) r USING (review_id)
        LEFT JOIN review_versions v USING (review_id)
        LEFT JOIN {contests} c USING (review_id)
        WHERE s.ma_cskcb = ? AND s.ma_lk = ?
        ORDER BY s.decided_at DESC, s.review_id""",
        params=[facility, claim],
    ).pl()
    return found


def review_records(con: duckdb.DuckDBPyConnection, review_id: str) -> pl.DataFrame:
    """The line records of one review as first written (empty when unknown)."""
    if not has_table(con, "review_decisions"):
        return pl.DataFrame()
    found: pl.DataFrame = con.sql(
        "SELECT * FROM review_decisions WHERE review_id = ? "
        "AND state NOT IN ('approved', 'refused') "
        'ORDER BY "table", line_no',
        params=[review_id],
    ).pl()
    return found


def events_of(
    con: duckdb.DuckDBPyConnection,
    facility: str | None = None,
    claim: str | None = None,
) -> pl.DataFrame:
    """The review events (approvals, contests), oldest first."""
    if not has_table(con, "review_events"):
        return pl.DataFrame(schema=EVENT_SCHEMA)
    where, params = _claim_filter(facility, claim)
    found: pl.DataFrame = con.sql(
        f'SELECT * FROM review_events {where} ORDER BY "at"', params=params
    ).pl()
    return found


def _claim_filter(facility: str | None, claim: str | None) -> tuple[str, list[object]]:
    conditions: list[str] = []
    params: list[object] = []
    for column, value in (("ma_cskcb", facility), ("ma_lk", claim)):
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    return where, params


def reviewed_current(
    con: duckdb.DuckDBPyConnection, keys: pl.DataFrame
) -> ReviewVersion | None:
    """The current reviewed version (latest review in force) of each claim version of
    ``keys`` (``file_id, hoso_idx``) that has one, without ``review_id``; None when
    the store holds no review."""
    if not has_table(con, "review_versions") or keys.height == 0:
        return None
    con.register("_review_keys", keys.select("file_id", "hoso_idx").to_arrow())
    try:
        chosen = f"""(SELECT s.review_id FROM ({_STATES}) s
            JOIN _review_keys USING (file_id, hoso_idx)
            WHERE s.state IN ('decided', 'approved')
            QUALIFY row_number() OVER (
                PARTITION BY s.file_id, s.hoso_idx ORDER BY s.decided_at DESC
            ) = 1)"""
        frames = [
            con.sql(
                f"SELECT * EXCLUDE (review_id) FROM {table} WHERE review_id IN {chosen}"
            ).pl()
            for table in (
                "review_versions",
                "review_version_lines",
                "review_version_reasons",
            )
        ]
    finally:
        con.unregister("_review_keys")
    return ReviewVersion(*frames)


def lock_holder(
    con: duckdb.DuckDBPyConnection, facility: str, claim: str, at: str
) -> tuple[str, str] | None:
    """``(assessor, expires_at)`` of the live lock on the claim at time ``at``; None
    when it is not locked."""
    if not has_table(con, "review_locks"):
        return None
    rows = sql(
        con,
        "SELECT assessor, kind, expires_at FROM review_locks "
        'WHERE ma_cskcb = ? AND ma_lk = ? ORDER BY "at" DESC, kind LIMIT 1',
        [facility, claim],
    )
    if not rows or rows[0][1] != "take" or str(rows[0][2]) <= at:
        return None
    return str(rows[0][0]), str(rows[0][2])


def refuse_locked(
    con: duckdb.DuckDBPyConnection, facility: str, claim: str, assessor: str, at: str
) -> None:
    """Raise ReviewLocked when another assessor holds a live lock on the claim."""
    held = lock_holder(con, facility, claim, at)
    if held is not None and held[0] != assessor:
        msg = (
            f"claim {facility}/{claim} is locked to assessor {held[0]} until "
            f"{held[1]} (đang được giám định viên {held[0]} xem xét); wait until then, "
            f"or ask {held[0]} to release it (`giamdinh review release {facility} "
            f"{claim} --as {held[0]}`)"
        )
        raise ReviewLocked(msg)


def review_candidates(
    con: duckdb.DuckDBPyConnection,
    *,
    months: list[str] | None = None,
    facility: str | None = None,
    claim: str | None = None,
    threshold: float = 1.0,
) -> pl.DataFrame:
    """The current claim versions held by a rule (outcome ``pending_review``), by a
    score (``anomaly_scores.risk`` ≥ ``threshold``, when the store has scores) or drawn
    into a review sample (``review_sample_claims``), of ``months`` (None: any), one
    facility or claim: ``file_id, hoso_idx, ma_cskcb, ma_lk, period, outcome,
    claimed_t_bhtt, accepted_t_bhtt, run_date`` (Date), ``reasons``, ``risk`` and
    ``explanation`` (the highest score's, null when not scored), ``sampled``."""
    if not has_table(con, "claims") or not has_table(con, "decisions"):
        return pl.DataFrame()
    where, params = ["c.is_current"], []
    for condition, value in (
        ("d.period IN (SELECT unnest(?))", months),
        ("d.ma_cskcb = ?", facility),
        ("d.ma_lk = ?", claim),
    ):
        if value is not None:
            where.append(condition)
            params.append(value)
    scores = (
        "(SELECT file_id, hoso_idx, max(risk)::DOUBLE AS risk, "
        "arg_max(explanation::VARCHAR, risk) AS explanation "
        "FROM anomaly_scores GROUP BY ALL)"
        if has_table(con, "anomaly_scores")
        else "(SELECT NULL::VARCHAR AS file_id, NULL::UINTEGER AS hoso_idx, "
        "NULL::DOUBLE AS risk, NULL::VARCHAR AS explanation)"
    )
    sampled = (
        "(SELECT DISTINCT file_id, hoso_idx, true AS sampled FROM review_sample_claims)"
        if has_table(con, "review_sample_claims")
        else "(SELECT NULL::VARCHAR AS file_id, NULL::UINTEGER AS hoso_idx, "
        "NULL::BOOLEAN AS sampled)"
    )
    found: pl.DataFrame = con.sql(
        f"""WITH held AS (
            SELECT d.file_id, d.hoso_idx, d.ma_cskcb, d.ma_lk, d.period, d.outcome,
                d.claimed_t_bhtt, d.accepted_t_bhtt,
                CAST(r.run_date AS DATE) AS run_date, s.risk, s.explanation,
                coalesce(m.sampled, false) AS sampled
            FROM decisions d JOIN claims c USING (file_id, hoso_idx)
            LEFT JOIN runs r ON r.run_id = c.run_id
            LEFT JOIN {scores} s USING (file_id, hoso_idx)
            LEFT JOIN {sampled} m USING (file_id, hoso_idx)
            WHERE {" AND ".join(where)}
                AND (d.outcome = 'pending_review' OR s.risk >= ? OR m.sampled)
        )
        SELECT h.*, (SELECT string_agg(DISTINCT x.code || ': ' || x.message, '; ')
            FROM decision_reasons x WHERE x.file_id = h.file_id
            AND x.hoso_idx = h.hoso_idx AND x.source NOT IN ('validation', 'payment')
        ) AS reasons
        FROM held h ORDER BY h.ma_cskcb, h.ma_lk""",
        params=[*params, threshold],
    ).pl()
    return found


def engine_version(
    con: duckdb.DuckDBPyConnection, facility: str, claim: str
) -> ReviewVersion:
    """The engine's decision, lines and reasons of the current version of a claim
    (empty frames when the store holds no current version of it)."""
    if not has_table(con, "claims") or not has_table(con, "decisions"):
        return ReviewVersion(pl.DataFrame(), pl.DataFrame(), pl.DataFrame())
    keys = (
        "(SELECT file_id, hoso_idx FROM claims WHERE is_current "
        "AND ma_cskcb = ? AND ma_lk = ?)"
    )
    frames = [
        con.sql(
            f"SELECT t.* FROM {table} t JOIN {keys} k USING (file_id, hoso_idx)"
            + (' ORDER BY t."table", t.line_no' if table == "decision_lines" else ""),
            params=[facility, claim],
        ).pl()
        for table in ("decisions", "decision_lines", "decision_reasons")
    ]
    return ReviewVersion(*frames)


def reviewed_version(con: duckdb.DuckDBPyConnection, review_id: str) -> ReviewVersion:
    """The reviewed version a review wrote (with ``review_id``)."""
    frames = [
        con.sql(f"SELECT * FROM {table} WHERE review_id = ?", params=[review_id]).pl()
        for table in (
            "review_versions",
            "review_version_lines",
            "review_version_reasons",
        )
    ]
    return ReviewVersion(*frames)
