"""Stored claims read back: the history cross-claim windows see, and claims to re-assess.

The current version of each selected claim, its lines and how many of its lines
validation quarantined, in validation's shapes, so the pipeline's stages after
validation run on them as on a new day.
"""

from __future__ import annotations

from typing import NamedTuple

import duckdb
import polars as pl

from claims.schema import (
    CLAIM_KEYS,
    HISTORY_CODE,
    HISTORY_CODES,
    HISTORY_DAY,
    HISTORY_DRUG,
    HISTORY_DRUGS,
    HISTORY_SCHEMA,
    VISIT_WINDOW_DAYS,
    patient_id,
    table_schema,
)
from claims.store.runs import DOC_VIEWS, has_table
from claims.store.window import STORED, Sources, with_window

LINE_VIEWS = ("xml2", "xml3", "xml4", "xml5", *DOC_VIEWS)
"""Every table besides XML1; a store made before the typed documents has no ``xml6``
… ``xml15`` views until its next run, and reads them as empty."""


class StoredClaims(NamedTuple):
    """Stored claims read back: their typed tables and what validation quarantined."""

    tables: dict[str, pl.DataFrame]
    """XML1–XML15 as validation stored them."""
    quarantined: pl.DataFrame
    """``file_id, hoso_idx, lines_quarantined`` per claim."""


def stored_claims(
    con: duckdb.DuckDBPyConnection, where: str, params: list[object]
) -> StoredClaims:
    """The current, not withdrawn claims matching ``where`` (SQL over ``claims``).

    Raises:
        LookupError: the store holds no claims yet.
    """
    if not has_table(con, "claims"):
        msg = "the store holds no claims yet; run `giamdinh ingest` first"
        raise LookupError(msg)
    query = f"SELECT * FROM claims WHERE is_current AND NOT withdrawn AND ({where})"
    xml1 = con.sql(query, params=params).pl().drop("_file_order", strict=False)
    keys = xml1.select(CLAIM_KEYS)
    con.register("_keys", keys.to_arrow())
    try:
        lines = {
            view.upper(): con.sql(
                f'SELECT v.* FROM "{view}" v JOIN _keys USING (file_id, hoso_idx)'
            ).pl()
            if has_table(con, view)
            else pl.DataFrame(schema=table_schema(view.upper()))
            for view in LINE_VIEWS
        }
        quarantined = con.sql(
            "SELECT s.file_id, s.hoso_idx, s.lines_quarantined FROM claim_status s "
            "JOIN _keys USING (file_id, hoso_idx)"
        ).pl()
    finally:
        con.unregister("_keys")
    tables = {"XML1": xml1, **lines}
    return StoredClaims(
        {t: _as_validated(t, f) for t, f in tables.items()}, quarantined
    )


