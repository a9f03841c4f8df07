"""What the pictures of one facility's anomaly scores read from the store
(``claims.anomalies.pictures``): its peer groups' costs, monthly median costs, the rule
hits on its claims. Reads only; each returns an empty frame of its schema when the
store holds nothing of it."""

from __future__ import annotations

import duckdb
import polars as pl

from claims.money import MONEY
from claims.store.anomalies import SCORES
from claims.store.runs import has_table

COSTS_SCHEMA: dict[str, pl.DataType] = {
    "ma_cskcb": pl.String(),
    "ma_lk": pl.String(),
    "peer_group": pl.String(),
    "cost": MONEY,
}
MONTHS_SCHEMA: dict[str, pl.DataType] = {
    "month": pl.String(),
    "own": pl.Boolean(),
    "claims": pl.Int64(),
    "median_cost": pl.Float64(),
}
HITS_SCHEMA: dict[str, pl.DataType] = {
    "rule_id": pl.String(),
    "action": pl.String(),
    "rejected": MONEY,
}


def peer_costs(
    con: duckdb.DuckDBPyConnection, period: str, facility: str
) -> pl.DataFrame:
    """:data:`COSTS_SCHEMA`: the scored claims of ``period`` in any peer group one of
    ``facility``'s claims was scored in, with their T_TONGCHI_BV."""
    if not (has_table(con, SCORES) and has_table(con, "claims")):
        return pl.DataFrame(schema=COSTS_SCHEMA)
    frame: pl.DataFrame = con.sql(
        f"SELECT s.ma_cskcb, s.ma_lk, s.peer_group, c.t_tongchi_bv AS cost "
        f"FROM {SCORES} s JOIN claims c USING (file_id, hoso_idx) "
        f"WHERE s.period = ? AND s.peer_group IN (SELECT peer_group FROM {SCORES} "
        "WHERE period = ? AND ma_cskcb = ?) ORDER BY s.ma_cskcb, s.ma_lk",
        params=[period, period, facility],
    ).pl()
    return frame.cast(pl.Schema(COSTS_SCHEMA))


def monthly_medians(
    con: duckdb.DuckDBPyConnection,
    facility: str,
    peers: list[str],
    first: tuple[int, int],
    last: tuple[int, int],
) -> pl.DataFrame:
    """:data:`MONTHS_SCHEMA`: per month from ``first`` to ``last`` (year, month), the
    median T_TONGCHI_BV (a float, for a picture) and the count of the current, not
    withdrawn claims of ``facility`` (``own``) and of ``peers`` (the others)."""
    if not has_table(con, "claims"):
        return pl.DataFrame(schema=MONTHS_SCHEMA)
    frame: pl.DataFrame = con.sql(
        "SELECT printf('%04d-%02d', nam_qt, thang_qt) AS month, ma_cskcb = ? AS own, "
        "count(*) AS claims, median(CAST(t_tongchi_bv AS DOUBLE)) AS median_cost "
        "FROM claims WHERE is_current AND NOT withdrawn "
        "AND nam_qt * 12 + thang_qt BETWEEN ? AND ? "
        "AND (ma_cskcb = ? OR ma_cskcb IN (SELECT unnest(?))) "
        "GROUP BY ALL ORDER BY month, own",
        params=[
            facility,
            first[0] * 12 + first[1],
            last[0] * 12 + last[1],
            facility,
            [p for p in peers if p != facility],
        ],
    ).pl()
    return frame.cast(pl.Schema(MONTHS_SCHEMA))


def rule_hits_of(
    con: duckdb.DuckDBPyConnection, year: int, month: int, facility: str
) -> pl.DataFrame:
    """:data:`HITS_SCHEMA`: one row per rule hit, in the run that decided it, on the
    current, not withdrawn claims of ``facility`` declaring ``year``-``month``; with
    the engine's rejected amount of the line hit (a claim-level hit: of the claim)."""
    needed = ("claims", "rule_hits", "decisions", "decision_lines")
    if not all(has_table(con, t) for t in needed):
        return pl.DataFrame(schema=HITS_SCHEMA)
    frame: pl.DataFrame = con.sql(
        """
        SELECT h.rule_id, h.action,
               CASE WHEN h.line_no IS NULL THEN d.rejected_amount
                    ELSE l.rejected_amount END AS rejected
        FROM rule_hits h
        JOIN claims c ON c.file_id = h.file_id AND c.hoso_idx = h.hoso_idx
             AND c.run_id = h.run_id
        LEFT JOIN decisions d ON d.file_id = h.file_id AND d.hoso_idx = h.hoso_idx
             AND d.run_id = h.run_id
        LEFT JOIN decision_lines l ON l.file_id = h.file_id
             AND l.hoso_idx = h.hoso_idx AND l.run_id = h.run_id
             AND l."table" = h."table" AND l.line_no = h.line_no
        WHERE c.is_current AND NOT c.withdrawn AND c.ma_cskcb = ?
              AND c.nam_qt = ? AND c.thang_qt = ? AND h.outcome = 'fired'
        ORDER BY h.rule_id
        """,
        params=[facility, year, month],
    ).pl()
    return frame.cast(pl.Schema(HITS_SCHEMA))
