"""Faults of the episode checks (issue 13): one text change each, found by a pack rule.

Applied to the text tables after the structural faults (``ci`` columns present): a card
whose province code is not one (B3), an unknown MA_DKBD (B4), a tender without its group
(E4), LIEU_DUNG whose days do not give SO_LUONG (E10) or exceed 30 (E10), a half bed-day
without a transfer (H5), an unfinished service (``_TB``) billed (D9), an other-sources
part without T_NGUONKHAC (D2), a programme-funded drug line paid by the fund (D7) and an
XML4 result date that is not its service's (C10); a 1.1 route away from MA_DKBD, a
referral without its paper, an off-route code of another tier and a temporary-card
MA_DKBD on another card (B5, B3); a drug
without tender or readable dosage (E4, E10) or with a ratio off the catalog (E5); a bed
line of 2 days (H5) and T_TRANTT on a service (D8). Each kind's expected reason is the
reason code of the rule that must find it (:data:`EPISODE_KINDS`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

EPISODE_KINDS: dict[str, tuple[str, str, str]] = {
    "card_province": ("CARD_PROVINCE_UNKNOWN", "XML1", "claim"),
    "dkbd_unknown": ("DKBD_UNKNOWN", "XML1", "claim"),
    "tender_malformed": ("TENDER_FORMAT", "XML2", "line"),
    "dosage_mismatch": ("DOSAGE_QUANTITY_MISMATCH", "XML2", "line"),
    "long_prescription": ("PRESCRIPTION_OVER_30_DAYS", "XML2", "line"),
    "other_sources_parts": ("OTHER_SOURCES_PARTS", "XML2", "line"),
    "programme_line_paid": ("PROGRAMME_LINE_PAID", "XML2", "line"),
    "half_bed_day": ("HALF_BED_DAY_WITHOUT_TRANSFER", "XML3", "line"),
    "not_done_billed": ("NOT_DONE_SERVICE_BILLED", "XML3", "line"),
    "xml4_result_date": ("XML4_RESULT_DATE_MISMATCH", "XML3", "line"),
    "route_registered_elsewhere": ("ROUTE_NOT_REGISTERED_HERE", "XML1", "claim"),
    "referral_without_paper": ("REFERRAL_WITHOUT_PAPER", "XML1", "claim"),
    "temporary_dkbd": ("TEMPORARY_DKBD_NOT_TE", "XML1", "claim"),
    "off_route_tier": ("ROUTE_FACILITY_LEVEL", "XML1", "claim"),
    "tender_missing": ("TENDER_MISSING", "XML2", "line"),
    "dosage_unparsed": ("DOSAGE_UNPARSED", "XML2", "line"),
    "ratio_mismatch": ("DRUG_RATIO_MISMATCH", "XML2", "line"),
    "bed_line_quantity": ("BED_LINE_QUANTITY", "XML3", "line"),
    "t_trantt_not_supply": ("T_TRANTT_INCONSISTENT", "XML3", "line"),
}
"""Kind → (expected reason, table, level). C10's fault changes XML4 but the rule fires on
the XML3 line of the service."""
CENTRAL = 3
"""``tier_idx`` of a central facility (``claims.synthetic.items`` tiers, lowest first)."""
UNKNOWN_DKBD = "99998"
"""A MA_DKBD that no facility has (and no temporary card's province + 000)."""
_TRUTH = {"ci": pl.Int64, "table": pl.String, "stt": pl.String, "kind": pl.String}
_BEDS = ("14", "15", "16")
_TEXT = Callable[[pl.Expr], pl.Expr]


def _cis(claims: pl.DataFrame, kind: str) -> np.ndarray:
    return np.flatnonzero((claims["fault"] == kind).fill_null(False).to_numpy())


def _pick(
    frame: pl.DataFrame, cis: np.ndarray, where: pl.Expr, rng: np.random.Generator
) -> pl.DataFrame:
    """One random row (``_row``, ``ci``, ``stt``) matching ``where`` of each claim."""
    picked = (
        frame.with_row_index("_row")
        .filter(pl.col("ci").is_in(pl.Series(cis, dtype=pl.Int64).implode()) & where)
        .select("_row", "ci", "stt")
    )
    picked = picked.with_columns(pl.Series("_r", rng.random(picked.height)))
    return picked.sort("ci", "_r").group_by("ci", maintain_order=True).first()


def _change(
    frame: pl.DataFrame, rows: pl.Series, column: str, text: _TEXT
) -> pl.DataFrame:
    hit = pl.int_range(pl.len()).is_in(rows.implode())
    return frame.with_columns(
        pl.when(hit).then(text(pl.col(column))).otherwise(pl.col(column)).alias(column)
    )


def _truth(picked: pl.DataFrame, table: str, kind: str, *, line: bool) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ci": picked["ci"].cast(pl.Int64),
            "table": [table] * picked.height,
            "stt": picked["stt"].cast(pl.String) if line else [None] * picked.height,
            "kind": [kind] * picked.height,
        },
        schema=_TRUTH,
    )


