"""The stored window of the bed, machine and practitioner checks (§4.3 H7, H9, J4, H3).

For the facilities and days of a batch, the current stored claims' bed lines (stays
that overlap the batch's at its facilities), their XML3 lines per machine and day (at
its facilities, on its days) and per practitioner and day (any facility, on its days),
one query each. They become the optional list columns :data:`HISTORY_BEDS`,
:data:`HISTORY_MACHINES` and :data:`HISTORY_EXAMS` of the history frame, on its rows
and on rows added for the stored claims only this window sees (their ``drugs`` null).

:func:`with_stored_beds`, :func:`stored_machine_days` and :func:`stored_exams` give them
to the features in the batch's shapes, without the stored claims the batch re-submits
(its version replaces the stored one: a claim never counts twice), so H7 occupancy, H9
shared beds, J4 tests per machine-day and H3 exams per practitioner-day sweep the batch
and the stored window together. Without a history (a store-less check) they are empty:
the batch only.
"""

from __future__ import annotations

from typing import NamedTuple

import duckdb
import polars as pl

from claims.schema import (
    CLAIM_KEYS,
    EXAM_GROUPS,
    HISTORY_BED,
    HISTORY_BEDS,
    HISTORY_EXAM,
    HISTORY_EXAMS,
    HISTORY_MACHINE,
    HISTORY_MACHINES,
    HISTORY_PERFORM,
    HISTORY_PERFORMED,
    HISTORY_SCHEMA,
    Batch,
    patient_id,
)
from claims.store.runs import has_table


class Sources(NamedTuple):
    """The tables (or views) the history reads: the store's own, or a partitioned run's
    views that add the day's other partitions (``claims.pipeline.partitions``)."""

    claims: str = "claims"
    xml2: str = "xml2"
    xml3: str = "xml3"
    day: bool = False
    """The claims view has ``_day`` (true for the day's own claims): the history then
    carries their keys (``claims.schema.HISTORY_DAY``)."""


STORED = Sources()
"""The store's tables."""

_CLAIM = (
    "c.ma_the_bhyt, c.ma_cskcb, c.ma_lk, c.ngay_vao, c.ngay_ra, c.ma_loai_kcb, "
    "c.ma_benh_chinh"
)
_FROM = """
    FROM "{claims}" c JOIN {span} JOIN "{xml3}" x USING (file_id, hoso_idx)
    WHERE c.is_current AND NOT c.withdrawn AND {where}
"""
_DAY = "CAST(coalesce(x.ngay_th_yl, x.ngay_yl) AS DATE)"
_KEYS = ["ma_cskcb", "ma_lk"]


def _queries(sources: Sources, *, by_practitioner: bool = False) -> dict[str, str]:
    at_facility = "_spans s USING (ma_cskcb)"
    exam_groups = ", ".join(str(int(g)) for g in EXAM_GROUPS)
    beds = _FROM.format(
        claims=sources.claims,
        xml3=sources.xml3,
        span=at_facility,
        where="x.ma_giuong IS NOT NULL AND c.ngay_vao <= s.r1 AND c.ngay_ra >= s.v0",
    )
    machines = _FROM.format(
        claims=sources.claims,
        xml3=sources.xml3,
        span=at_facility,
        where=f"x.ma_may IS NOT NULL AND {_DAY} BETWEEN CAST(s.v0 AS DATE) "
        "AND CAST(s.r1 AS DATE)",
    )
    exams = _FROM.format(
        claims=sources.claims,
        xml3=sources.xml3,
        span="_days d ON true",
        where=f"TRY_CAST(x.ma_nhom AS BIGINT) IN ({exam_groups}) "
        f"AND {_DAY} BETWEEN d.d0 AND d.d1"
        + (
            " AND x.ma_bac_si IN (SELECT ma_bac_si FROM _practitioners)"
            if by_practitioner
            else ""
        ),
    )
    performed = _FROM.format(
        claims=sources.claims,
        xml3=sources.xml3,
        span="_days d ON true",
        where=f"x.nguoi_thuc_hien IS NOT NULL AND x.ngay_kq IS NOT NULL "
        f"AND {_DAY} BETWEEN d.d0 - 1 AND d.d1",
    )
    codes = (
        " WHERE trim(code) IN (SELECT ma_bac_si FROM _practitioners)"
        if by_practitioner
        else ""
    )
    return {
        HISTORY_PERFORMED: f"SELECT {_CLAIM.replace('c.', '')}, trim(code) AS "
        'nguoi_thuc_hien, start, "end" FROM (SELECT '
        f"{_CLAIM}, unnest(string_split(x.nguoi_thuc_hien, ';')) AS code, "
        'coalesce(x.ngay_th_yl, x.ngay_yl) AS start, x.ngay_kq AS "end" '
        f"{performed}){codes}",
        HISTORY_BEDS: f"SELECT {_CLAIM}, x.ma_khoa, x.ma_giuong, x.ma_nhom {beds}",
        HISTORY_MACHINES: f"SELECT {_CLAIM}, x.ma_may, {_DAY} AS line_date, "
        f"count(*) AS n {machines} GROUP BY ALL",
        HISTORY_EXAMS: f"SELECT {_CLAIM}, x.ma_bac_si, x.ma_nhom, {_DAY} AS line_date, "
        f"count(*) AS n {exams} GROUP BY ALL",
    }


