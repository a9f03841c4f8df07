"""Raw text frames XML1–XML5 of synthetic claims, in the element order of the specs.

Every value is the text a facility would write (``pl.String``; null for an empty
element). Column order and names come from :mod:`claims.xml130`; a value given for a
column the spec does not have is an error, so a typo cannot slip through.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from claims import synthetic_vocab as voc
from claims.synthetic_items import drug_items, xml3_items
from claims.synthetic_money import milli_text, money_text
from claims.synthetic_plan import practitioner
from claims.xml130 import XML1, XML2, XML3, XML4, XML5, TableSpec

ZERO = pl.lit("0.00")
OTHER_PAYERS = (
    "t_nguonkhac_nsnn",
    "t_nguonkhac_vtnn",
    "t_nguonkhac_vttn",
    "t_nguonkhac_cl",
    "t_nguonkhac",
)
DISTRICTS_DROPPED_FROM = "202507010000"  # district codes end with the 2025 reform


def datetime_text(minutes: pl.Expr) -> pl.Expr:
    """Minutes since 1970 as ``yyyyMMddHHmm`` (null for negative: no value)."""
    text = pl.from_epoch(minutes * 60, time_unit="s").dt.strftime("%Y%m%d%H%M")
    return pl.when(minutes >= 0).then(text)


def date_text(days: pl.Expr) -> pl.Expr:
    """Day numbers as ``yyyyMMdd``."""
    return pl.from_epoch(days, time_unit="d").dt.strftime("%Y%m%d")


def to_spec(
    frame: pl.DataFrame, spec: TableSpec, values: dict[str, pl.Expr], *, line: bool
) -> pl.DataFrame:
    """Select ``values`` in the spec's column order, null for the rest, all as text.

    Raises:
        ValueError: when ``values`` names a column the spec does not have.
    """
    unknown = sorted(set(values) - set(spec.columns) - {"ma_cskcb"})
    if unknown:
        msg = f"{spec.table} has no column {unknown}"
        raise ValueError(msg)
    columns = [
        values.get(c, pl.lit(None, pl.String)).cast(pl.String).alias(c)
        for c in spec.columns
    ]
    if line:
        columns.insert(0, values["ma_cskcb"].cast(pl.String).alias("ma_cskcb"))
    return frame.select(columns)


def _claim_columns(
    claims: pl.DataFrame, lines: pl.DataFrame, names: list[str]
) -> pl.DataFrame:
    """Claim columns ``names`` gathered onto each line (by ``ci``)."""
    return claims.select(names)[lines["ci"].to_numpy()]


def _chance(rng: np.random.Generator, n: int, share: float) -> pl.Series:
    return pl.Series(rng.random(n) < share)


def _pick(rng: np.random.Generator, values: tuple[str, ...], n: int) -> pl.Series:
    return pl.Series(values, dtype=pl.String).gather(rng.integers(0, len(values), n))


def xml1(
    claims: pl.DataFrame, totals: pl.DataFrame, rng: np.random.Generator
) -> pl.DataFrame:
    """XML1 rows (one per claim, in ``ci`` order)."""
    n = claims.height
    frame = pl.concat([claims, totals.drop("ci")], how="horizontal").with_columns(
        _pick(rng, voc.VISIT_REASONS, n).alias("_ly_do"),
        _pick(rng, voc.ADMISSION_REASONS, n).alias("_vnt"),
        _pick(rng, voc.ADVICE, n)
        .zip_with(_chance(rng, n, 0.4), pl.Series([None] * n, dtype=pl.String))
        .alias("_ghi_chu"),
        _pick(rng, voc.TREATMENT_METHODS, n).alias("_pp"),
        pl.Series("_tai_kham", rng.choice([7, 14, 28, 30], n)),
        _chance(rng, n, 0.25).alias("_hen"),
        _chance(rng, n, 0.04).alias("_5nam"),
        pl.Series("_5nam_day", rng.integers(100, 2000, n)),
    )
    inpatient, kind = pl.col("inpatient"), pl.col("loai")
    vao, ra = datetime_text(pl.col("vao")), datetime_text(pl.col("ra"))
    days = (
        pl.when(kind.is_in(["01", "07", "09"]))
        .then(0)
        .when(kind == "05")
        .then(pl.col("drug_days"))
        .when(kind == "08")
        .then(1)
        .otherwise(pl.col("ra") // 1440 - pl.col("vao") // 1440 + 1)
    )
    values = {
        "ma_lk": pl.col("ma_lk"),
        "stt": pl.col("seq"),
        "ma_bn": pl.col("ma_bn"),
        **{
            c: pl.col(c)
            for c in (
                "ho_ten",
                "so_cccd",
                "gioi_tinh",
                "nhom_mau",
                "ma_dantoc",
                "ma_nghe_nghiep",
                "dia_chi",
                "matinh_cu_tru",
                "maxa_cu_tru",
                "dien_thoai",
                "ma_the_bhyt",
                "ma_dkbd",
                "gt_the_tu",
                "gt_the_den",
                "ma_khuvuc",
                "can_nang",
                "ma_cskcb",
            )
        },
        "ngay_sinh": date_text(pl.col("birth")) + "0000",
        "ma_quoctich": pl.lit("000"),
        "mahuyen_cu_tru": pl.when(vao < DISTRICTS_DROPPED_FROM).then(
            pl.col("mahuyen_cu_tru")
        ),
        "ly_do_vv": pl.col("_ly_do"),
        "ly_do_vnt": pl.when(inpatient).then(pl.col("_vnt")),
        "chan_doan_vao": pl.col("dx_text"),
        "chan_doan_rv": pl.col("dx_text"),
        "ma_benh_chinh": pl.col("dx"),
        "ma_benh_kt": pl.col("kt"),
        "ma_pttt_qt": pl.col("icd9"),
        "ma_doituong_kcb": pl.col("doituong"),
        "ma_noi_di": pl.col("ma_noi_di"),
        "ma_noi_den": pl.col("ma_noi_den"),
        "ngay_vao": vao,
        "ngay_vao_noi_tru": datetime_text(pl.col("vnt")),
        "ngay_ra": ra,
        "giay_chuyen_tuyen": pl.col("giay_chuyen_tuyen"),
        "so_ngay_dtri": days,
        "pp_dieu_tri": pl.when(pl.col("surgical"))
        .then(pl.lit("Ngoại khoa"))
        .otherwise(pl.col("_pp")),
        "ket_qua_dtri": pl.col("ket_qua"),
        "ma_loai_rv": pl.col("loai_rv"),
        "ghi_chu": pl.col("_ghi_chu"),
        "ngay_ttoan": datetime_text(pl.col("ttoan")),
        **{
            c: money_text(pl.col(c))
            for c in (
                "t_thuoc",
                "t_vtyt",
                "t_tongchi_bv",
                "t_tongchi_bh",
                "t_bntt",
                "t_bncct",
                "t_bhtt",
                "t_bhtt_gdv",
            )
        },
        "t_nguonkhac": ZERO,
        "nam_qt": date_text(pl.col("day")).str.slice(0, 4),
        "thang_qt": date_text(pl.col("day")).str.slice(4, 2).cast(pl.Int64),
        "ma_loai_kcb": kind,
        "ma_khoa": pl.col("khoa"),
        "nam_nam_lien_tuc": pl.when(pl.col("_5nam")).then(
            date_text(pl.col("vao") // 1440 - pl.col("_5nam_day"))
        ),
        "ngay_tai_kham": pl.when(~inpatient & pl.col("_hen")).then(
            date_text(pl.col("ra") // 1440 + pl.col("_tai_kham"))
        ),
        "ma_hsba": pl.concat_str(pl.lit("BA"), pl.col("ma_lk").str.slice(5)),
        "ma_ttdv": pl.col("ma_tinh")
        + (pl.col("fac_num") * 7919 % 10**8).cast(pl.String).str.zfill(8),
    }
    return to_spec(frame, XML1, values, line=False)


def _money() -> dict[str, pl.Expr]:
    """The shared money elements of a line, from cents columns."""
    return {
        "thanh_tien_bv": money_text(pl.col("bv")),
        "thanh_tien_bh": money_text(pl.col("bh")),
        **dict.fromkeys(OTHER_PAYERS, ZERO),
        "muc_huong": pl.col("muc"),
        "t_bhtt": money_text(pl.col("bhtt")),
        "t_bncct": money_text(pl.col("bncct")),
        "t_bntt": money_text(pl.col("bntt")),
        "ma_pttt": pl.lit("1"),
    }


def _dose(milli: pl.Expr) -> pl.Expr:
    """A dose without trailing zeros: 500 → ``0.5``, 2000 → ``2``."""
    fraction = (milli % 1000).cast(pl.String).str.zfill(3).str.strip_chars_end("0")
    whole = (milli // 1000).cast(pl.String)
    return pl.when(milli % 1000 == 0).then(whole).otherwise(whole + "." + fraction)


def xml2(claims: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """XML2 rows from numbered, priced drug lines."""
    items = drug_items().drop("kind", "ma_nhom", "tyle_tt_bh")
    frame = pl.concat(
        [
            lines,
            _claim_columns(
                claims,
                lines,
                [
                    "ma_cskcb",
                    "ma_lk",
                    "dept",
                    "doc_serial",
                    "abbr",
                    "fac_num",
                    "day",
                    "inpatient",
                ],
            ),
        ],
        how="horizontal",
    ).join(items, on="item_id", how="left", maintain_order="left")
    year = (date_text(pl.col("day")).str.slice(0, 4).cast(pl.Int64) - 1).cast(pl.String)
    tender = pl.format(
        "{}/QĐ-SYT;G1;{};{}",
        pl.col("fac_num") * 37 % 900 + 100,
        pl.col("nhom_thau"),
        year,
    )
    unit = pl.col("don_vi_tinh").str.to_lowercase()
    values = {
        "ma_cskcb": pl.col("ma_cskcb"),
        "ma_lk": pl.col("ma_lk"),
        "stt": pl.col("stt"),
        "ma_thuoc": pl.col("ma_thuoc"),
        "ma_nhom": pl.col("ma_nhom"),
        "ten_thuoc": pl.when(pl.col("blood"))
        .then(pl.col("ten"))
        .otherwise(pl.col("ten") + " " + pl.col("ham_luong")),
        **{
            c: pl.col(c)
            for c in (
                "don_vi_tinh",
                "ham_luong",
                "duong_dung",
                "dang_bao_che",
                "cach_dung",
            )
        },
        "lieu_dung": pl.format(
            "{} {}/lần * {} lần/ngày * {} ngày",
            _dose(pl.col("dose")),
            unit,
            "per_day",
            "days",
        ),
        "so_dang_ky": pl.when(~pl.col("blood")).then(pl.col("so_dang_ky")),
        "tt_thau": pl.when(~pl.col("blood")).then(tender),
        "pham_vi": pl.lit("1"),
        "tyle_tt_bh": pl.col("tyle_tt_bh"),
        "so_luong": milli_text(pl.col("qty")),
        "don_gia": milli_text(pl.col("price")),
        **_money(),
        "ma_khoa": pl.col("dept"),
        "ma_bac_si": practitioner(pl.col("doc_serial"), pl.col("abbr")),
        "ngay_yl": datetime_text(pl.col("yl")),
        "ngay_th_yl": datetime_text(pl.col("th")),
        "nguon_ctra": pl.lit("1"),
    }
    return to_spec(frame, XML2, values, line=True)


def performer_serials(
    claims: pl.DataFrame, lines: pl.DataFrame, rng: np.random.Generator
) -> pl.DataFrame:
    """Practitioner serial of who performed each XML3 line (null for beds and supplies).

    The attending doctor performs the first exam; tests and procedures are performed by
    someone else (§4.3 F9 warns when the orderer performs a lab or imaging test).
    """
    c = _claim_columns(claims, lines, ["doc_serial", "doc_base", "doctor", "n_doc"])
    doctor, n_doc = c["doctor"].to_numpy(), c["n_doc"].to_numpy()
    who = lines["performer"].to_numpy()
    other = (
        doctor
        + 1
        + (rng.random(lines.height) * np.maximum(n_doc - 1, 1)).astype(np.int64)
    ) % n_doc
    serial = np.where(
        who == 0, c["doc_serial"].to_numpy(), c["doc_base"].to_numpy() + other
    )
    return lines.with_columns(
        pl.Series("performer_serial", serial).zip_with(
            pl.Series(who >= 0), pl.Series([None] * lines.height, dtype=pl.Int64)
        )
    )


def xml3(claims: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """XML3 rows from numbered, priced service lines with performer serials."""
    items = xml3_items().select(
        "item_id", "ma_dich_vu", "ma_vat_tu", "ten", "don_vi_tinh", "machine", "extra"
    )
    frame = pl.concat(
        [
            lines,
            _claim_columns(
                claims,
                lines,
                [
                    "ma_cskcb",
                    "ma_lk",
                    "dept",
                    "doc_serial",
                    "abbr",
                    "fac_num",
                    "day",
                    "dx",
                ],
            ),
        ],
        how="horizontal",
    ).join(items, on="item_id", how="left", maintain_order="left")
    supply = pl.col("kind") == "supply"
    year = (date_text(pl.col("day")).str.slice(0, 4).cast(pl.Int64) - 1).cast(pl.String)
    machine = pl.format(
        "{}.1.{}.{}",
        "machine",
        "ma_cskcb",
        (pl.col("fac_num") + pl.col("item_id")) % 3 + 1,
    )
    values = {
        "ma_cskcb": pl.col("ma_cskcb"),
        "ma_lk": pl.col("ma_lk"),
        "stt": pl.col("stt"),
        "ma_dich_vu": pl.coalesce("ma_dich_vu", "link"),
        "ma_pttt_qt": pl.when(pl.col("kind") == "surgery").then(pl.col("extra")),
        "ma_vat_tu": pl.col("ma_vat_tu"),
        "ma_nhom": pl.col("ma_nhom"),
        "goi_vtyt": pl.col("goi_vtyt"),
        "ten_vat_tu": pl.when(supply).then(pl.col("ten")),
        "ten_dich_vu": pl.when(~supply).then(pl.col("ten")),
        "don_vi_tinh": pl.col("don_vi_tinh"),
        "pham_vi": pl.lit("1"),
        "so_luong": milli_text(pl.col("qty")),
        "don_gia_bv": milli_text(pl.col("price_bv")),
        "don_gia_bh": milli_text(pl.col("price_bh")),
        "tt_thau": pl.when(supply).then(
            pl.format("{}/QĐ-SYT;G1;N1;{}", pl.col("fac_num") * 37 % 900 + 100, year)
        ),
        "tyle_tt_dv": pl.col("tyle_dv"),
        "tyle_tt_bh": pl.col("tyle_tt_bh"),
        **_money(),
        "ma_khoa": pl.when(pl.col("kind") == "exam")
        .then(pl.lit("K01"))
        .otherwise(pl.col("dept")),
        "ma_giuong": pl.col("ma_giuong"),
        "ma_bac_si": practitioner(pl.col("doc_serial"), pl.col("abbr")),
        "nguoi_thuc_hien": practitioner(pl.col("performer_serial"), pl.col("abbr")),
        "ma_benh": pl.when(~supply).then(pl.col("dx")),
        "ngay_yl": datetime_text(pl.col("yl")),
        "ngay_th_yl": datetime_text(pl.col("th")),
        "ngay_kq": datetime_text(pl.col("kq")),
        "pp_vo_cam": pl.col("pp_vo_cam"),
        "ma_may": pl.when(pl.col("machine").is_not_null()).then(machine),
    }
    return to_spec(frame, XML3, values, line=True)


def xml4(claims: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
    """XML4 rows, numbered 1..n per claim."""
    frame = pl.concat(
        [rows, _claim_columns(claims, rows, ["ma_cskcb", "ma_lk", "abbr"])],
        how="horizontal",
    ).with_columns((pl.int_range(pl.len()).over("ci") + 1).alias("stt"))
    values = {
        **{
            c: pl.col(c)
            for c in (
                "ma_cskcb",
                "ma_lk",
                "stt",
                "ma_dich_vu",
                "ma_chi_so",
                "ten_chi_so",
                "gia_tri",
                "don_vi_do",
                "mo_ta",
                "ket_luan",
            )
        },
        "ngay_kq": datetime_text(pl.col("kq")),
        "ma_bs_doc_kq": practitioner(pl.col("performer_serial"), pl.col("abbr")),
    }
    return to_spec(frame, XML4, values, line=True)


def xml5(claims: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
    """XML5 rows, numbered 1..n per claim."""
    frame = pl.concat(
        [
            rows,
            _claim_columns(claims, rows, ["ma_cskcb", "ma_lk", "abbr", "doc_serial"]),
        ],
        how="horizontal",
    ).with_columns((pl.int_range(pl.len()).over("ci") + 1).alias("stt"))
    values = {
        **{
            c: pl.col(c)
            for c in (
                "ma_cskcb",
                "ma_lk",
                "stt",
                "dien_bien_ls",
                "giai_doan_benh",
                "hoi_chan",
                "phau_thuat",
            )
        },
        "thoi_diem_dbls": datetime_text(pl.col("time")),
        "nguoi_thuc_hien": practitioner(pl.col("doc_serial"), pl.col("abbr")),
    }
    return to_spec(frame, XML5, values, line=True)
