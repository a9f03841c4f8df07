"""Raw text frames of synthetic claims: shared helpers and the XML1–XML5 tables.

Every value is the text a facility would write (``pl.String``; null for an empty
element). Column order and names come from :mod:`claims.xml130`; a value given for a
column the spec does not have is an error, so a typo cannot slip through.

XML1, the claim summary (§1.6), has one row per claim from the plan (person, visit,
route, diagnoses) and the claim's totals in cents; free-text fields and the occasional
optional element are drawn here. XML2 (drugs) and XML3 (services, supplies) are built
from the numbered, priced lines with their amounts in cents: every money element is
written with 2 decimals, quantities and unit prices with 3, other payers as 0.00.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from claims.synthetic.items import drug_items, xml3_items
from claims.synthetic.money import milli_text, money_text
from claims.synthetic.registry import practitioner_code as practitioner
from claims.xml130 import XML1, XML2, XML3, XML4, XML5, TableSpec


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


def claim_columns(
    claims: pl.DataFrame, lines: pl.DataFrame, names: list[str]
) -> pl.DataFrame:
    """Claim columns ``names`` gathered onto each line (by ``ci``)."""
    return claims.select(names)[lines["ci"].to_numpy()]


def chance(rng: np.random.Generator, n: int, share: float) -> pl.Series:
    """A random mask: True with probability ``share``."""
    return pl.Series(rng.random(n) < share)


def pick(rng: np.random.Generator, values: tuple[str, ...], n: int) -> pl.Series:
    """``n`` values drawn uniformly from ``values``."""
    return pl.Series(values, dtype=pl.String).gather(rng.integers(0, len(values), n))


# ---- XML1

# free text drawn per claim
VISIT_REASONS = (
    "Khám bệnh",
    "Sốt",
    "Ho kéo dài",
    "Đau bụng",
    "Đau đầu, chóng mặt",
    "Đau lưng",
    "Khó thở",
    "Tái khám định kỳ",
    "Mệt mỏi, ăn kém",
    "Đau họng",
)
ADMISSION_REASONS = (
    "Điều trị nội trú theo chỉ định của bác sĩ",
    "Nhập viện cấp cứu",
    "Theo dõi và điều trị",
    "Phẫu thuật theo kế hoạch",
)
ADVICE = (
    "Tái khám sau 7 ngày hoặc khi có dấu hiệu bất thường",
    "Uống thuốc đúng giờ & theo dõi huyết áp tại nhà",
    "Ăn nhạt, giữ huyết áp < 140/90 mmHg",
    "Nghỉ ngơi, uống nhiều nước",
    "Tái khám theo hẹn, mang theo sổ khám bệnh",
)
TREATMENT_METHODS = ("Nội khoa", "Nội khoa", "Nội khoa", "Nội khoa kết hợp YHCT")
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
        pick(rng, VISIT_REASONS, n).alias("_ly_do"),
        pick(rng, ADMISSION_REASONS, n).alias("_vnt"),
        pick(rng, ADVICE, n).zip_with(chance(rng, n, 0.4), none).alias("_ghi_chu"),
        pick(rng, TREATMENT_METHODS, n).alias("_pp"),
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
        totals: the claims' totals in cents, row ``ci``
            (:func:`claims.synthetic.money.claim_totals`).
        rng: the chunk's random generator.
    """
    frame = pl.concat([claims, totals.drop("ci")], how="horizontal").with_columns(
        _drawn(rng, claims.height)
    )
    values = {c: pl.col(c) for c in PERSON} | _visit() | _settlement()
    return to_spec(frame, XML1, values, line=False)


# ---- XML2 and XML3

ZERO = pl.lit("0.00")
OTHER_PAYERS = (
    "t_nguonkhac_nsnn",
    "t_nguonkhac_vtnn",
    "t_nguonkhac_vttn",
    "t_nguonkhac_cl",
    "t_nguonkhac",
)


def _money() -> dict[str, pl.Expr]:
    """The money elements every line has, from its cents columns."""
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


def _common() -> dict[str, pl.Expr]:
    """Keys, scope, ordering doctor and times shared by XML2 and XML3."""
    return {
        **{c: pl.col(c) for c in ("ma_cskcb", "ma_lk", "stt", "ma_nhom", "tyle_tt_bh")},
        "pham_vi": pl.lit("1"),
        "so_luong": milli_text(pl.col("qty")),
        "ma_bac_si": practitioner(pl.col("doc_serial"), pl.col("abbr")),
        "ngay_yl": datetime_text(pl.col("yl")),
        "ngay_th_yl": datetime_text(pl.col("th")),
    }


def _tender(group: pl.Expr) -> pl.Expr:
    """TT_THAU "decision;package;group;year": the facility's tender of the year before."""
    year = (date_text(pl.col("day")).str.slice(0, 4).cast(pl.Int64) - 1).cast(pl.String)
    return pl.format(
        "{}/QĐ-SYT;G1;{};{}", pl.col("fac_num") * 37 % 900 + 100, group, year
    )


