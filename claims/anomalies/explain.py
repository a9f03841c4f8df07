"""Why a claim scores: its top contributing features in words an assessor reads.

For each claim the (at most) :data:`TOP` features with the largest contributions to its
statistic (``claims.anomalies.score``), each as the claim's value against its peer
group's median, e.g. "Chi phí hồ sơ 4.250.000 đ, gấp 3,8 lần trung vị nhóm
(1.120.000 đ)", then the peer group named: "so với nhóm cấp chuyên sâu · khoa K01 ·
tỉnh 01 · loại KCB 01 · chẩn đoán J18 (523 hồ sơ)". Numbers are written the
Vietnamese way (``.`` between thousands, ``,`` before decimals). Built with
expressions, for every claim at once.
"""

from __future__ import annotations

import polars as pl

from claims.anomalies.profile import FEATURES, LEVELS

TOP = 3
"""Features named per claim."""
MIN_CONTRIBUTION = 1e-9
"""A feature is named only when it contributes (its z is in the frame's tail, see
``claims.anomalies.score``): a claim close to its peers is not given reasons it does
not have."""


def thousands(value: pl.Expr) -> pl.Expr:
    """A non-negative number rounded to an integer, with ``.`` between thousands."""
    digits = value.round(0).cast(pl.Int64).cast(pl.String).str.reverse()
    grouped = digits.str.replace_all(r"(\d{3})", "${1}.").str.strip_chars_end(".")
    return grouped.str.reverse()


def decimal(value: pl.Expr, places: int = 1) -> pl.Expr:
    """A number with ``places`` decimals and a decimal comma."""
    text = value.round(places).cast(pl.String).str.replace(".", ",", literal=True)
    return text.str.replace(r",0+$", "")


def percent(value: pl.Expr) -> pl.Expr:
    """A 0–1 share as a whole percentage."""
    return (value * 100).round(0).cast(pl.Int64).cast(pl.String)


def v(name: str) -> pl.Expr:
    """The claim's value of a feature."""
    return pl.col(name).cast(pl.Float64)


def m(name: str) -> pl.Expr:
    """The claim's peer group's median of a feature."""
    return pl.col(f"{name}__median")


def _texts(readmit_days: int) -> dict[str, pl.Expr]:
    """Each feature's sentence for the claim's value and its peers' median."""
    ratio = pl.when(m("cost") > 0).then(v("cost") / m("cost"))
    mix_z = pl.col("concentration__z")
    return _specific_texts() | {
        "cost": pl.format(
            "Chi phí hồ sơ {} đ, gấp {} lần trung vị nhóm ({} đ)",
            thousands(v("cost")),
            decimal(ratio).fill_null("nhiều"),
            thousands(m("cost")),
        ),
        "los": pl.format(
            "Số ngày điều trị {}, trung vị nhóm {}",
            v("los").cast(pl.Int64),
            decimal(m("los")),
        ),
        "lines": pl.format(
            "Số dòng thuốc, dịch vụ, vật tư {}, trung vị nhóm {}",
            v("lines").cast(pl.Int64),
            decimal(m("lines")),
        ),
        "drug_share": pl.format(
            "Tiền thuốc chiếm {} % chi phí, trung vị nhóm {} %",
            percent(v("drug_share")),
            percent(m("drug_share")),
        ),
        "supply_share": pl.format(
            "Tiền vật tư y tế chiếm {} % chi phí, trung vị nhóm {} %",
            percent(v("supply_share")),
            percent(m("supply_share")),
        ),
        "concentration": pl.format(
            "{} (chỉ số tập trung {}, trung vị nhóm {})",
            pl.when(mix_z < 0)
            .then(pl.lit("Chi phí dàn trải bất thường trên nhiều nhóm dịch vụ"))
            .otherwise(pl.lit("Chi phí dồn bất thường vào một nhóm dịch vụ")),
            decimal(v("concentration"), 2),
            decimal(m("concentration"), 2),
        ),
        "quantity_excess": pl.format(
            "Số lượng thuốc, dịch vụ, vật tư gấp {} lần số lượng thường gặp của cùng "
            "mã (trung vị nhóm {} lần)",
            decimal(v("quantity_excess")),
            decimal(m("quantity_excess")),
        ),
        "dx_rarity": pl.format(
            "Dịch vụ {} hiếm gặp với chẩn đoán chính {} (độ hiếm {}, trung vị nhóm {})",
            pl.col("dx_code").fill_null("?"),
            pl.col("icd3"),
            decimal(v("dx_rarity")),
            decimal(m("dx_rarity")),
        ),
        "visits": pl.format(
            "Người bệnh có {} hồ sơ trong kỳ, trung vị nhóm {}",
            v("visits").cast(pl.Int64),
            decimal(m("visits")),
        ),
        "readmits": pl.format(
            "Người bệnh có {} hồ sơ khác tại cơ sở cách nhau không quá {} ngày "
            "(nghi tách đợt điều trị), trung vị nhóm {}",
            v("readmits").cast(pl.Int64),
            pl.lit(readmit_days),
            decimal(m("readmits")),
        ),
        "overlaps": pl.format(
            "Người bệnh có {} hồ sơ tại cơ sở khác trùng thời gian điều trị với hồ sơ "
            "này, trung vị nhóm {}",
            v("overlaps").cast(pl.Int64),
            decimal(m("overlaps")),
        ),
    }


