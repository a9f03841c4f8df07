"""Derived features: the plain columns rules read besides the claim's own fields.

Per claim: line sums next to the XML1 totals, line counts per group, stay length, age,
the facility's tier and level, and cross-claim windows over the patient's other claims
(visits in the 30 days before admission, overlapping inpatient stays, claims admitted the
same day, near-duplicates of the same facility and day, readmissions for the same ICD-10
category) and the practitioners' load (exam lines per practitioner per day, facilities
per practitioner per day, lines performed at two facilities at overlapping times). Per
line: the claim's context (``claim_*``), the catalog's price and ratio, units of the
same code on the same day.

Cross-claim windows see ``history`` (stored claims, when the pipeline runs on the store)
plus the batch; a store-less self-check passes no history and sees only its files. The
per-patient sweeps are numba loops over patient-sorted arrays (one pass, no join that
grows with the number of claims per patient).
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
import polars as pl

from claims.dates import admission_date, line_date
from claims.features_documents import document_features
from claims.features_episode import (
    episode_claims,
    episode_lines,
    near_duplicates,
    practitioner_overlaps,
)
from claims.features_pairs import pair_features
from claims.features_registry import registry_features
from claims.schema import (
    BED_GROUPS,
    CLAIM_CONTEXT,
    CLAIM_KEYS,
    EXAM_GROUPS,
    HISTORY_SCHEMA,
    INPATIENT,
    SUPPLY_GROUPS,
    SURGERY_GROUPS,
    VISIT_WINDOW_DAYS,
    Batch,
    patient_id,
)
from claims.store.window import stored_exams


def _ma_nhom() -> pl.Expr:
    """MA_NHOM as the text of the whole number it reads as (``013`` and ``+13`` are
    ``13``; null where it reads as none), compared with the service groups of
    ``claims.schema``."""
    return pl.col("ma_nhom").cast(pl.Int64, strict=False).cast(pl.String)


def claim_features(batch: Batch, history: pl.DataFrame | None = None) -> pl.DataFrame:
    """The claim frame: XML1 with aggregates, facility columns and cross-claim windows."""
    sums = _line_sums(batch)
    facility = facility_of(batch)
    windows = _patient_windows(batch.xml1, history)
    duplicates = near_duplicates(batch, history)
    load = _practitioner_load(batch, history)
    overlaps = practitioner_overlaps(batch, history)
    stay = pl.col("ngay_ra").dt.date() - pl.col("ngay_vao").dt.date()
    age = pl.col("ngay_vao").dt.year() - pl.col("ngay_sinh").dt.year()
    quarantined = (
        batch.quarantined.select(
            *CLAIM_KEYS, pl.col("lines_quarantined").cast(pl.Int64)
        )
        if batch.quarantined is not None
        else pl.DataFrame(
            schema={
                "file_id": pl.String,
                "hoso_idx": pl.UInt32,
                "lines_quarantined": pl.Int64,
            }
        )
    )
    return (
        batch.xml1.join(sums, on=CLAIM_KEYS, how="left", maintain_order="left")
        .join(
            quarantined.rename({"lines_quarantined": "n_lines_quarantined"}),
            on=CLAIM_KEYS,
            how="left",
            maintain_order="left",
        )
        .join(facility, on=CLAIM_KEYS, how="left", maintain_order="left")
        .join(windows, on=CLAIM_KEYS, how="left", maintain_order="left")
        .join(duplicates, on=CLAIM_KEYS, how="left", maintain_order="left")
        .join(load, on=CLAIM_KEYS, how="left", maintain_order="left")
        .join(overlaps, on=CLAIM_KEYS, how="left", maintain_order="left")
        .with_columns(
            stay.dt.total_days().alias("stay_days"),
            (pl.col("ngay_ra") - pl.col("ngay_vao"))
            .dt.total_minutes()
            .alias("stay_minutes"),
            age.alias("age_years"),
            pl.col("ma_loai_kcb").is_in(INPATIENT).alias("is_inpatient"),
            _icd_known(batch.icd_codes).alias("icd_principal_known"),
            pl.col("ma_benh_kt")
            .str.split(";")
            .list.len()
            .fill_null(0)
            .cast(pl.Int64)
            .alias("n_secondary_icd"),
        )
        .with_columns(
            pl.col(c).fill_null(0)
            for c in (
                "n_xml2",
                "n_xml3",
                "n_xml4",
                "n_xml5",
                "n_exam",
                "n_bed",
                "n_surgery",
                "n_not_in_catalog",
                "n_lines_quarantined",
                "practitioner_overlapping_lines",
            )
        )
    )


def _icd_known(codes: pl.Series | None) -> pl.Expr:
    if codes is None:
        return pl.lit(True)
    return pl.col("ma_benh_chinh").is_in(codes.implode())


def _line_sums(batch: Batch) -> pl.DataFrame:
    money = (
        "thanh_tien_bv",
        "thanh_tien_bh",
        "t_bntt",
        "t_bncct",
        "t_bhtt",
        "t_nguonkhac",
    )
    xml2 = batch.xml2.select(
        *CLAIM_KEYS,
        *money,
        "ma_pttt",
        pl.lit(None, pl.String).alias("_nhom"),
        pl.lit(2).alias("_t"),
    )
    xml3 = batch.xml3.select(
        *CLAIM_KEYS, *money, "ma_pttt", _ma_nhom().alias("_nhom"), pl.lit(3).alias("_t")
    )
    lines = pl.concat([xml2, xml3])
    nhom = pl.col("_nhom")
    sums = lines.group_by(CLAIM_KEYS).agg(
        *(pl.col(m).sum().alias(f"sum_{m}") for m in money),
        pl.col("thanh_tien_bv").filter(pl.col("_t") == 2).sum().alias("sum_drug_bv"),
        pl.col("thanh_tien_bv")
        .filter(nhom.is_in(SUPPLY_GROUPS))
        .sum()
        .alias("sum_supply_bv"),
        pl.col("t_bhtt").filter(pl.col("ma_pttt") == "1").sum().alias("sum_bhtt_gdv"),
        (pl.col("_t") == 2).sum().alias("n_xml2"),
        (pl.col("_t") == 3).sum().alias("n_xml3"),
        nhom.is_in(EXAM_GROUPS).sum().alias("n_exam"),
        nhom.is_in(BED_GROUPS).sum().alias("n_bed"),
        nhom.is_in(SURGERY_GROUPS).sum().alias("n_surgery"),
    )
    counts = [
        frame.group_by(CLAIM_KEYS).len(f"n_{name}")
        for name, frame in (("xml4", batch.xml4), ("xml5", batch.xml5))
    ]
    missing = (
        batch.prices.filter(pl.col("reason_code").is_not_null())
        .group_by(CLAIM_KEYS)
        .len("n_not_in_catalog")
    )
    out = sums
    for frame in (*counts, missing):
        out = out.join(frame, on=CLAIM_KEYS, how="full", coalesce=True)
    return out.with_columns(
        pl.col(c).cast(pl.Int64) for c in out.columns if c.startswith("n_")
    )


def facility_of(batch: Batch) -> pl.DataFrame:
    """The facility's tier, 2025 level and beds at each claim's admission."""
    from catalogs.resolve import as_of

    found = as_of(
        batch.xml1.select(*CLAIM_KEYS, "ma_cskcb", admission_date().alias("_adm")),
        batch.facilities,
        code=("ma_cskcb", "ma_cskcb"),
        on="_adm",
        columns=["tier", "level_2025", "beds"],
        facility=None,
    )
    return found.select(
        *CLAIM_KEYS,
        pl.col("tier").alias("facility_tier"),
        pl.col("level_2025").alias("facility_level"),
        pl.col("beds").alias("facility_beds"),
    )


@numba.njit(cache=True)
def _sweep(
    group: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    stay: np.ndarray,
    place: np.ndarray,
    window: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
    """Per claim, over claims sorted by (patient, start): visits in the window before,
    overlapping stays, same-day admissions among the patient's other claims, and
    visits (not stays) at another place admitted during a stay (counted on both)."""
    n = len(group)
    before = np.zeros(n, np.int64)
    overlap = np.zeros(n, np.int64)
    same_day = np.zeros(n, np.int64)
    during = np.zeros(n, np.int64)
    first = 0
    for i in range(n):
        if i > 0 and group[i] != group[i - 1]:
            first = i
        lo = first
        # claims of the patient admitted in [start - window, start) (days; start is minutes)
        j = i - 1
        while j >= first and start[j] >= start[i] - window:
            if start[j] // 1440 < start[i] // 1440:
                before[i] += 1
            j -= 1
        k = i + 1
        while k < n and group[k] == group[i]:
            k += 1
        for m in range(lo, k):
            if m == i:
                continue
            if start[m] // 1440 == start[i] // 1440:
                same_day[i] += 1
            if stay[i] and stay[m] and start[m] < end[i] and start[i] < end[m]:
                overlap[i] += 1
            if place[m] != place[i] and stay[i] != stay[m]:
                s, e, v = (
                    (start[i], end[i], start[m])
                    if stay[i]
                    else (start[m], end[m], start[i])
                )
                if s <= v < e:
                    during[i] += 1
    return before, overlap, same_day, during


def _same_condition(every: pl.DataFrame, window: int) -> np.ndarray:
    """Per row of ``every`` (sorted by patient, start): the patient's visits in the
    window before with the same principal diagnosis category (ICD-10, 3 characters);
    0 without a principal diagnosis."""
    condition = every.select(
        pl.struct("_g", pl.col("ma_benh_chinh").str.slice(0, 3)).rank("dense")
    ).to_series()
    order = np.lexsort((every["_s"].to_numpy(), condition.to_numpy()))
    zeros = np.zeros(every.height, np.bool_)
    before, _, _, _ = _sweep(
        condition.to_numpy()[order],
        every["_s"].to_numpy()[order],
        every["_e"].to_numpy()[order],
        zeros,
        np.zeros(every.height, np.int64),
        window,
    )
    out = np.zeros(every.height, np.int64)
    out[order] = before
    known = every["ma_benh_chinh"].is_not_null().to_numpy()
    return np.where(known, out, 0)


def _patient_windows(xml1: pl.DataFrame, history: pl.DataFrame | None) -> pl.DataFrame:
    """Visits in the 30 days before, overlapping stays, same-day claims per claim."""
    current = xml1.select(
        *CLAIM_KEYS,
        patient_id().alias("patient"),
        "ma_cskcb",
        "ma_lk",
        "ngay_vao",
        "ngay_ra",
        "ma_loai_kcb",
        "ma_benh_chinh",
    )
    parts = [current]
    if history is not None and history.height:
        # stored versions of the batch's own claims are the same claims: left out
        past = history.join(
            current.select("ma_cskcb", "ma_lk"), on=["ma_cskcb", "ma_lk"], how="anti"
        )
        parts.append(
            past.select(
                pl.lit(None, pl.String).alias("file_id"),
                pl.lit(None, pl.UInt32).alias("hoso_idx"),
                *HISTORY_SCHEMA,
            )
        )
    every = (
        pl.concat(parts, how="vertical_relaxed")
        .filter(pl.col("patient").is_not_null() & pl.col("ngay_vao").is_not_null())
        .with_columns(
            pl.col("patient").rank("dense").alias("_g"),
            (pl.col("ngay_vao").dt.epoch("s") // 60).alias("_s"),
            (pl.col("ngay_ra").fill_null(pl.col("ngay_vao")).dt.epoch("s") // 60).alias(
                "_e"
            ),
        )
        .sort("_g", "_s")
    )
    stay = every["ma_loai_kcb"].is_in(INPATIENT).fill_null(False).to_numpy()
    place = every["ma_cskcb"].rank("dense").fill_null(0).cast(pl.Int64).to_numpy()
    window = VISIT_WINDOW_DAYS * 1440
    start, end = every["_s"].to_numpy(), every["_e"].to_numpy()
    before, overlap, same_day, during = _sweep(
        every["_g"].to_numpy(), start, end, stay, place, window
    )
    swept = every.select(CLAIM_KEYS).with_columns(
        pl.Series("visits_30d", before),
        pl.Series("visits_30d_same_condition", _same_condition(every, window)),
        pl.Series("overlapping_stays", overlap),
        pl.Series("same_day_claims", same_day),
        pl.Series("visits_during_stay", during),
    )
    return swept.filter(pl.col("file_id").is_not_null()).join(
        _readmissions(every), on=CLAIM_KEYS, how="left", maintain_order="left"
    )


def _readmissions(every: pl.DataFrame) -> pl.DataFrame:
    """``readmission_days`` per stay (J7 "tách đợt"): days from the latest discharge of
    the patient's earlier stays at the same facility with the same ICD-10 category
    (MA_BENH_CHINH's first 3 characters) to this admission; 0 when that stay was still
    open; null without such a stay in the window. Ties in time order by MA_LK, so a
    partitioned run orders the day's claims as one batch does."""
    group = ["patient", "ma_cskcb", "_icd3"]
    stays = (
        every.filter(pl.col("ma_loai_kcb").is_in(INPATIENT))
        .with_columns(
            pl.col("ma_benh_chinh")
            .str.strip_chars()
            .str.to_uppercase()
            .str.slice(0, 3)
            .alias("_icd3")
        )
        .filter(pl.col("_icd3").str.len_chars() == 3)
        .sort(*group, "_s", "_e", "ma_lk")
        .with_columns(pl.col("_e").cum_max().shift(1).over(group).alias("_prev"))
    )
    gap = pl.col("_s") // 1440 - pl.col("_prev") // 1440
    return stays.filter(pl.col("file_id").is_not_null()).select(
        *CLAIM_KEYS,
        pl.when(pl.col("_prev") >= pl.col("_s"))
        .then(0)
        .otherwise(gap)
        .cast(pl.Int64)
        .alias("readmission_days"),
    )


def _practitioner_load(batch: Batch, history: pl.DataFrame | None) -> pl.DataFrame:
    """Per claim, the busiest day of its examining practitioners, and their facilities
    (the exams of the history's stored window count with the batch's)."""
    exams = (
        batch.xml3.filter(_ma_nhom().is_in(EXAM_GROUPS))
        .join(batch.xml1.select(*CLAIM_KEYS, "ma_cskcb"), on=CLAIM_KEYS, how="left")
        .with_columns(line_date().alias("_day"))
    )
    stored = stored_exams(history, batch.xml1, _ma_nhom().is_in(EXAM_GROUPS))
    counted = ["ma_bac_si", "_day", "ma_cskcb", "_n"]
    every = pl.concat(
        [exams.with_columns(_n=pl.lit(1, pl.Int64)).select(counted), stored[counted]]
    )
    per_day = every.group_by("ma_bac_si", "_day").agg(
        pl.col("_n").sum().alias("_exams"),
        pl.col("ma_cskcb").n_unique().alias("_places"),
    )
    return (
        exams.join(per_day, on=["ma_bac_si", "_day"], how="left")
        .group_by(CLAIM_KEYS)
        .agg(
            pl.col("_exams").max().alias("max_exams_per_practitioner_day"),
            pl.col("_places").max().alias("practitioner_facilities_same_day"),
        )
        .with_columns(pl.all().exclude(CLAIM_KEYS).cast(pl.Int64))
    )


def line_features(
    table: str,
    batch: Batch,
    claims: pl.DataFrame,
    history: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The line frame of XML2 or XML3: the line, its claim's context and its catalog row."""
    lines = batch.xml2 if table == "XML2" else batch.xml3
    context = claims.select(
        *CLAIM_KEYS,
        *(pl.col(c).alias(f"claim_{c}") for c in CLAIM_CONTEXT),
        pl.col("age_years").alias("claim_age_years"),
        pl.col("is_inpatient").alias("claim_is_inpatient"),
        "facility_tier",
        "facility_level",
    )
    prices = batch.prices.filter(pl.col("table") == table).select(
        *CLAIM_KEYS,
        "line_no",
        "catalog_price",
        "catalog_ratio",
        "catalog_ceiling",
        "catalog_max_per_day",
        pl.col("reason_code").is_null().alias("in_catalog"),
    )
    code = "ma_thuoc" if table == "XML2" else "ma_dich_vu"
    out = (
        lines.join(context, on=CLAIM_KEYS, how="left", maintain_order="left")
        .join(prices, on=[*CLAIM_KEYS, "line_no"], how="left", maintain_order="left")
        .with_columns(line_date().alias("line_date"))
    )
    same_day = pl.col("so_luong").sum().over(*CLAIM_KEYS, code, "line_date")
    out = out.with_columns(same_day.alias("units_same_day"))
    registry = registry_features(batch, out, claims, history)
    return pair_features(table, batch, registry, claims)


class Features(NamedTuple):
    """The frames rules read: the claim frame and the XML2/XML3 line frames."""

    claims: pl.DataFrame
    lines: dict[str, pl.DataFrame]
    """``XML2`` and ``XML3`` line frames (:func:`line_features`)."""


def features(batch: Batch, history: pl.DataFrame | None = None) -> Features:
    """The features stage: the claim frame, then each line frame against it."""
    claims = episode_claims(batch, claim_features(batch, history), history)
    claims = document_features(batch, claims)
    return Features(
        claims,
        {
            t: episode_lines(
                t, batch, line_features(t, batch, claims, history), claims, history
            )
            for t in ("XML2", "XML3")
        },
    )