def _dose(milli: pl.Expr) -> pl.Expr:
    """A dose without trailing zeros: 500 → ``0.5``, 2000 → ``2``."""
    fraction = (milli % 1000).cast(pl.String).str.zfill(3).str.strip_chars_end("0")
    whole = (milli // 1000).cast(pl.String)
    return pl.when(milli % 1000 == 0).then(whole).otherwise(whole + "." + fraction)


def _with_claims(
    claims: pl.DataFrame, lines: pl.DataFrame, items: pl.DataFrame, extra: list[str]
) -> pl.DataFrame:
    """Lines with their claim's columns and their item's catalog attributes."""
    names = [
        "ma_cskcb",
        "ma_lk",
        "dept",
        "doc_serial",
        "abbr",
        "fac_num",
        "day",
        *extra,
    ]
    frame = pl.concat([lines, claim_columns(claims, lines, names)], how="horizontal")
    return frame.join(items, on="item_id", how="left", maintain_order="left")


def xml2(claims: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """XML2 rows from numbered, priced drug lines with their amounts."""
    items = drug_items().drop("kind", "ma_nhom", "tyle_tt_bh")
    frame = _with_claims(claims, lines, items, [])
    drug = ~pl.col("blood")
    dosage = "{} {}/lần * {} lần/ngày * {} ngày"
    unit = pl.col("don_vi_tinh").str.to_lowercase()
    named = (
        "ma_thuoc",
        "don_vi_tinh",
        "ham_luong",
        "duong_dung",
        "dang_bao_che",
        "cach_dung",
    )
    values = {
        **_common(),
        **{c: pl.col(c) for c in named},
        "ten_thuoc": pl.when(drug)
        .then(pl.format("{} {}", "ten", "ham_luong"))
        .otherwise("ten"),
        "lieu_dung": pl.format(dosage, _dose(pl.col("dose")), unit, "per_day", "days"),
        "so_dang_ky": pl.when(drug).then(pl.col("so_dang_ky")),
        "tt_thau": pl.when(drug).then(_tender(pl.col("nhom_thau"))),  # none for blood
        "don_gia": milli_text(pl.col("price")),
        **_money(),
        "ma_khoa": pl.col("dept"),
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
    c = claim_columns(claims, lines, ["doc_serial", "doc_base", "doctor", "n_doc"])
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
    """XML3 rows from numbered, priced service lines with amounts and performers."""
    items = xml3_items().select(
        "item_id", "ma_dich_vu", "ma_vat_tu", "ten", "don_vi_tinh", "machine", "extra"
    )
    frame = _with_claims(claims, lines, items, ["dx"])
    supply, kind = pl.col("kind") == "supply", pl.col("kind")
    serial = (pl.col("fac_num") + pl.col("item_id")) % 3 + 1
    machine = pl.format("{}.1.{}.{}", "machine", "ma_cskcb", serial)
    values = {
        **_common(),
        **{c: pl.col(c) for c in ("ma_vat_tu", "goi_vtyt", "don_vi_tinh", "ma_giuong")},
        "ma_dich_vu": pl.coalesce("ma_dich_vu", "link"),
        "ma_pttt_qt": pl.when(kind == "surgery").then(pl.col("extra")),
        "ten_vat_tu": pl.when(supply).then(pl.col("ten")),
        "ten_dich_vu": pl.when(~supply).then(pl.col("ten")),
        "don_gia_bv": milli_text(pl.col("price_bv")),
        "don_gia_bh": milli_text(pl.col("price_bh")),
        "tt_thau": pl.when(supply).then(_tender(pl.lit("N1"))),
        "tyle_tt_dv": pl.col("tyle_dv"),
        **_money(),
        "ma_khoa": pl.when(kind == "exam")
        .then(pl.lit("K01"))
        .otherwise(pl.col("dept")),
        "nguoi_thuc_hien": practitioner(pl.col("performer_serial"), pl.col("abbr")),
        "ma_benh": pl.when(~supply).then(pl.col("dx")),
        "ngay_kq": datetime_text(pl.col("kq")),
        "pp_vo_cam": pl.col("pp_vo_cam"),
        "ma_may": pl.when(pl.col("machine").is_not_null()).then(machine),
    }
    return to_spec(frame, XML3, values, line=True)


# ---- XML4 and XML5


def xml4(claims: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
    """XML4 rows, numbered 1..n per claim."""
    frame = pl.concat(
        [rows, claim_columns(claims, rows, ["ma_cskcb", "ma_lk", "abbr"])],
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
            claim_columns(claims, rows, ["ma_cskcb", "ma_lk", "abbr", "doc_serial"]),
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