def _specific_texts() -> dict[str, pl.Expr]:
    """The sentences of the features that measure one thing of the claim."""
    return {
        "drug_lines": pl.format(
            "Đơn có {} dòng thuốc, trung vị nhóm {}",
            v("drug_lines").cast(pl.Int64),
            decimal(m("drug_lines")),
        ),
        "test_lines": pl.format(
            "Có {} dòng xét nghiệm, chẩn đoán hình ảnh, thăm dò chức năng, trung vị "
            "nhóm {}",
            v("test_lines").cast(pl.Int64),
            decimal(m("test_lines")),
        ),
        "dose_excess": pl.format(
            "Liều mỗi lần dùng của các thuốc trung bình gấp {} lần liều thường dùng "
            "của cùng mã thuốc (trung vị nhóm {} lần)",
            decimal(v("dose_excess")),
            decimal(m("dose_excess")),
        ),
        "care_per_day": pl.format(
            "Điều trị {} ngày nhưng chỉ {} dòng thuốc, dịch vụ, vật tư mỗi ngày (ngoài "
            "tiền giường), trung vị nhóm {} dòng mỗi ngày: nghi kéo dài ngày điều trị",
            v("los").cast(pl.Int64),
            decimal(v("care_per_day")),
            decimal(m("care_per_day")),
        ),
    }


def peer_words() -> pl.Expr:
    """The peer group a claim was compared with, named."""
    level, department, province, claim_type, diagnosis = (
        pl.col("peer_group").str.split("|").list.get(i, null_on_oob=True)
        for i in range(5)
    )

    def part(value: pl.Expr, named: pl.Expr, every: str) -> pl.Expr:
        return pl.when(value == "*").then(pl.lit(every)).otherwise(named)

    level_words = level.replace_strict(LEVELS, default=level)
    return pl.format(
        "so với nhóm {} · {} · {} · {} · {} ({} hồ sơ)",
        part(level, pl.format("cấp {}", level_words), "mọi cấp"),
        part(department, pl.format("khoa {}", department), "mọi khoa"),
        part(province, pl.format("tỉnh {}", province), "mọi tỉnh"),
        part(claim_type, pl.format("loại KCB {}", claim_type), "mọi loại KCB"),
        part(diagnosis, pl.format("chẩn đoán {}", diagnosis), "mọi chẩn đoán"),
        pl.col("peer_n"),
    )


def explanations(scores: pl.DataFrame, readmit_days: int = 7) -> pl.DataFrame:
    """``scores`` (``claims.anomalies.score.score_claims``) with ``explanation`` and
    ``top_features`` (the named features' names, largest contribution first)."""
    indexed = scores.with_row_index("_i")
    texts = _texts(readmit_days)
    order = {f.name: i for i, f in enumerate(FEATURES)}
    long = pl.concat(
        [
            indexed.select(
                "_i",
                pl.lit(f.name).alias("feature"),
                pl.lit(order[f.name], pl.Int32).alias("_order"),
                pl.col(f"{f.name}__c").alias("_c"),
                texts[f.name].alias("_text"),
            )
            for f in FEATURES
        ]
    )
    top = (
        long.filter(pl.col("_c") >= MIN_CONTRIBUTION)
        .sort("_i", "_c", "_order", descending=[False, True, False])
        .group_by("_i", maintain_order=True)
        .head(TOP)
        .group_by("_i")
        .agg(
            pl.col("_text").str.join("; ").alias("_reasons"),
            pl.col("feature").alias("top_features"),
        )
    )
    words = pl.format(
        "{}; {}",
        pl.col("_reasons").fill_null("Không có đặc điểm nào cách xa trung vị nhóm"),
        peer_words(),
    )
    return (
        indexed.join(top, on="_i", how="left")
        .sort("_i")
        .with_columns(
            words.alias("explanation"),
            pl.col("top_features").fill_null(pl.lit([], pl.List(pl.String))),
        )
        .drop("_i", "_reasons")
    )