def _as_validated(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """A stored table in validation's shape: its declared columns, in their order."""
    schema = table_schema(table)
    return frame.select(list(schema)).cast(pl.Schema(schema))


def history_of(
    con: duckdb.DuckDBPyConnection,
    claims: pl.DataFrame | None = None,
    sources: Sources = STORED,
    practitioners: pl.Series | None = None,
) -> pl.DataFrame | None:
    """Stored current claims, as the cross-claim windows of the assess stage read them.

    With ``claims`` (XML1 rows of a batch), only what their windows can see: the same
    patients, admitted from :data:`VISIT_WINDOW_DAYS` days before the batch's first
    admission or still in hospital then, and admitted by its last discharge.
    ``sources`` names the tables read (a partitioned run adds its day's other
    partitions to the store's); ``practitioners``, the batch's examining ones: the
    exams of other practitioners are not read (only theirs count for the batch).
    """
    if not has_table(con, sources.claims):
        return None
    day = (
        ", CASE WHEN _day THEN file_id END AS day_file_id, "
        "CASE WHEN _day THEN hoso_idx END AS day_hoso_idx"
        if sources.day
        else ""
    )
    query = f"""
        SELECT ma_the_bhyt, ma_cskcb, ma_lk, ngay_vao, ngay_ra, ma_loai_kcb,
               ma_benh_chinh{day}
        FROM "{sources.claims}" WHERE is_current AND NOT withdrawn
    """
    params: list[object] = []
    if claims is not None:
        first, last = claims["ngay_vao"].min(), claims["ngay_ra"].max()
        if first is None:
            return None
        patients = claims.select(patient_id().alias("patient")).drop_nulls().unique()
        con.register("_patients", patients.to_arrow())
        query += """
            AND substr(ma_the_bhyt, 6, 10) IN (SELECT patient FROM _patients)
            AND (ngay_vao >= ? - to_days(?) OR ngay_ra >= ?)
            AND ngay_vao <= ?
        """
        params = [first, VISIT_WINDOW_DAYS, first, last if last is not None else first]
    try:
        frame: pl.DataFrame = con.sql(query, params=params).pl()
    finally:
        if claims is not None:
            con.unregister("_patients")
    history = frame.select(
        patient_id().alias("patient"), pl.exclude("ma_the_bhyt")
    ).cast(pl.Schema(_history_schema(sources)))
    history = history.join(
        _drugs_of(con, history, sources),
        on=["ma_cskcb", "ma_lk"],
        how="left",
        maintain_order="left",
    )
    if claims is None:
        return history
    history = history.join(
        _codes_of(con, history, claims, sources),
        on=["ma_cskcb", "ma_lk"],
        how="left",
        maintain_order="left",
    )
    return with_window(con, claims, history, sources, practitioners)


def _history_schema(sources: Sources) -> dict[str, pl.DataType]:
    if not sources.day:
        return HISTORY_SCHEMA
    return HISTORY_SCHEMA | {
        HISTORY_DAY[0]: pl.String(),
        HISTORY_DAY[1]: pl.UInt32(),
    }


def _drugs_of(
    con: duckdb.DuckDBPyConnection, history: pl.DataFrame, sources: Sources
) -> pl.DataFrame:
    """The drug lines of the history's claims (current versions), as one list per claim
    (:data:`HISTORY_DRUGS`; J6 counts the days of a drug still on hand)."""
    empty = pl.DataFrame(
        schema={"ma_cskcb": pl.String, "ma_lk": pl.String, HISTORY_DRUGS: HISTORY_DRUG}
    )
    if history.height == 0 or not has_table(con, sources.xml2):
        return empty
    con.register("_keys", history.select("ma_cskcb", "ma_lk").unique().to_arrow())
    try:
        lines: pl.DataFrame = con.sql(
            f"""
            SELECT c.ma_cskcb, c.ma_lk, x.ma_thuoc, x.lieu_dung,
                   CAST(coalesce(x.ngay_th_yl, x.ngay_yl) AS DATE) AS line_date
            FROM "{sources.claims}" c JOIN _keys k USING (ma_cskcb, ma_lk)
            JOIN "{sources.xml2}" x USING (file_id, hoso_idx)
            WHERE c.is_current AND NOT c.withdrawn
            """
        ).pl()
    finally:
        con.unregister("_keys")
    if lines.height == 0:
        return empty
    drug = pl.struct(
        pl.col("ma_thuoc").cast(pl.String),
        pl.col("line_date").cast(pl.Date),
        pl.col("lieu_dung").cast(pl.String),
    )
    return lines.group_by("ma_cskcb", "ma_lk").agg(drug.alias(HISTORY_DRUGS))


def _codes_of(
    con: duckdb.DuckDBPyConnection,
    history: pl.DataFrame,
    claims: pl.DataFrame,
    sources: Sources,
) -> pl.DataFrame:
    """The item codes and their line counts (:data:`HISTORY_CODES`) of the history's
    claims of a batch claim's patient, facility and admission day (J1 near-duplicates
    compare them; the other stored claims are not read)."""
    empty = pl.DataFrame(
        schema={"ma_cskcb": pl.String, "ma_lk": pl.String, HISTORY_CODES: HISTORY_CODE}
    )
    day = ["patient", "ma_cskcb", "_day"]
    batch = claims.select(
        patient_id().alias("patient"),
        "ma_cskcb",
        pl.col("ngay_vao").dt.date().alias("_day"),
    ).unique()
    keys = (
        history.with_columns(pl.col("ngay_vao").dt.date().alias("_day"))
        .join(batch, on=day, how="semi")
        .select("ma_cskcb", "ma_lk")
        .unique()
    )
    if keys.height == 0 or not has_table(con, sources.xml3):
        return empty
    xml2 = (
        f'UNION ALL SELECT c.ma_cskcb, c.ma_lk, x.ma_thuoc AS code FROM "{sources.claims}" '
        f'c JOIN _keys USING (ma_cskcb, ma_lk) JOIN "{sources.xml2}" x '
        "USING (file_id, hoso_idx) WHERE c.is_current AND NOT c.withdrawn"
        if has_table(con, sources.xml2)
        else ""
    )
    con.register("_keys", keys.to_arrow())
    try:
        lines: pl.DataFrame = con.sql(
            f"""
            SELECT ma_cskcb, ma_lk, code, count(*) AS n FROM (
              SELECT c.ma_cskcb, c.ma_lk, coalesce(x.ma_vat_tu, x.ma_dich_vu) AS code
              FROM "{sources.claims}" c JOIN _keys USING (ma_cskcb, ma_lk)
              JOIN "{sources.xml3}" x USING (file_id, hoso_idx)
              WHERE c.is_current AND NOT c.withdrawn {xml2}
            ) WHERE code IS NOT NULL GROUP BY ALL
            """
        ).pl()
    finally:
        con.unregister("_keys")
    if lines.height == 0:
        return empty
    code = pl.struct(pl.col("code").cast(pl.String), pl.col("n").cast(pl.Int64))
    return lines.group_by("ma_cskcb", "ma_lk").agg(code.alias(HISTORY_CODES))
