"""One claim as the store holds it: every version, its decisions and reasons, and the
submissions of it that validation refused (what ``giamdinh claims show`` reads).

A claim is named by its facility and MA_LK. Every stored version (``claims``) comes
with the run that stored it and the file it came in; a version's decision and reasons
are those of that run (``decisions``, ``decision_reasons``). A submission whose XML1
validation refused has no version: it is listed apart with its quarantine reasons.
"""

from __future__ import annotations

from typing import NamedTuple

import duckdb
import polars as pl

from claims.store.runs import has_table

_VERSION_COLUMNS = """
    c.version, c.is_current, c.withdrawn, c.run_id, r.run_date, s.name AS file,
    c.file_id, c.hoso_idx, c.ngay_vao, c.ngay_ra, c.ma_loai_kcb, c.nam_qt, c.thang_qt
"""


class ClaimRecord(NamedTuple):
    """A stored claim's versions, decisions and reasons, newest version first."""

    versions: pl.DataFrame
    """``version, is_current, withdrawn, run_id, run_date, file, file_id, hoso_idx,
    ngay_vao, ngay_ra, ma_loai_kcb, nam_qt, thang_qt``."""
    decisions: pl.DataFrame
    """The decision of each version (``decisions`` rows with ``version``)."""
    reasons: pl.DataFrame
    """The reasons of each version's decision (``decision_reasons`` rows with
    ``version``)."""
    refused: pl.DataFrame
    """Submissions of the claim refused at validation: ``run_id, run_date, file,
    file_id, hoso_idx, claim_reasons``."""
    refused_reasons: pl.DataFrame
    """Their quarantine entries: ``file_id, hoso_idx, table, line_no, field,
    reason_code, message``."""


def claim_record(
    con: duckdb.DuckDBPyConnection, facility: str, claim: str
) -> ClaimRecord:
    """Every stored version of claim ``(facility, claim)``, and its refused
    submissions; empty frames when the store holds none."""
    params: list[object] = [facility, claim]
    versions = _query(
        con,
        "claims",
        f"""SELECT {_VERSION_COLUMNS} FROM claims c
        LEFT JOIN runs r USING (run_id) LEFT JOIN submissions s USING (file_id)
        WHERE c.ma_cskcb = ? AND c.ma_lk = ? ORDER BY c.version DESC""",
        params,
    )
    keys = versions.select("file_id", "hoso_idx", "version")
    decisions = _of_versions(con, "decisions", keys)
    reasons = _of_versions(con, "decision_reasons", keys)
    refused = _query(
        con,
        "claim_status",
        """SELECT s.run_id, r.run_date, f.name AS file, s.file_id, s.hoso_idx,
        s.claim_reasons FROM claim_status s
        LEFT JOIN runs r USING (run_id) LEFT JOIN submissions f USING (file_id)
        WHERE s.status = 'rejected' AND s.ma_cskcb = ? AND s.ma_lk = ?
        ORDER BY r.run_date DESC, f.name, s.hoso_idx""",
        params,
    )
    refused_reasons = _of_versions(
        con, "quarantine", refused.select("file_id", "hoso_idx")
    )
    if refused_reasons.height:
        refused_reasons = refused_reasons.select(
            "file_id", "hoso_idx", "table", "line_no", "field", "reason_code", "message"
        ).sort("file_id", "hoso_idx", "table", "line_no", nulls_last=False)
    return ClaimRecord(versions, decisions, reasons, refused, refused_reasons)


def facilities_of(con: duckdb.DuckDBPyConnection, claim: str) -> list[str]:
    """The facilities that stored a claim with MA_LK ``claim`` (to suggest a fix)."""
    if not has_table(con, "claims"):
        return []
    rows = con.sql(
        "SELECT DISTINCT ma_cskcb FROM claims WHERE ma_lk = ? ORDER BY 1",
        params=[claim],
    ).fetchall()
    return [str(r[0]) for r in rows]


def example_claim(con: duckdb.DuckDBPyConnection) -> tuple[str, str, str] | None:
    """A current claim to show: partially accepted, else pending review, rejected,
    accepted (the first by facility and MA_LK); ``(ma_cskcb, ma_lk, outcome)``."""
    if not has_table(con, "decisions"):
        return None
    rows = con.sql(
        """SELECT d.ma_cskcb, d.ma_lk, d.outcome FROM decisions d
        JOIN claims c USING (file_id, hoso_idx) WHERE c.is_current
        ORDER BY list_position(
            ['partially_accepted', 'pending_review', 'rejected', 'accepted'], d.outcome
        ) NULLS LAST, d.ma_cskcb, d.ma_lk LIMIT 1"""
    ).fetchall()
    return (str(rows[0][0]), str(rows[0][1]), str(rows[0][2])) if rows else None