def _days(days: _TEXT) -> _TEXT:
    """LIEU_DUNG with its days (the last number) replaced by ``days(old)``."""

    def text(v: pl.Expr) -> pl.Expr:
        old = v.str.extract(r"([0-9]+) ngày$", 1)
        return v.str.replace(
            r"[0-9]+ ngày$", days(old.cast(pl.Int64)).cast(pl.String) + " ngày"
        )

    return text


_EDITS: dict[str, tuple[str, str, pl.Expr, _TEXT]] = {
    # kind: (table, column, which rows, new text)
    "card_province": (
        "XML1",
        "ma_the_bhyt",
        pl.lit(True),
        lambda v: v.str.slice(0, 3) + "00" + v.str.slice(5),
    ),
    "dkbd_unknown": ("XML1", "ma_dkbd", pl.lit(True), lambda _v: pl.lit(UNKNOWN_DKBD)),
    "tender_malformed": (
        "XML2",
        "tt_thau",
        pl.col("tt_thau").is_not_null(),
        lambda v: v.str.replace(r";N[0-9]+;", ";"),
    ),
    "dosage_mismatch": (
        "XML2",
        "lieu_dung",
        pl.col("lieu_dung").str.contains(r"[0-9]+ ngày$"),
        _days(lambda d: d + 1),
    ),
    "long_prescription": (
        "XML2",
        "lieu_dung",
        pl.col("lieu_dung").str.contains(r"[0-9]+ ngày$"),
        _days(lambda d: pl.lit(35) + d * 0),
    ),
    "other_sources_parts": (
        "XML2",
        "t_nguonkhac_nsnn",
        pl.lit(True),
        lambda _v: pl.lit("5000.00"),
    ),
    "programme_line_paid": (
        "XML2",
        "nguon_ctra",
        pl.col("t_bhtt").str.contains("[1-9]"),
        lambda _v: pl.lit("3"),
    ),
    "half_bed_day": (
        "XML3",
        "so_luong",
        pl.col("ma_nhom").is_in(_BEDS),
        lambda _v: pl.lit("0.500"),
    ),
    "route_registered_elsewhere": (
        "XML1",
        "ma_doituong_kcb",
        pl.lit(True),
        lambda _v: pl.lit("1.1"),
    ),
    "referral_without_paper": (
        "XML1",
        "giay_chuyen_tuyen",
        pl.lit(True),
        lambda _v: pl.lit(None, pl.String),
    ),
    "temporary_dkbd": (
        "XML1",
        "ma_dkbd",
        pl.lit(True),
        lambda _v: pl.col("ma_the_bhyt").str.slice(3, 2) + "000",
    ),
    "off_route_tier": (
        "XML1",
        "ma_doituong_kcb",
        pl.lit(True),
        # 3.1 is for ex-central facilities (tier 3), 3.3 for ex-district ones
        lambda _v: (
            pl.when(pl.col("_tier") == CENTRAL)
            .then(pl.lit("3.3"))
            .otherwise(pl.lit("3.1"))
        ),
    ),
    "tender_missing": (
        "XML2",
        "tt_thau",
        pl.col("tt_thau").is_not_null(),
        lambda _v: pl.lit(None, pl.String),
    ),
    "dosage_unparsed": (
        "XML2",
        "lieu_dung",
        pl.col("lieu_dung").is_not_null(),
        lambda _v: pl.lit("uống theo chỉ dẫn"),
    ),
    "ratio_mismatch": (
        "XML2",
        "tyle_tt_bh",
        pl.col("tt_thau").is_not_null(),  # a drug (blood has no tender and no ratio)
        lambda v: (
            pl.when(v.cast(pl.String) == "100")
            .then(pl.lit("50"))
            .otherwise(pl.lit("100"))
        ),
    ),
    "bed_line_quantity": (
        "XML3",
        "so_luong",
        pl.col("ma_nhom").is_in(_BEDS),
        lambda _v: pl.lit("2.000"),
    ),
    "t_trantt_not_supply": (
        "XML3",
        "t_trantt",
        pl.col("ma_vat_tu").is_null(),
        lambda _v: pl.lit("1000.00"),
    ),
    "not_done_billed": (
        "XML3",
        "ma_dich_vu",
        pl.col("ma_vat_tu").is_null()
        & ~pl.col("ma_nhom").is_in(_BEDS)
        & pl.col("don_gia_bh").str.contains("[1-9]"),
        lambda v: v + "_TB",
    ),
}


def _elsewhere(column: str) -> pl.Expr:
    """A known facility that is not the claim's (Bạch Mai, or Việt Đức at Bạch Mai)."""
    other = pl.when(pl.col("ma_cskcb") == "01001").then(pl.lit("01002"))
    return other.otherwise(pl.lit("01001")).alias(column)


