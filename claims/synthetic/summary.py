"""Raw text of the XML1 claim summary of synthetic claims (§1.6).

One row per claim from the plan (person, visit, route, diagnoses) and the claim's totals
in cents; free-text fields and the occasional optional element are drawn here.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from claims.synthetic import vocab as voc
from claims.synthetic.money import money_text
from claims.synthetic.tables import chance, date_text, datetime_text, pick, to_spec
from claims.xml130 import XML1

DISTRICTS_DROPPED_FROM = "202507010000"
"""District codes of the address end with the 2025 local-government reform (§1.6)."""
PERSON = (
    "ho_ten", "so_cccd", "gioi_tinh", "nhom_mau", "ma_dantoc", "ma_nghe_nghiep", "dia_chi",
    "matinh_cu_tru", "maxa_cu_tru", "dien_thoai", "ma_the_bhyt", "ma_dkbd", "gt_the_tu",
    "gt_the_den", "ma_khuvuc", "can_nang", "ma_cskcb", "ma_lk", "ma_bn", "ma_noi_di",
    "ma_noi_den", "giay_chuyen_tuyen",
)  # fmt: skip
TOTALS = (
    "t_thuoc", "t_vtyt", "t_tongchi_bv", "t_tongchi_bh", "t_bntt", "t_bncct", "t_bhtt",
    "t_bhtt_gdv",
)  # fmt: skip


def _drawn(rng: np.random.Generator, n: int) -> list[pl.Series]:
    """Free text and optional elements drawn per claim (``_``-prefixed, dropped later)."""
    none = pl.Series([None] * n, dtype=pl.String)
    return [
        pick(rng, voc.VISIT_REASONS, n).alias("_ly_do"),
        pick(rng, voc.ADMISSION_REASONS, n).alias("_vnt"),
        pick(rng, voc.ADVICE, n).zip_with(chance(rng, n, 0.4), none).alias("_ghi_chu"),
        pick(rng, voc.TREATMENT_METHODS, n).alias("_pp"),
        pl.Series("_tai_kham", rng.choice([7, 14, 28, 30], n)),
        chance(rng, n, 0.25).alias("_hen"),
        chance(rng, n, 0.04).alias("_5nam"),
        pl.Series("_5nam_day", rng.integers(100, 2000, n)),
    ]


def _treatment_days() -> pl.Expr:
    """SO_NGAY_DTRI per §1.6 #39: 0 for 01/07/09, drug days for 05, 1 session for 08."""
    kind = pl.col("loai")
    calendar_days = pl.col("ra") // 1440 - pl.col("vao") // 1440 + 1
    return (
        pl.when(kind.is_in(["01", "07", "09"])).then(0)
        .when(kind == "05").then(pl.col("drug_days"))
        .when(kind == "08").then(1)
        .otherwise(calendar_days)
    )  # fmt: skip


def _visit() -> dict[str, pl.Expr]:
    inpatient = pl.col("inpatient")
    vao = datetime_text(pl.col("vao"))
    surgical = pl.when(pl.col("surgical")).then(pl.lit("Ngoại khoa"))
    return {
        "stt": pl.col("seq"),
        "ngay_sinh": date_text(pl.col("birth")) + "0000",
        "ma_quoctich": pl.lit("000"),
        "mahuyen_cu_tru": pl.when(vao < DISTRICTS_DROPPED_FROM).then("mahuyen_cu_tru"),
        "ly_do_vv": pl.col("_ly_do"),
        "ly_do_vnt": pl.when(inpatient).then(pl.col("_vnt")),
        "chan_doan_vao": pl.col("dx_text"),
        "chan_doan_rv": pl.col("dx_text"),
        "ma_benh_chinh": pl.col("dx"),
        "ma_benh_kt": pl.col("kt"),
        "ma_pttt_qt": pl.col("icd9"),
        "ma_doituong_kcb": pl.col("doituong"),
        "ngay_vao": vao,
        "ngay_vao_noi_tru": datetime_text(pl.col("vnt")),
        "ngay_ra": datetime_text(pl.col("ra")),
        "so_ngay_dtri": _treatment_days(),
        "pp_dieu_tri": surgical.otherwise(pl.col("_pp")),
        "ket_qua_dtri": pl.col("ket_qua"),
        "ma_loai_rv": pl.col("loai_rv"),
        "ghi_chu": pl.col("_ghi_chu"),
        "ngay_ttoan": datetime_text(pl.col("ttoan")),
        "ma_loai_kcb": pl.col("loai"),
        "ma_khoa": pl.col("khoa"),
    }


def _settlement() -> dict[str, pl.Expr]:
    day = date_text(pl.col("day"))
    since = date_text(pl.col("vao") // 1440 - pl.col("_5nam_day"))
    appointment = date_text(pl.col("ra") // 1440 + pl.col("_tai_kham"))
    signer = (pl.col("fac_num") * 7919 % 10**8).cast(pl.String).str.zfill(8)
    return {
        **{c: money_text(pl.col(c)) for c in TOTALS},
        "t_nguonkhac": pl.lit("0.00"),
        "nam_qt": day.str.slice(0, 4),
        "thang_qt": day.str.slice(4, 2).cast(pl.Int64),
        "nam_nam_lien_tuc": pl.when(pl.col("_5nam")).then(since),
        "ngay_tai_kham": pl.when(~pl.col("inpatient") & pl.col("_hen")).then(
            appointment
        ),
        "ma_hsba": pl.concat_str(pl.lit("BA"), pl.col("ma_lk").str.slice(5)),
        "ma_ttdv": pl.col("ma_tinh") + signer,
    }


def xml1(
    claims: pl.DataFrame, totals: pl.DataFrame, rng: np.random.Generator
) -> pl.DataFrame:
    """XML1 rows, one per claim in ``ci`` order.

    Args:
        claims: the chunk's planned claims (person, visit, route, diagnoses).
        totals: the claims' totals in cents (:func:`claims_totals`), row ``ci``.
        rng: the chunk's random generator.
    """
    frame = pl.concat([claims, totals.drop("ci")], how="horizontal").with_columns(
        _drawn(rng, claims.height)
    )
    values = {c: pl.col(c) for c in PERSON} | _visit() | _settlement()
    return to_spec(frame, XML1, values, line=False)