def _query(
    con: duckdb.DuckDBPyConnection, table: str, query: str, params: list[object]
) -> pl.DataFrame:
    if not has_table(con, table):
        return pl.DataFrame(
            schema={"file_id": pl.String, "hoso_idx": pl.UInt32, "version": pl.Int32}
        )
    found: pl.DataFrame = con.sql(query, params=params).pl()
    return found


def _of_versions(
    con: duckdb.DuckDBPyConnection, table: str, keys: pl.DataFrame
) -> pl.DataFrame:
    """The rows of ``table`` for the claims of ``keys`` (``file_id, hoso_idx`` and
    any other columns of ``keys``, joined on)."""
    if keys.height == 0 or not has_table(con, table):
        return pl.DataFrame(schema=keys.schema)
    more = ", k.* EXCLUDE (file_id, hoso_idx)" if keys.width > 2 else ""
    con.register("_versions", keys.to_arrow())
    try:
        found: pl.DataFrame = con.sql(
            f'SELECT t.*{more} FROM "{table}" t '
            "JOIN _versions k USING (file_id, hoso_idx)"
        ).pl()
    finally:
        con.unregister("_versions")
    return found


_LINE_DETAILS = {
    "xml2": "ten_thuoc AS name, don_vi_tinh, ma_khoa, ma_bac_si, ngay_yl",
    "xml3": "coalesce(ten_dich_vu, ten_vat_tu) AS name, don_vi_tinh, ma_khoa, "
    "ma_bac_si, ngay_yl",
}


def claim_row(
    con: duckdb.DuckDBPyConnection, file_id: str, hoso_idx: int
) -> dict[str, object] | None:
    """The stored XML1 row of one claim version (``claims``), None when not stored."""
    if not has_table(con, "claims"):
        return None
    found = con.sql(
        "SELECT * FROM claims WHERE file_id = ? AND hoso_idx = ?",
        params=[file_id, hoso_idx],
    ).pl()
    return found.row(0, named=True) if found.height else None


def line_details(
    con: duckdb.DuckDBPyConnection, file_id: str, hoso_idx: int
) -> pl.DataFrame:
    """``table, line_no, name, don_vi_tinh, ma_khoa, ma_bac_si, ngay_yl`` of one claim
    version's XML2 and XML3 lines as sent (the name a person reads beside the code)."""
    parts = [
        f"SELECT '{view.upper()}' AS \"table\", line_no, {columns} FROM {view} "
        "WHERE file_id = ? AND hoso_idx = ?"
        for view, columns in _LINE_DETAILS.items()
        if has_table(con, view)
    ]
    schema = {
        "table": pl.String, "line_no": pl.UInt32, "name": pl.String,
        "don_vi_tinh": pl.String, "ma_khoa": pl.String, "ma_bac_si": pl.String,
        "ngay_yl": pl.String,
    }  # fmt: skip
    if not parts:
        return pl.DataFrame(schema=schema)
    found: pl.DataFrame = con.sql(
        " UNION ALL ".join(parts), params=[file_id, hoso_idx] * len(parts)
    ).pl()
    return found.cast({"line_no": pl.UInt32, "ngay_yl": pl.String})


def claim_rule_hits(
    con: duckdb.DuckDBPyConnection, file_id: str, hoso_idx: int, run_id: str
) -> pl.DataFrame:
    """The rules that fired or could not be evaluated on one claim version in the run
    that decided it: ``rule_id, pack, action, reason_code, outcome, table, line_no,
    stt, item_code, adjust_to``, claim-level hits first, then by table and line."""
    if not has_table(con, "rule_hits"):
        return pl.DataFrame()
    lines = (
        "LEFT JOIN decision_lines l ON l.file_id = h.file_id AND l.hoso_idx = "
        'h.hoso_idx AND l.run_id = h.run_id AND l."table" = h."table" '
        "AND l.line_no = h.line_no"
        if has_table(con, "decision_lines")
        else "LEFT JOIN (SELECT NULL::BIGINT AS stt, NULL::VARCHAR AS code) l ON false"
    )
    found: pl.DataFrame = con.sql(
        f"""SELECT h.rule_id, h.pack, h.action, h.reason_code, h.outcome,
            h."table", h.line_no, l.stt, l.code AS item_code, h.adjust_to
        FROM rule_hits h {lines}
        WHERE h.file_id = ? AND h.hoso_idx = ? AND h.run_id = ?
        ORDER BY h.line_no NULLS FIRST, h."table", h.line_no, h.rule_id""",
        params=[file_id, hoso_idx, run_id],
    ).pl()
    return found