_FIELDS: dict[str, tuple[pl.DataType, list[str]]] = {
    HISTORY_BEDS: (HISTORY_BED, ["ma_khoa", "ma_giuong", "ma_nhom"]),
    HISTORY_MACHINES: (HISTORY_MACHINE, ["ma_may", "line_date", "n"]),
    HISTORY_EXAMS: (HISTORY_EXAM, ["ma_bac_si", "ma_nhom", "line_date", "n"]),
    HISTORY_PERFORMED: (HISTORY_PERFORM, ["nguoi_thuc_hien", "start", "end"]),
}
"""Each list column: its type and the fields of its query's rows."""


def with_window(
    con: duckdb.DuckDBPyConnection,
    xml1: pl.DataFrame,
    history: pl.DataFrame,
    sources: Sources = STORED,
    practitioners: pl.Series | None = None,
) -> pl.DataFrame:
    """``history`` with the stored window of the batch whose XML1 rows are ``xml1``."""
    spans = (
        xml1.group_by("ma_cskcb")
        .agg(
            pl.col("ngay_vao").min().alias("v0"),
            pl.coalesce("ngay_ra", "ngay_vao").max().alias("r1"),
        )
        .drop_nulls()
    )
    if spans.height == 0 or not has_table(con, sources.xml3):
        return history
    days = spans.select(
        pl.col("v0").min().dt.date().alias("d0"),
        pl.col("r1").max().dt.date().alias("d1"),
    )
    con.register("_spans", spans.to_arrow())
    con.register("_days", days.to_arrow())
    if practitioners is not None:
        con.register("_practitioners", practitioners.to_frame("ma_bac_si").to_arrow())
    queries = _queries(sources, by_practitioner=practitioners is not None)
    try:
        found = {k: con.sql(q).pl() for k, q in queries.items()}
    finally:
        con.unregister("_spans")
        con.unregister("_days")
        if practitioners is not None:
            con.unregister("_practitioners")
    claims = [c.select(_CLAIM.replace("c.", "").split(", ")) for c in found.values()]
    window = (
        pl.concat(claims, how="vertical_relaxed")
        .unique(_KEYS)
        .select(patient_id().alias("patient"), pl.exclude("ma_the_bhyt"))
        .cast(pl.Schema(HISTORY_SCHEMA))
    )
    for column, frame in found.items():
        dtype, fields = _FIELDS[column]
        lists = frame.group_by(_KEYS).agg(pl.struct(fields).alias(column))
        window = window.join(lists, on=_KEYS, how="left").with_columns(
            pl.col(column).cast(dtype)
        )
    lists = window.select(*_KEYS, *_FIELDS)
    added = window.join(history, on=_KEYS, how="anti")
    merged: pl.DataFrame = pl.concat(
        [history.join(lists, on=_KEYS, how="left", maintain_order="left"), added],
        how="diagonal_relaxed",
    )
    return merged


# ---- the window in the batch's shapes (read by claims.features and features_registry)

BED_COLUMNS: dict[str, pl.DataType] = {
    "file_id": pl.String(),
    "hoso_idx": pl.UInt32(),
    "ma_cskcb": pl.String(),
    "_patient": pl.String(),
    "ma_khoa": pl.String(),
    "ma_giuong": pl.String(),
    "ma_nhom": pl.String(),
    "claim_ngay_vao": pl.Datetime("us"),
    "claim_ngay_ra": pl.Datetime("us"),
}
"""What the bed sweeps read of a line (``claims.features_registry._stays``)."""


def performers() -> pl.Expr:
    """Per line, the codes of NGUOI_THUC_HIEN (``;``-separated), each trimmed: how a
    performer is matched (:func:`practitioners_of`, ``claims.store.dayindex``)."""
    return (
        pl.col("nguoi_thuc_hien")
        .str.split(";")
        .list.eval(pl.element().str.strip_chars())
    )


