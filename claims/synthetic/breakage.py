"""Structural faults: one element of a claim's text made invalid, as a validator sees it.

Claim-level faults change XML1 (a required element emptied, an impossible admission date,
discharge before admission, a card number that is not 15 characters, a visit type not in
its list); line-level faults change one line of a detail table (an element emptied, a
money value with three decimals or letters, a MA_LK naming no claim, a repeated STT, an
order after discharge). Tables carry a ``ci`` column (the claim's row) while faults are
applied.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from claims.synthetic.inject import (
    ORPHAN_SUFFIX,
    _faulted,
    _set,
    claim_truth,
    one_line_each,
    outside_stay,
    truth_rows,
)
from claims.synthetic.tables import datetime_text

REQUIRED_XML1 = ("ma_benh_chinh", "ho_ten", "ma_khoa", "ket_qua_dtri")
MONEY = ("thanh_tien_bv", "thanh_tien_bh", "t_bhtt", "t_bncct", "t_bntt")
LINES = ("XML2", "XML3", "XML4", "XML5")


def _claim_rows(xml1: pl.DataFrame, cis: np.ndarray) -> np.ndarray:
    """Rows of XML1 (one per claim, sorted by ``ci``) holding claims ``cis``."""
    return np.searchsorted(xml1["ci"].to_numpy(), cis)


def _tables_for(
    tables: dict[str, pl.DataFrame],
    cis: np.ndarray,
    names: tuple[str, ...],
    rng: np.random.Generator,
    *,
    min_rows: int = 1,
) -> np.ndarray:
    """A random table among ``names`` where each claim has at least ``min_rows`` rows."""
    room = np.zeros((len(cis), len(names)))
    for j, name in enumerate(names):
        counts = np.bincount(
            tables[name]["ci"].to_numpy(), minlength=int(cis.max(initial=0)) + 1
        )
        room[:, j] = counts[cis] >= min_rows
    keys = room * (1.0 + rng.random(room.shape))  # 0 where the table is too short
    return (
        np.array(names)[np.argmax(keys, axis=1)]
        if len(cis)
        else np.array([], dtype=str)
    )


def _emptied(
    claims: pl.DataFrame, tables: dict[str, pl.DataFrame], rng: np.random.Generator
) -> pl.DataFrame:
    """``missing_required``: a required XML1 element (60 %) or a line's MA_KHOA emptied."""
    cis = _faulted(claims, "missing_required")
    in_claim = rng.random(len(cis)) < 0.6
    xml1 = tables["XML1"]
    field = rng.integers(0, len(REQUIRED_XML1), len(cis))
    for j, column in enumerate(REQUIRED_XML1):
        rows = _claim_rows(xml1, cis[in_claim & (field == j)])
        xml1 = _set(xml1, column, rows, pl.Series([None] * len(rows), dtype=pl.String))
    tables["XML1"] = xml1
    truth = [claim_truth(cis[in_claim], "missing_required")]
    line_cis = cis[~in_claim]
    where = _tables_for(tables, line_cis, ("XML2", "XML3"), rng)
    for name in ("XML2", "XML3"):
        rows = one_line_each(tables[name], line_cis[where == name], rng)
        nulls = pl.Series([None] * len(rows), dtype=pl.String)
        tables[name] = _set(tables[name], "ma_khoa", rows, nulls)
        truth.append(
            truth_rows(_numbered(tables[name]), rows, name, "missing_required")
        )
    return pl.concat(truth)


def _numbered(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col("stt").cast(pl.Int64, strict=False))


