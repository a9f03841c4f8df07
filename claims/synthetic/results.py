"""XML4 result rows and XML5 progress notes of synthetic claims.

A lab test gives one XML4 row per index (a blood count gives four), an imaging or
functional test one row with a description and a conclusion; each row carries its XML3
line's service code and result time. Inpatient stays get a progress note per day (and
one after a surgery), at times inside the stay.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from claims.synthetic import vocab as voc
from claims.synthetic.catalog import LAB_INDICES, RESULT_TEXTS, read_table
from claims.synthetic.items import xml3_items
from claims.synthetic.lines import MINUTES, _claim, expand


def result_rows(lines: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """XML4 rows for the numbered XML3 ``lines`` that are tests.

    Returns:
        ``ci, line_stt, ma_dich_vu, ma_chi_so, ten_chi_so, gia_tri, don_vi_do, mo_ta,
        ket_luan, kq, performer_serial`` sorted by claim and line.
    """
    items = xml3_items().select("item_id", "ma_dich_vu", pl.col("extra").alias("key"))
    tests = lines.filter(pl.col("kind").is_in(["lab", "imaging", "functional"])).join(
        items, on="item_id", how="left", maintain_order="left"
    )
    indices = read_table(LAB_INDICES).with_columns(
        pl.col("low", "high").cast(pl.Float64), pl.int_range(pl.len()).alias("order")
    )
    labs = tests.join(indices, on="key", how="inner").sort("ci", "stt", "order")
    u = pl.Series(rng.random(labs.height))
    value = pl.col("low") + (pl.col("high") - pl.col("low")) * (u * 1.3 - 0.1)
    labs = labs.with_columns(
        value.clip(lower_bound=0).round(2).cast(pl.String).alias("gia_tri"),
        pl.lit(None, pl.String).alias("mo_ta"),
        pl.lit(None, pl.String).alias("ket_luan"),
    )
    texts = read_table(RESULT_TEXTS).with_columns(
        pl.lit(None, pl.String).alias(c) for c in ("ma_chi_so", "ten_chi_so", "gia_tri")
    )
    images = tests.join(
        texts.with_columns(
            order=pl.lit(0, pl.Int64), don_vi_do=pl.lit(None, pl.String)
        ),
        on="key",
        how="inner",
        maintain_order="left",
    )
    columns = [
        "ci",
        "stt",
        "order",
        "ma_dich_vu",
        "ma_chi_so",
        "ten_chi_so",
        "gia_tri",
        "don_vi_do",
        "mo_ta",
        "ket_luan",
        "kq",
        "performer_serial",
    ]
    rows = pl.concat([labs.select(columns), images.select(columns)])
    return rows.sort("ci", "stt", "order").rename({"stt": "line_stt"}).drop("order")


def note_rows(claims: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """XML5 progress notes: one per day of an inpatient stay, one after a surgery.

    Returns:
        ``ci, time, dien_bien_ls, giai_doan_benh, hoi_chan, phau_thuat`` by claim and time.
    """
    ci, k = expand(claims["n_note"].to_numpy())
    n = len(ci)
    vao, ra = _claim(claims, "vao", ci), _claim(claims, "ra", ci)
    surgery_note = _claim(claims, "surgical", ci) & (
        k == _claim(claims, "n_note", ci) - 1
    )
    daily = np.clip(vao + k * MINUTES + rng.integers(0, 121, n), vao, ra - 5)
    time = np.where(surgery_note, _claim(claims, "surg_time", ci) + 150, daily)
    vitals = pl.DataFrame(
        {
            "p": rng.integers(62, 101, n),
            "t": np.round(36.3 + rng.random(n) * 1.6, 1),
            "s": rng.integers(100, 146, n),
            "d": rng.integers(60, 91, n),
            "r": rng.integers(16, 23, n),
        }
    )
    text = vitals.select(
        pl.format(
            "Bệnh nhân tỉnh, tiếp xúc tốt. Mạch {} lần/phút, nhiệt độ {}°C, HA {}/{} mmHg, "
            "nhịp thở {} lần/phút.",
            "p",
            "t",
            "s",
            "d",
            "r",
        )
    ).to_series()
    none = pl.Series([None] * n, dtype=pl.String)
    stage = pl.Series(voc.DISEASE_STAGES).gather(
        rng.integers(0, len(voc.DISEASE_STAGES), n)
    )
    consult = pl.Series(["Hội chẩn khoa: thống nhất tiếp tục phác đồ điều trị"] * n)
    surgery = pl.Series(
        ["Sau phẫu thuật: vết mổ khô, không chảy máu, theo dõi tiếp"] * n
    )
    return pl.DataFrame(
        {
            "ci": ci,
            "time": time,
            "dien_bien_ls": text,
            "giai_doan_benh": stage.zip_with(pl.Series(rng.random(n) < 0.3), none),
            "hoi_chan": consult.zip_with(pl.Series(rng.random(n) < 0.03), none),
            "phau_thuat": surgery.zip_with(pl.Series(surgery_note), none),
        }
    ).sort("ci", "time", maintain_order=True)
