"""The documents the law requires beside a claim's money, written from its XML1 row.

- XML7, a discharge paper, for every stay of MA_LOAI_KCB 03/04/09 unless the patient
  absconded (MA_LOAI_RV 3) (§1.4, check I1); one in five carries post-discharge leave
  (SO_NGAY_NGHI days from the day after discharge, both ends counted: check I4);
- XML9, one birth certificate per weight in CAN_NANG_CON (check I3);
- XML13, a referral paper, when the patient came on a referral (MA_NOI_DI) or was
  transferred out (MA_LOAI_RV 2/5) (checks I2, C12);
- XML14, an appointment paper, when XML1 gives NGAY_TAI_KHAM: the first date of the
  list, on or after discharge (check C13).

Values are copied from the claim's XML1 text, so a clean claim's documents agree with
it. Which papers carry leave is decided by a hash of MA_LK, not by the run's random
generator: adding documents does not shift any other draw.
"""

from __future__ import annotations

import polars as pl

from claims.synthetic.tables import to_spec
from claims.xml130 import PARSED_TABLES

DISCHARGE_TYPES = ("03", "04", "09")
"""MA_LOAI_KCB whose claims carry a discharge paper (§1.4 XML7)."""
ABSCONDED = "3"
TRANSFERRED = ("2", "5")
WRITTEN = ("XML7", "XML9", "XML13", "XML14")
"""The document tables the generator writes."""
LEAVE_SHARE = 5
"""One discharge paper in this many carries post-discharge leave."""

_COMMON = ("ma_lk", "ma_cskcb", "ngay_vao", "ngay_ra", "chan_doan_rv", "ma_ttdv")


def _day(column: str) -> pl.Expr:
    """The ``yyyyMMdd`` day of a ``yyyyMMddHHmm`` XML1 time."""
    return pl.col(column).str.slice(0, 8)


def _hash() -> pl.Expr:
    return pl.col("ma_lk").hash(13)


def _discharge(xml1: pl.DataFrame) -> pl.DataFrame:
    stays = xml1.filter(
        pl.col("ma_loai_kcb").is_in(DISCHARGE_TYPES)
        & (pl.col("ma_loai_rv") != ABSCONDED)
    )
    discharge = _day("ngay_ra").str.strptime(pl.Date, "%Y%m%d", strict=False)
    leave = (_hash() % LEAVE_SHARE == 0) & discharge.is_not_null()
    days = (_hash() // LEAVE_SHARE % 7 + 1).cast(pl.Int64)
    start = discharge + pl.duration(days=1)
    end = start + pl.duration(days=days - 1)
    values = {c: pl.col(c) for c in _COMMON if c != "ma_cskcb"} | {
        "ma_cskcb": pl.col("ma_cskcb"),
        "so_luu_tru": pl.col("ma_hsba"),
        "ma_yte": pl.col("ma_bn"),
        "ma_khoa_rv": pl.col("ma_khoa"),
        "pp_dieutri": pl.col("pp_dieu_tri"),
        "ngay_ct": _day("ngay_ra"),
        "so_ngay_nghi": pl.when(leave).then(days),
        "ngoaitru_tungay": pl.when(leave).then(start.dt.strftime("%Y%m%d")),
        "ngoaitru_denngay": pl.when(leave).then(end.dt.strftime("%Y%m%d")),
    }
    return to_spec(stays, PARSED_TABLES["XML7"], values, line=True).with_columns(
        stays["ci"]
    )


def _births(xml1: pl.DataFrame) -> pl.DataFrame:
    born = (
        xml1.filter(pl.col("can_nang_con").is_not_null())
        .with_columns(pl.col("can_nang_con").str.split(";").alias("_weight"))
        .explode("_weight")
    )
    values = {
        "ma_lk": pl.col("ma_lk"),
        "ma_cskcb": pl.col("ma_cskcb"),
        "ho_ten_nnd": pl.col("ho_ten"),
        "ma_the_nnd": pl.col("ma_the_bhyt").str.slice(0, 15),
        "can_nang_con": pl.col("_weight").str.strip_chars(),
        "ngay_sinh_con": pl.col("ngay_vao"),
        "ngay_ct": _day("ngay_ra"),
        "ma_ttdv": pl.col("ma_ttdv"),
    }
    return to_spec(born, PARSED_TABLES["XML9"], values, line=True).with_columns(
        born["ci"]
    )


def _person(columns: tuple[str, ...]) -> dict[str, pl.Expr]:
    return {c: pl.col(c) for c in columns}


def _with_facility(
    frame: pl.DataFrame, spec: str, values: dict[str, pl.Expr]
) -> pl.DataFrame:
    """A table whose spec has MA_CSKCB itself: that column first, once."""
    out = to_spec(frame, PARSED_TABLES[spec], values, line=False)
    return out.select("ma_cskcb", pl.exclude("ma_cskcb")).with_columns(frame["ci"])


def _referral(xml1: pl.DataFrame) -> pl.DataFrame:
    moved = xml1.filter(
        pl.col("ma_noi_di").is_not_null() | pl.col("ma_loai_rv").is_in(TRANSFERRED)
    )
    values = _person(
        (*_COMMON, "ho_ten", "ngay_sinh", "gioi_tinh", "ma_the_bhyt", "gt_the_den")
    ) | {
        "so_hoso": pl.col("ma_hsba"),
        "giay_chuyen_tuyen": pl.col("giay_chuyen_tuyen"),
        "ma_noi_di": pl.col("ma_noi_di"),
        "ma_noi_den": pl.col("ma_noi_den"),
        "ngay_vao_noi_tru": pl.col("ngay_vao_noi_tru"),
        "ma_benh_chinh": pl.col("ma_benh_chinh"),
        "ma_benh_kt": pl.col("ma_benh_kt"),
        "ma_loai_rv": pl.col("ma_loai_rv"),
        "ma_lydo_ct": pl.lit("1"),
    }
    return _with_facility(moved, "XML13", values)


def _appointment(xml1: pl.DataFrame) -> pl.DataFrame:
    booked = xml1.filter(pl.col("ngay_tai_kham").is_not_null())
    values = _person(
        (*_COMMON, "ho_ten", "ngay_sinh", "gioi_tinh", "ma_the_bhyt", "gt_the_den")
    ) | {
        "so_giayhen_kl": pl.col("ma_hsba"),
        "ngay_hen_kl": pl.col("ngay_tai_kham").str.slice(0, 8),
        "ma_benh_chinh": pl.col("ma_benh_chinh"),
        "ma_doituong_kcb": pl.col("ma_doituong_kcb"),
        "ngay_ct": _day("ngay_ra"),
    }
    return _with_facility(booked, "XML14", values)


def document_tables(xml1: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """XML7, XML9, XML13 and XML14 of the claims of ``xml1`` (XML1 text with ``ci``),
    ``ma_cskcb`` first and ``ci`` last, as the other generated line tables."""
    return {
        "XML7": _discharge(xml1),
        "XML9": _births(xml1),
        "XML13": _referral(xml1),
        "XML14": _appointment(xml1),
    }
