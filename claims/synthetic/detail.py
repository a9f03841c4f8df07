"""Raw text of synthetic detail lines: XML2 (drugs) and XML3 (services, supplies).

Built from the numbered, priced lines with their amounts in cents; every money element
is written with 2 decimals, quantities and unit prices with 3, other payers as 0.00.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from claims.synthetic.items import drug_items, xml3_items
from claims.synthetic.money import milli_text, money_text
from claims.synthetic.plan import practitioner
from claims.synthetic.tables import claim_columns, date_text, datetime_text, to_spec
from claims.xml130 import XML2, XML3

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