def practitioners_of(batch: Batch) -> pl.Series:
    """The batch's examining practitioners (MA_BAC_SI of its exam lines, as sent) and
    performers (each code of NGUOI_THUC_HIEN): the exams and performed lines of the
    stored window that can count with the batch's."""
    nhom = pl.col("ma_nhom").cast(pl.Int64, strict=False).cast(pl.String)
    exam = nhom.is_in(list(EXAM_GROUPS))
    examining = batch.xml3.filter(exam)["ma_bac_si"]
    performing = batch.xml3.select(performers()).to_series().explode()
    both = pl.concat([examining, performing.rename("ma_bac_si")])
    return both.filter(both != "").drop_nulls().unique().sort()


def _stored(
    history: pl.DataFrame | None, claims: pl.DataFrame, column: str
) -> pl.DataFrame | None:
    """The history's rows with ``column``, less the claims the batch re-submits, one
    row per element of ``column`` (its fields unnested); None when there are none."""
    if history is None or column not in history.columns:
        return None
    return (
        history.join(claims.select(_KEYS), on=_KEYS, how="anti")
        .filter(pl.col(column).list.len() > 0)
        .explode(column)
        .unnest(column)
    )


def with_stored_beds(
    lines: pl.DataFrame, history: pl.DataFrame | None, claims: pl.DataFrame
) -> pl.DataFrame:
    """``lines`` as the bed sweeps read them (:data:`BED_COLUMNS`), and the stored bed
    lines of the window under a key of their own (``stored:<MA_CSKCB>/<MA_LK>``)."""
    batch = lines.select(list(BED_COLUMNS)).cast(BED_COLUMNS)  # type: ignore[arg-type]
    stored = _stored(history, claims, HISTORY_BEDS)
    if stored is None or stored.height == 0:
        return batch
    keyed = stored.select(
        pl.concat_str(pl.lit("stored:"), "ma_cskcb", pl.lit("/"), "ma_lk").alias(
            "file_id"
        ),
        pl.lit(0, pl.UInt32).alias("hoso_idx"),
        "ma_cskcb",
        pl.col("patient").alias("_patient"),
        "ma_khoa",
        "ma_giuong",
        "ma_nhom",
        pl.col("ngay_vao").alias("claim_ngay_vao"),
        pl.col("ngay_ra").alias("claim_ngay_ra"),
    )
    return pl.concat([batch, keyed.cast(BED_COLUMNS)])  # type: ignore[arg-type]


def stored_machine_days(
    history: pl.DataFrame | None, claims: pl.DataFrame
) -> pl.DataFrame:
    """``ma_cskcb, ma_may, line_date, _stored_n``: the window's XML3 lines per machine
    and day (the batch's re-submitted claims left out)."""
    schema = {
        "ma_cskcb": pl.String,
        "ma_may": pl.String,
        "line_date": pl.Date,
        "_stored_n": pl.Int64,
    }
    stored = _stored(history, claims, HISTORY_MACHINES)
    if stored is None:
        return pl.DataFrame(schema=schema)
    return (
        stored.group_by("ma_cskcb", "ma_may", "line_date")
        .agg(pl.col("n").sum().alias("_stored_n"))
        .cast(schema)  # type: ignore[arg-type]
    )


def stored_exams(
    history: pl.DataFrame | None, claims: pl.DataFrame, exam: pl.Expr
) -> pl.DataFrame:
    """``ma_bac_si, _day, ma_cskcb, _n``: the window's exam lines (``exam`` over
    ``ma_nhom``) per practitioner, day and facility, with :data:`CLAIM_KEYS` null."""
    schema = {
        "ma_bac_si": pl.String,
        "_day": pl.Date,
        "ma_cskcb": pl.String,
        "_n": pl.Int64,
        "file_id": pl.String,
        "hoso_idx": pl.UInt32,
    }
    stored = _stored(history, claims, HISTORY_EXAMS)
    if stored is None:
        return pl.DataFrame(schema=schema)
    return (
        stored.filter(exam)
        .select(
            "ma_bac_si",
            pl.col("line_date").alias("_day"),
            "ma_cskcb",
            pl.col("n").alias("_n"),
            *(pl.lit(None).alias(k) for k in CLAIM_KEYS),
        )
        .cast(schema)  # type: ignore[arg-type]
    )


def stored_performed(
    history: pl.DataFrame | None, claims: pl.DataFrame
) -> pl.DataFrame:
    """``nguoi_thuc_hien, ma_cskcb, start, end``: the window's performed lines with both
    times, one row per performer (the batch's re-submitted claims left out)."""
    schema: dict[str, pl.DataType] = {
        "nguoi_thuc_hien": pl.String(),
        "ma_cskcb": pl.String(),
        "start": pl.Datetime("us"),
        "end": pl.Datetime("us"),
    }
    stored = _stored(history, claims, HISTORY_PERFORMED)
    if stored is None:
        return pl.DataFrame(schema=schema)
    return stored.select(list(schema)).cast(pl.Schema(schema))
