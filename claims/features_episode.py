"""Features of the episode checks (issue 13): inputs every claim already carries.

Per claim: whether MA_DKBD is a known facility (or a temporary card's province + ``000``)
and whether it is the treating facility (B4, B5); for a withdrawal (MA_DOITUONG_KCB 8),
whether the history holds the claim it withdraws (J9). Per drug or service line: the
other sources' four parts against T_NGUONKHAC (D2); the dosage string LIEU_DUNG parsed
as "dose × times a day × days" (E10) and the days of the same drug the patient still has
from earlier outpatient visits of the batch (J6); XML4's result date for the line's
service (C10); the bed-days billed by the claim on the line's day across bed codes and
departments (H5); whether its code is in the catalog at any date (C11). All vectorized:
string and regex expressions, joins and windows. Two cross-claim feasibility features of
issue 15 (called by ``claims.features``): near-duplicates (J1, :func:`near_duplicates`)
and a performer's lines at two facilities at overlapping times (J3, a numba sweep,
:func:`practitioner_overlaps`), over the batch and the stored history.

The columns are declared in ``claims.schema`` (``EPISODE_CLAIM_FEATURES``,
``EPISODE_LINE_FEATURES``); ``claims.features`` calls :func:`episode_claims` and
:func:`episode_lines`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numba
import numpy as np
import polars as pl

from catalogs.resolve import Catalog
from claims.dates import admission_date
from claims.money import MONEY, QUANTITY
from claims.schema import (
    BED_GROUPS,
    CLAIM_KEYS,
    EPISODE_LINE_FEATURES,
    HISTORY_CODES,
    HISTORY_DAY,
    HISTORY_DRUGS,
    INPATIENT,
    Batch,
    patient_id,
)
from claims.store.window import stored_performed

WITHDRAWAL = "8"
"""MA_DOITUONG_KCB of a withdrawal of an earlier payment request (§1.12)."""
TEMPORARY_DKBD = r"^[0-9]{2}000$"
"""MA_DKBD of a temporary card: the province and ``000`` (§2.1)."""
_NUMBER = r"([0-9]+(?:[.,][0-9]+)?)"
DOSAGE = (
    rf"^[^0-9*]*{_NUMBER}[^*]*\*[^0-9*]*{_NUMBER}[^*]*(?:\*[^0-9*]*([0-9]+)[^*]*)?$"
)
"""LIEU_DUNG "dose [unit]/lần * times lần/ngày [* days ngày]" (QĐ 130; TR parses a*b*c):
the dose, the times a day and, optional, the days."""
_OTHER_PARTS = (
    "t_nguonkhac_nsnn",
    "t_nguonkhac_vtnn",
    "t_nguonkhac_vttn",
    "t_nguonkhac_cl",
)


def episode_claims(
    batch: Batch, claims: pl.DataFrame, history: pl.DataFrame | None
) -> pl.DataFrame:
    """``claims`` with ``dkbd_known``, ``dkbd_is_facility``, ``withdrawal_of_stored``."""
    first = pl.col("ma_dkbd").str.split(";").list.first()
    known = (
        batch.facilities.select(
            pl.col("ma_cskcb").alias("_dkbd"), "valid_from", "valid_to"
        )
        .join(
            claims.select(
                *CLAIM_KEYS, first.alias("_dkbd"), admission_date().alias("_adm")
            ),
            on="_dkbd",
            how="inner",
        )
        .filter(
            (pl.col("valid_from").is_null() | (pl.col("valid_from") <= pl.col("_adm")))
            & (pl.col("valid_to").is_null() | (pl.col("valid_to") >= pl.col("_adm")))
        )
        .select(*CLAIM_KEYS, pl.lit(True).alias("_known"))
        .unique(CLAIM_KEYS)
    )
    stored = _stored_keys(history)
    out = claims.join(known, on=CLAIM_KEYS, how="left", maintain_order="left").join(
        stored, on=["ma_cskcb", "ma_lk"], how="left", maintain_order="left"
    )
    dkbd = pl.col("ma_dkbd")
    return out.with_columns(
        pl.when(dkbd.is_not_null())
        .then(pl.col("_known").fill_null(False) | first.str.contains(TEMPORARY_DKBD))
        .alias("dkbd_known"),
        pl.concat_str(pl.lit(";"), dkbd, pl.lit(";"))
        .str.contains(
            pl.concat_str(pl.lit(";"), pl.col("ma_cskcb"), pl.lit(";")), literal=True
        )
        .alias("dkbd_is_facility"),
        # without a history (a store-less check) a withdrawal cannot be matched: null
        pl.when(pl.col("ma_doituong_kcb") == WITHDRAWAL)
        .then(pl.col("_stored").fill_null(False) if history is not None else None)
        .cast(pl.Boolean)
        .alias("withdrawal_of_stored"),
    ).drop("_known", "_stored")


def _stored_keys(history: pl.DataFrame | None) -> pl.DataFrame:
    schema = {"ma_cskcb": pl.String, "ma_lk": pl.String, "_stored": pl.Boolean}
    if history is None or history.height == 0:
        return pl.DataFrame(schema=schema)
    return history.select("ma_cskcb", "ma_lk", pl.lit(True).alias("_stored")).unique(
        ["ma_cskcb", "ma_lk"]
    )


def _parts_gap() -> pl.Expr:
    """T_NGUONKHAC minus the sum of its four parts (an empty element counts 0)."""
    parts = pl.sum_horizontal(pl.col(c).fill_null(0) for c in _OTHER_PARTS)
    return (pl.col("t_nguonkhac").fill_null(0) - parts).cast(MONEY)


def _dosage(lines: pl.DataFrame) -> pl.DataFrame:
    """LIEU_DUNG parsed: ``dosage_parsed``, ``dosage_days``, ``dosage_quantity``."""
    parts = pl.col("lieu_dung").str.extract_groups(DOSAGE)

    def number(i: int) -> pl.Expr:
        text = parts.struct.field(str(i)).str.replace(",", ".", literal=True)
        return text.str.to_decimal(scale=3).cast(QUANTITY)

    days = parts.struct.field("3").cast(pl.Int64, strict=False)
    return lines.with_columns(
        pl.when(pl.col("lieu_dung").is_not_null())
        .then(number(1).is_not_null() & number(2).is_not_null())
        .alias("dosage_parsed"),
        days.alias("dosage_days"),
        (number(1) * number(2) * days.cast(QUANTITY))
        .cast(QUANTITY)
        .alias("dosage_quantity"),
    )


def _stored_supply(history: pl.DataFrame | None, claims: pl.DataFrame) -> pl.DataFrame:
    """The drug lines of stored outpatient claims (not the batch's own), parsed."""
    schema = {
        "_patient": pl.String,
        "ma_thuoc": pl.String,
        "line_date": pl.Date,
        "dosage_days": pl.Int64,
        "_stored": pl.String,
        "file_id": pl.String,
        "hoso_idx": pl.UInt32,
    }
    if history is None or HISTORY_DRUGS not in history.columns:
        return pl.DataFrame(schema=schema)
    own = claims.select("ma_cskcb", "ma_lk")
    # a claim of the run's own day in another partition is ordered as a batch claim
    # (by its keys), one of an earlier run before every batch line of its date
    day = [pl.col(c) if c in history.columns else pl.lit(None) for c in HISTORY_DAY]
    stored = (
        history.join(own, on=["ma_cskcb", "ma_lk"], how="anti")
        .filter(~pl.col("ma_loai_kcb").is_in(INPATIENT))
        .select(
            pl.col("patient").alias("_patient"),
            pl.when(day[0].is_null())
            .then(pl.concat_str("ma_cskcb", pl.lit("/"), "ma_lk"))
            .alias("_stored"),
            day[0].cast(pl.String).alias("file_id"),
            day[1].cast(pl.UInt32).alias("hoso_idx"),
            HISTORY_DRUGS,
        )
        .explode(HISTORY_DRUGS)
        .unnest(HISTORY_DRUGS)
        .filter(pl.col("ma_thuoc").is_not_null())
    )
    days = pl.col("lieu_dung").str.extract_groups(DOSAGE).struct.field("3")
    return stored.select(
        "_patient",
        "ma_thuoc",
        "line_date",
        days.cast(pl.Int64, strict=False).alias("dosage_days"),
        "_stored",
        *CLAIM_KEYS,
    ).cast(schema)  # type: ignore[arg-type]


def _on_hand(
    lines: pl.DataFrame, claims: pl.DataFrame, history: pl.DataFrame | None
) -> pl.DataFrame:
    """Days of the same drug (MA_THUOC: the active ingredient's code) the patient still
    has on each outpatient line's date from earlier outpatient claims: the batch's and
    the stored ones the history holds (a store-less check sees only its batch)."""
    context = claims.select(
        *CLAIM_KEYS,
        patient_id().alias("_patient"),
        pl.col("ma_loai_kcb").is_in(INPATIENT).alias("_stay"),
    )
    batch = (
        lines.join(context, on=CLAIM_KEYS, how="left")
        .filter(~pl.col("_stay"))
        .select(
            "_patient",
            "ma_thuoc",
            "line_date",
            "dosage_days",
            pl.lit(None, pl.String).alias("_stored"),
            *CLAIM_KEYS,
        )
    )
    stored = _stored_supply(history, claims)
    claim = ["_stored", *CLAIM_KEYS]
    supplied = (
        pl.concat([batch, stored.select(batch.columns)])
        .filter(pl.col("dosage_days").is_not_null() & pl.col("line_date").is_not_null())
        .group_by("_patient", "ma_thuoc", *claim)
        .agg(
            pl.col("line_date").min().alias("_from"),
            (pl.col("line_date") + pl.duration(days=pl.col("dosage_days")))
            .max()
            .alias("_to"),
        )
        .sort("_patient", "ma_thuoc", "_from", *claim, nulls_last=True)
        .with_columns(
            pl.col("_to")
            .cum_max()
            .shift(1)
            .over("_patient", "ma_thuoc")
            .alias("_before")
        )
        .filter(pl.col("file_id").is_not_null())
        .select(
            *CLAIM_KEYS,
            "ma_thuoc",
            pl.max_horizontal(
                (pl.col("_before") - pl.col("_from")).dt.total_days(), pl.lit(0)
            )
            .cast(pl.Int64)
            .alias("days_on_hand"),
        )
    )
    return lines.join(
        supplied, on=[*CLAIM_KEYS, "ma_thuoc"], how="left", maintain_order="left"
    )


def _result_dates(lines: pl.DataFrame, xml4: pl.DataFrame) -> pl.DataFrame:
    """``xml4_kq_matches``: whether an XML4 row of the line's service has its NGAY_KQ
    (null when XML4 has no row of the service, or the line has no result date)."""
    results = xml4.filter(pl.col("ma_dich_vu").is_not_null()).select(
        *CLAIM_KEYS, "ma_dich_vu", pl.col("ngay_kq").alias("_kq4")
    )
    probe = lines.filter(pl.col("ngay_kq").is_not_null()).select(
        *CLAIM_KEYS, "line_no", "ma_dich_vu", "ngay_kq"
    )
    matched = (
        probe.join(results, on=[*CLAIM_KEYS, "ma_dich_vu"], how="inner")
        .group_by(*CLAIM_KEYS, "line_no")
        .agg((pl.col("_kq4") == pl.col("ngay_kq")).any().alias("xml4_kq_matches"))
    )
    return lines.join(
        matched, on=[*CLAIM_KEYS, "line_no"], how="left", maintain_order="left"
    )


def _beds(lines: pl.DataFrame) -> pl.DataFrame:
    """Bed-days of the claim on the line's day, all bed codes, and their departments."""
    bed = (
        pl.col("ma_nhom").cast(pl.Int64, strict=False).cast(pl.String).is_in(BED_GROUPS)
    )
    day = [*CLAIM_KEYS, "line_date"]
    return lines.with_columns(
        pl.when(bed)
        .then(pl.col("so_luong").filter(bed).sum().over(day))
        .cast(QUANTITY)
        .alias("bed_units_day"),
        pl.when(bed)
        .then(pl.col("ma_khoa").filter(bed).n_unique().over(day))
        .cast(pl.Int64)
        .alias("bed_depts_day"),
    )


CODE_CATALOGS = {"services": "ma_dich_vu", "supplies": "ma_vat_tu"}
"""The price catalogs of XML3 lines and their code columns."""


def catalog_codes(catalogs: Mapping[str, Catalog]) -> pl.DataFrame:
    """Every code of the services and supplies catalogs, per facility (null: national).

    Returns:
        ``ma_cskcb, code`` unique rows, whatever their validity windows.
    """
    parts = [
        catalogs[name]
        .resolve()
        .select(
            pl.col("ma_cskcb").replace("", None).alias("ma_cskcb"),
            pl.col(code).alias("code"),
        )
        for name, code in CODE_CATALOGS.items()
        if name in catalogs
    ]
    if not parts:
        return pl.DataFrame(schema={"ma_cskcb": pl.String, "code": pl.String})
    return pl.concat(parts).unique()


def _code_known(lines: pl.DataFrame, codes: pl.DataFrame | None) -> pl.DataFrame:
    """``catalog_code_known``: the line's supply (else service) code has a row in the
    facility's or the national catalog at some date (null: not checked or no code)."""
    code = pl.coalesce("ma_vat_tu", "ma_dich_vu")
    if codes is None:
        return lines.with_columns(pl.lit(None, pl.Boolean).alias("catalog_code_known"))
    own = codes.filter(pl.col("ma_cskcb").is_not_null()).select(
        pl.col("ma_cskcb").alias("claim_ma_cskcb"), "code", pl.lit(True).alias("_own")
    )
    national = (
        codes.filter(pl.col("ma_cskcb").is_null())
        .select("code", pl.lit(True).alias("_national"))
        .unique()
    )
    return (
        lines.with_columns(code.alias("_code"))
        .join(
            own.unique(),
            left_on=["claim_ma_cskcb", "_code"],
            right_on=["claim_ma_cskcb", "code"],
            how="left",
            maintain_order="left",
        )
        .join(
            national,
            left_on="_code",
            right_on="code",
            how="left",
            maintain_order="left",
        )
        .with_columns(
            pl.when(pl.col("_code").is_not_null())
            .then(
                pl.col("_own").fill_null(False) | pl.col("_national").fill_null(False)
            )
            .alias("catalog_code_known")
        )
        .drop("_code", "_own", "_national")
    )


def episode_lines(
    table: str,
    batch: Batch,
    lines: pl.DataFrame,
    claims: pl.DataFrame,
    history: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The line frame of ``table`` (XML2 or XML3) with the episode features (columns a
    table has no input for are null)."""
    out = lines.with_columns(_parts_gap().alias("nguonkhac_gap"))
    if table == "XML2":
        out = _on_hand(_dosage(out), claims, history)
        return out.with_columns(
            pl.lit(None, pl.Boolean).alias("xml4_kq_matches"),
            pl.lit(None, QUANTITY).alias("bed_units_day"),
            pl.lit(None, pl.Int64).alias("bed_depts_day"),
            pl.lit(None, pl.Boolean).alias("catalog_code_known"),
        ).select(pl.exclude(list(EPISODE_LINE_FEATURES)), *EPISODE_LINE_FEATURES)
    out = _code_known(_beds(_result_dates(out, batch.xml4)), batch.catalog_codes)
    return out.with_columns(
        pl.lit(None, pl.Boolean).alias("dosage_parsed"),
        pl.lit(None, pl.Int64).alias("dosage_days"),
        pl.lit(None, QUANTITY).alias("dosage_quantity"),
        pl.lit(None, pl.Int64).alias("days_on_hand"),
    ).select(pl.exclude(list(EPISODE_LINE_FEATURES)), *EPISODE_LINE_FEATURES)


# ---- cross-claim feasibility (issue 15 item 1: J1 near-duplicates, J3 times)


def near_duplicates(batch: Batch, history: pl.DataFrame | None) -> pl.DataFrame:
    """``duplicate_percent`` per claim (J1): the largest weighted Jaccard share, in whole
    per cent rounded down, of item codes (XML2 MA_THUOC, XML3 MA_VAT_TU else MA_DICH_VU;
    a code's weight its number of lines) between the claim and another claim of the
    patient at the same facility admitted the same day, of the batch or stored (null:
    no such claim)."""
    claim = ["_claim"]
    day = ["_patient", "ma_cskcb", "_day"]
    own = batch.xml1.select(
        *CLAIM_KEYS,
        pl.concat_str("file_id", pl.lit("#"), "hoso_idx").alias("_claim"),
        patient_id().alias("_patient"),
        "ma_cskcb",
        pl.col("ngay_vao").dt.date().alias("_day"),
    )
    items = pl.concat(
        [
            batch.xml2.select(*CLAIM_KEYS, pl.col("ma_thuoc").alias("code")),
            batch.xml3.select(
                *CLAIM_KEYS, pl.coalesce("ma_vat_tu", "ma_dich_vu").alias("code")
            ),
        ]
    )
    codes = (
        items.join(own.select(*CLAIM_KEYS, "_claim"), on=CLAIM_KEYS)
        .filter(pl.col("code").is_not_null())
        .group_by("_claim", "code")
        .agg(pl.len().cast(pl.Int64).alias("n"))
    )
    parts = [own.drop(CLAIM_KEYS)]
    if history is not None and HISTORY_CODES in history.columns:
        past = history.join(
            batch.xml1.select("ma_cskcb", "ma_lk"), on=["ma_cskcb", "ma_lk"], how="anti"
        ).filter(pl.col(HISTORY_CODES).is_not_null())
        key = pl.concat_str(pl.lit("stored:"), "ma_cskcb", pl.lit("/"), "ma_lk")
        parts.append(
            past.select(
                key.alias("_claim"),
                pl.col("patient").alias("_patient"),
                "ma_cskcb",
                pl.col("ngay_vao").dt.date().alias("_day"),
            )
        )
        stored = past.select(key.alias("_claim"), HISTORY_CODES).explode(HISTORY_CODES)
        codes = pl.concat([codes, stored.unnest(HISTORY_CODES)], how="vertical_relaxed")
    every = pl.concat(parts).drop_nulls(day)
    pairs = (
        every.join(every, on=day, suffix="_o")
        .filter(pl.col("_claim") != pl.col("_claim_o"))
        .join(own.select("_claim"), on=claim, how="semi")
        .select("_claim", "_claim_o")
    )
    totals = codes.group_by(claim).agg(pl.col("n").sum().alias("_total"))
    shared = (
        pairs.join(codes, on=claim)
        .join(codes, left_on=["_claim_o", "code"], right_on=["_claim", "code"])
        .group_by("_claim", "_claim_o")
        .agg(pl.min_horizontal("n", "n_right").sum().alias("_shared"))
    )
    union = pl.col("_total").fill_null(0) + pl.col("_total_o").fill_null(0)
    share = (
        pairs.join(shared, on=["_claim", "_claim_o"], how="left")
        .join(totals, on=claim, how="left")
        .join(
            totals.rename({"_claim": "_claim_o", "_total": "_total_o"}),
            on="_claim_o",
            how="left",
        )
        .with_columns(pl.col("_shared").fill_null(0))
        .select(
            "_claim",
            pl.when(union > 0)
            .then(pl.col("_shared") * 100 // (union - pl.col("_shared")))
            .cast(pl.Int64)
            .alias("duplicate_percent"),
        )
        .group_by(claim)
        .agg(pl.col("duplicate_percent").max())
    )
    return own.select(*CLAIM_KEYS, "_claim").join(share, on=claim).drop("_claim")


@numba.njit(cache=True)
def _overlap_sweep(
    group: np.ndarray, place: np.ndarray, start: np.ndarray, end: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled
    """Per line, over lines sorted by (practitioner, start): whether a line of the same
    practitioner at another place overlaps it (closed intervals). Each pass keeps the
    two extreme values of distinct places seen so far (a forward pass the latest ends
    before, a backward pass the earliest starts after)."""
    n = len(group)
    hit = np.zeros(n, np.bool_)
    none, never = np.iinfo(np.int64).min, np.iinfo(np.int64).max
    top, top_place, second = none, -1, none
    for i in range(n):
        if i == 0 or group[i] != group[i - 1]:
            top, top_place, second = none, -1, none
        other = top if place[i] != top_place else second
        if other != none and other >= start[i]:
            hit[i] = True
        if place[i] == top_place:
            top = max(top, end[i])
        elif end[i] > top:
            top, top_place, second = end[i], place[i], top
        else:
            second = max(second, end[i])
    top, top_place, second = never, -1, never
    for i in range(n - 1, -1, -1):
        if i == n - 1 or group[i] != group[i + 1]:
            top, top_place, second = never, -1, never
        other = top if place[i] != top_place else second
        if other != never and other <= end[i]:
            hit[i] = True
        if place[i] == top_place:
            top = min(top, start[i])
        elif start[i] < top:
            top, top_place, second = start[i], place[i], top
        else:
            second = min(second, start[i])
    return hit


def practitioner_overlaps(batch: Batch, history: pl.DataFrame | None) -> pl.DataFrame:
    """``practitioner_overlapping_lines`` per claim (J3): its XML3 lines one of whose
    performers (NGUOI_THUC_HIEN) has a line at another facility, of the batch or of
    the history's window, whose time from COALESCE(NGAY_TH_YL, NGAY_YL) to NGAY_KQ
    overlaps this line's (lines without both times are not judged)."""
    performed = (
        batch.xml3.join(
            batch.xml1.select(*CLAIM_KEYS, "ma_cskcb"), on=CLAIM_KEYS, how="left"
        )
        .select(
            *CLAIM_KEYS,
            "line_no",
            pl.col("nguoi_thuc_hien").str.split(";"),
            "ma_cskcb",
            pl.coalesce("ngay_th_yl", "ngay_yl").alias("start"),
            pl.col("ngay_kq").alias("end"),
        )
        .explode("nguoi_thuc_hien")
        .with_columns(pl.col("nguoi_thuc_hien").str.strip_chars())
    )
    stored = stored_performed(history, batch.xml1).select(
        pl.lit(None, pl.String).alias("file_id"),
        pl.lit(None, pl.UInt32).alias("hoso_idx"),
        pl.lit(None, performed.schema["line_no"]).alias("line_no"),
        "nguoi_thuc_hien",
        "ma_cskcb",
        "start",
        "end",
    )
    every = (
        pl.concat([performed, stored.select(performed.columns)])
        .filter(
            (pl.col("nguoi_thuc_hien") != "")
            & pl.col("ma_cskcb").is_not_null()
            & (pl.col("end") >= pl.col("start"))
        )
        .with_columns(
            pl.col("nguoi_thuc_hien").rank("dense").alias("_g"),
            pl.col("ma_cskcb").rank("dense").cast(pl.Int64).alias("_p"),
            pl.col("start").dt.epoch("s").alias("_s"),
            pl.col("end").dt.epoch("s").alias("_e"),
        )
        .sort("_g", "_s", "_e", "_p")
    )
    hit = _overlap_sweep(
        every["_g"].to_numpy(),
        every["_p"].to_numpy(),
        every["_s"].to_numpy(),
        every["_e"].to_numpy(),
    )
    return (
        every.with_columns(pl.Series("_hit", hit))
        .filter(pl.col("file_id").is_not_null() & pl.col("_hit"))
        .group_by(CLAIM_KEYS)
        .agg(pl.col("line_no").n_unique().cast(pl.Int64))
        .rename({"line_no": "practitioner_overlapping_lines"})
    )