_ALSO: dict[str, dict[str, pl.Expr]] = {
    # the other columns a kind changes on the same rows, so it always applies
    "route_registered_elsewhere": {
        "ma_dkbd": pl.when(
            pl.col("ma_dkbd").str.contains(pl.col("ma_cskcb"), literal=True)
        )
        .then(_elsewhere("ma_dkbd"))
        .otherwise(pl.col("ma_dkbd"))
    },
    "referral_without_paper": {
        "ma_doituong_kcb": pl.lit("1.3"),
        "ma_noi_di": pl.coalesce(pl.col("ma_noi_di"), _elsewhere("ma_noi_di")),
    },
    "temporary_dkbd": {
        "ma_the_bhyt": pl.when(pl.col("ma_the_bhyt").str.starts_with("TE1"))
        .then("DN4" + pl.col("ma_the_bhyt").str.slice(3))
        .otherwise(pl.col("ma_the_bhyt"))
    },
}
FALLBACK = "dkbd_unknown"
"""The kind a claim gets when its own kind finds no line to change (every claim has
XML1), so the run keeps exactly its number of faults."""


def _result_date(
    claims: pl.DataFrame, tables: dict[str, pl.DataFrame], rng: np.random.Generator
) -> pl.DataFrame:
    """C10: every XML4 row of one service of the claim 7 minutes later than XML3's
    NGAY_KQ (yyyyMMddHHmm text); the truth names the XML3 line."""
    cis = _cis(claims, "xml4_result_date")
    xml3, xml4 = tables["XML3"], tables["XML4"]
    services = xml4.select("ci", "ma_dich_vu").unique()
    lines = xml3.join(services, on=["ci", "ma_dich_vu"], how="semi")
    # a service billed once, so its XML4 rows belong to that line
    once = pl.len().over("ci", "ma_dich_vu") == 1
    picked = _pick(
        lines.with_columns(once.alias("_once")),
        cis,
        pl.col("_once") & pl.col("ngay_kq").is_not_null(),
        rng,
    )
    chosen = lines.with_row_index("_row").join(
        picked.select("_row"), on="_row", how="semi"
    )
    later = (
        pl.col("ngay_kq").str.strptime(pl.Datetime, "%Y%m%d%H%M", strict=False)
        + pl.duration(minutes=7)
    ).dt.strftime("%Y%m%d%H%M")
    target = chosen.select("ci", "ma_dich_vu", pl.lit(True).alias("_t"))
    tables["XML4"] = (
        xml4.join(target, on=["ci", "ma_dich_vu"], how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col("_t"))
            .then(later)
            .otherwise(pl.col("ngay_kq"))
            .alias("ngay_kq")
        )
        .drop("_t")
    )
    return _truth(chosen, "XML3", "xml4_result_date", line=True)


def _constant(value: pl.Expr) -> _TEXT:
    return lambda _v: value


def break_episode(
    claims: pl.DataFrame, tables: dict[str, pl.DataFrame], rng: np.random.Generator
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """Apply every episode fault chosen for ``claims``.

    Returns:
        The changed tables and one truth row per fault (``ci, table, stt, kind``).
    """
    tables = dict(tables)
    xml1 = tables["XML1"]
    tables["XML1"] = xml1.with_columns(
        claims["tier_idx"].gather(xml1["ci"]).alias("_tier")
    )
    truth = []
    for kind, (table, column, where, text) in _EDITS.items():
        cis = _cis(claims, kind)
        if not len(cis):
            continue
        frame = tables[table]
        if kind == "ratio_mismatch":  # level-1 cards ignore ratios (E5_DRUG_RATIO_V2)
            xml1 = tables["XML1"]
            level_one = xml1.filter(pl.col("ma_the_bhyt").str.slice(2, 1) == "1")["ci"]
            cis = np.setdiff1d(cis, level_one.to_numpy())
        picked = _pick(frame, cis, where, rng)
        frame = _change(frame, picked["_row"], column, text)
        for other, value in _ALSO.get(kind, {}).items():
            frame = _change(frame, picked["_row"], other, _constant(value))
        tables[table] = frame
        truth.append(_truth(picked, table, kind, line=table != "XML1"))
    truth.append(_result_date(claims, tables, rng))
    tables["XML1"] = tables["XML1"].drop("_tier")
    placed = pl.concat(truth)["ci"].to_numpy()
    chosen = np.flatnonzero(claims["fault"].is_in(list(EPISODE_KINDS)).fill_null(False))
    left = np.setdiff1d(chosen, placed)
    if len(left):
        table, column, where, text = _EDITS[FALLBACK]
        picked = _pick(tables[table], left, where, rng)
        tables[table] = _change(tables[table], picked["_row"], column, text)
        truth.append(_truth(picked, table, FALLBACK, line=False))
    return tables, pl.concat(truth)