def _claim_level(
    claims: pl.DataFrame, tables: dict[str, pl.DataFrame], rng: np.random.Generator
) -> pl.DataFrame:
    """Impossible NGAY_VAO, NGAY_RA before NGAY_VAO, a short or long card, MA_LOAI_KCB 99."""
    xml1 = tables["XML1"]
    truth = []
    cis = _faulted(claims, "bad_date")
    rows = _claim_rows(xml1, cis)
    vao = xml1["ngay_vao"].gather(rows)
    xml1 = _set(
        xml1, "ngay_vao", rows, vao.str.slice(0, 4) + "1399" + vao.str.slice(8, 4)
    )
    truth.append(claim_truth(cis, "bad_date"))
    cis = _faulted(claims, "discharge_before_admission")
    rows = _claim_rows(xml1, cis)
    early = claims["vao"].to_numpy()[cis] - rng.integers(60, 1441, len(cis))
    text = pl.DataFrame({"m": early}).select(datetime_text(pl.col("m"))).to_series()
    xml1 = _set(xml1, "ngay_ra", rows, text)
    truth.append(claim_truth(cis, "discharge_before_admission"))
    cis = _faulted(claims, "bad_card")
    rows = _claim_rows(xml1, cis)
    card = xml1["ma_the_bhyt"].gather(rows)
    longer = pl.Series(rng.random(len(cis)) < 0.5)
    xml1 = _set(
        xml1, "ma_the_bhyt", rows, (card + "0").zip_with(longer, card.str.slice(0, 14))
    )
    truth.append(claim_truth(cis, "bad_card"))
    cis = _faulted(claims, "bad_code")
    xml1 = _set(
        xml1, "ma_loai_kcb", _claim_rows(xml1, cis), pl.Series(["99"] * len(cis))
    )
    truth.append(claim_truth(cis, "bad_code"))
    tables["XML1"] = xml1
    return pl.concat(truth)


def _bad_money(values: pl.Series, variant: np.ndarray) -> pl.Series:
    """Three decimals, a decimal comma, or a currency sign after the amount."""
    return (
        pl.DataFrame({"v": values, "k": variant})
        .select(
            pl.when(pl.col("k") == 0)
            .then(pl.col("v") + "0")
            .when(pl.col("k") == 1)
            .then(pl.col("v").str.replace(".", ",", literal=True))
            .otherwise(pl.col("v") + "đ")
        )
        .to_series()
    )


def _line_level(
    claims: pl.DataFrame, tables: dict[str, pl.DataFrame], rng: np.random.Generator
) -> pl.DataFrame:
    """Bad money text, orphan lines, repeated STT and orders after discharge."""
    truth = []
    for kind, names, min_rows in (
        ("bad_money", ("XML2", "XML3"), 1),
        ("orphan_line", LINES, 1),
        ("duplicate_stt", LINES, 2),
        ("line_outside_stay", ("XML2", "XML3"), 1),
    ):
        cis = _faulted(claims, kind)
        where = _tables_for(tables, cis, names, rng, min_rows=min_rows)
        for name in names:
            frame = _numbered(tables[name])
            later = pl.col("stt") >= 2 if kind == "duplicate_stt" else None
            rows = one_line_each(frame, cis[where == name], rng, later)
            picked = truth_rows(frame, rows, name, kind)
            if kind == "duplicate_stt":  # the line takes the STT of the one before it
                earlier = (frame["stt"].gather(rows) - 1).cast(pl.String)
                tables[name] = _set(tables[name], "stt", rows, earlier)
                picked = picked.with_columns(earlier.alias("stt"))
            elif kind == "bad_money":
                column = np.array(MONEY)[rng.integers(0, len(MONEY), len(rows))]
                for money in MONEY:
                    sub = rows[column == money]
                    bad = _bad_money(
                        tables[name][money].gather(sub), rng.integers(0, 3, len(sub))
                    )
                    tables[name] = _set(tables[name], money, sub, bad)
            elif kind == "orphan_line":
                orphan = tables[name]["ma_lk"].gather(rows) + ORPHAN_SUFFIX
                tables[name] = _set(tables[name], "ma_lk", rows, orphan)
            else:
                tables[name] = outside_stay(claims, tables[name], rows, rng)
            truth.append(picked)
    return pl.concat(truth)


def break_structure(
    claims: pl.DataFrame, tables: dict[str, pl.DataFrame], rng: np.random.Generator
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """Apply every structural fault chosen for ``claims`` to ``tables``.

    Returns:
        The changed tables and one truth row per fault (``ci, table, stt, kind``).
    """
    tables = dict(tables)
    truth = [
        _emptied(claims, tables, rng),
        _claim_level(claims, tables, rng),
        _line_level(claims, tables, rng),
    ]
    return tables, pl.concat(truth)
