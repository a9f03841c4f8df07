"""Features of the document checks (reference §4.3 group I and C13): what each claim's
XML4–XML14 rows say, as plain claim columns the pack's rules read.

Per claim: how many rows of XML7 (discharge paper), XML8 (record summary), XML9 (birth
certificates), XML10, XML11 (leave certificates), XML13 (referral) and XML14 (appointment)
it carries; XML7's leave days against its dates (days, to − from + 1, start − discharge,
whether only some of the three are given); XML10's SO_NGAY against DEN_NGAY − TU_NGAY;
XML11's leave days and whether it certifies a pregnancy termination; XML8's TOMTAT_KQ
length; XML5 progress notes repeating an earlier note of the claim; XML4 imaging results
(the XML3 service of MA_NHOM 2) without a conclusion; XML14's NGAY_HEN_KL against
discharge and against XML1's NGAY_TAI_KHAM. Every limit is a param of the pack's rules
(``rules/packs/vn-bhyt/checks/documents.yaml``), not a constant here. Joins and group
aggregates only.

The columns are declared in ``claims.schema`` (``DOCUMENT_CLAIM_FEATURES``);
``claims.features`` calls :func:`document_features`.
"""

from __future__ import annotations

import polars as pl

from claims.schema import CLAIM_KEYS, DOCUMENT_CLAIM_FEATURES, Batch

COUNTED = ("XML7", "XML8", "XML9", "XML10", "XML11", "XML13", "XML14")
"""The documents whose rows are counted per claim (``n_xml7`` …)."""
IMAGING = "2"
"""MA_NHOM of imaging, whose XML4 result needs a conclusion (§1.4 XML4, TR)."""


def _first(batch: Batch, table: str, *exprs: pl.Expr) -> pl.DataFrame:
    """Per claim, ``exprs`` over the first row of ``table`` (one-record documents)."""
    frame = batch.doc(table).sort(*CLAIM_KEYS, "line_no")
    return frame.group_by(CLAIM_KEYS, maintain_order=True).agg(e.first() for e in exprs)


def _days(later: pl.Expr, earlier: pl.Expr) -> pl.Expr:
    return (later - earlier).dt.total_days()


def _counts(batch: Batch) -> list[pl.DataFrame]:
    return [
        batch.doc(t)
        .group_by(CLAIM_KEYS)
        .agg(pl.len().cast(pl.Int64).alias(f"n_{t.lower()}"))
        for t in COUNTED
    ]


def _discharge_leave(batch: Batch) -> pl.DataFrame:
    start, end = pl.col("ngoaitru_tungay"), pl.col("ngoaitru_denngay")
    given = [
        pl.col("so_ngay_nghi").is_not_null(),
        start.is_not_null(),
        end.is_not_null(),
    ]
    some = pl.any_horizontal(given) & ~pl.all_horizontal(given)
    return _first(
        batch,
        "XML7",
        pl.col("so_ngay_nghi").alias("xml7_leave_days"),
        (_days(end, start) + 1).alias("xml7_leave_span"),
        start.alias("_leave_start"),
        some.alias("xml7_leave_partial"),
    )


def _certificates(batch: Batch) -> list[pl.DataFrame]:
    rest = _first(
        batch,
        "XML10",
        pl.col("so_ngay").alias("xml10_days"),
        _days(pl.col("den_ngay"), pl.col("tu_ngay")).alias("xml10_span"),
    )
    sick = _first(
        batch,
        "XML11",
        pl.col("so_ngay_nghi").alias("xml11_days"),
        (pl.col("ma_dinh_chi_thai") == "1")
        .fill_null(False)
        .alias("xml11_pregnancy_stop"),
    )
    summary = _first(
        batch,
        "XML8",
        pl.col("tomtat_kq").str.strip_chars().str.len_chars().fill_null(0).cast(pl.Int64)
        .alias("xml8_summary_chars"),
    )  # fmt: skip
    return [rest, sick, summary]


def _appointment(batch: Batch) -> pl.DataFrame:
    return _first(batch, "XML14", pl.col("ngay_hen_kl").alias("_hen"))


def _repeated_notes(batch: Batch) -> pl.DataFrame:
    """XML5 rows whose progress text repeats an earlier row's of the same claim."""
    text = pl.col("dien_bien_ls").str.strip_chars().str.to_lowercase()
    notes = batch.xml5.filter(text.str.len_chars() > 0)
    repeated = ~pl.struct(*CLAIM_KEYS, text.alias("_t")).is_first_distinct()
    return notes.group_by(CLAIM_KEYS).agg(
        repeated.sum().cast(pl.Int64).alias("n_xml5_repeated")
    )


def _imaging_without_conclusion(batch: Batch) -> pl.DataFrame:
    imaging = (
        batch.xml3.filter(
            pl.col("ma_nhom").cast(pl.Int64, strict=False).cast(pl.String) == IMAGING
        )
        .select(*CLAIM_KEYS, "ma_dich_vu")
        .unique()
    )
    bare = pl.col("ket_luan").str.strip_chars().str.len_chars().fill_null(0) == 0
    return (
        batch.xml4.join(imaging, on=[*CLAIM_KEYS, "ma_dich_vu"], how="semi")
        .group_by(CLAIM_KEYS)
        .agg(bare.sum().cast(pl.Int64).alias("n_imaging_without_conclusion"))
    )


def document_features(batch: Batch, claims: pl.DataFrame) -> pl.DataFrame:
    """``claims`` with :data:`claims.schema.DOCUMENT_CLAIM_FEATURES`."""
    parts = [
        *_counts(batch),
        _discharge_leave(batch),
        *_certificates(batch),
        _appointment(batch),
        _repeated_notes(batch),
        _imaging_without_conclusion(batch),
    ]
    out = claims
    for part in parts:
        out = out.join(part, on=CLAIM_KEYS, how="left", maintain_order="left")
    discharge = pl.col("ngay_ra").dt.date()
    booked = (
        pl.col("ngay_tai_kham")
        .str.slice(0, 8)
        .str.strptime(pl.Date, "%Y%m%d", strict=False)
    )
    counts = [c for c, d in DOCUMENT_CLAIM_FEATURES.items() if c.startswith("n_")]
    out = out.with_columns(
        pl.col(counts).fill_null(0),
        pl.col("xml7_leave_partial").fill_null(False),
        pl.col("xml11_pregnancy_stop").fill_null(False),
        _days(pl.col("_leave_start"), discharge).alias("xml7_leave_after_discharge"),
        _days(pl.col("_hen"), discharge).alias("xml14_after_discharge"),
        (pl.col("_hen") == booked).alias("xml14_matches_tai_kham"),
    )
    # the claim's columns as they came, then the declared features in declared order
    return out.select(
        *claims.columns,
        *(pl.col(c).cast(d) for c, d in DOCUMENT_CLAIM_FEATURES.items()),
    )
