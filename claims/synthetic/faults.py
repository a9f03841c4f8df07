"""Injected faults: their kinds, how they are applied, and the truth rows they leave.

Content faults change the numbers before the money is computed, so everything else
stays consistent (a quantity or unit price above the norm, a THANH_TIEN_BV off by more
than 1 đồng with the claim's totals following it). Structural faults change the text of
one element afterwards, as a validator sees it: claim-level faults change XML1 (a
required element emptied, an impossible admission date, discharge before admission, a
card number that is not 15 characters, a visit type not in its list); line-level faults
change one line of a detail table (an element emptied, a money value with three
decimals or letters, a MA_LK naming no claim, a repeated STT, an order after
discharge). Tables carry a ``ci`` column (the claim's row) while faults are applied.

Each fault gives one truth row: the claim, the table, the line (STT, null for the claim
itself) and the kind. Which claims get which fault is decided with the run's plan
(:func:`claims.synthetic.run.choose_faults`).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from claims.errors import ReasonCode as R
from claims.synthetic.tables import datetime_text

STRUCTURAL: dict[str, R] = {
    "missing_required": R.REQUIRED_MISSING,
    "bad_date": R.BAD_DATETIME,
    "discharge_before_admission": R.DATE_ORDER,
    "bad_money": R.BAD_MONEY,
    "orphan_line": R.LINE_ORPHAN,
    "duplicate_stt": R.LINE_DUPLICATE_KEY,
    "bad_card": R.CARD_INVALID,
    "bad_code": R.CODE_NOT_IN_LIST,
    "line_outside_stay": R.LINE_DATE_OUTSIDE_STAY,
}
"""Structural kinds and the ingest reason code a validator should give for them."""
CONTENT = (
    "arithmetic",
    "price_above_catalog",
    "excessive_quantity",
    "duplicate_claim",
    "overlapping_stay",
    "unlikely_volume",
)
"""Content kinds: the numbers are wrong, the text is valid."""
CLAIM_LEVEL = frozenset(
    {
        "missing_required",
        "bad_date",
        "discharge_before_admission",
        "bad_card",
        "bad_code",
    }
)
"""Structural kinds that apply to the claim itself when their table is XML1."""
TRUTH_COLUMNS = (
    "ma_cskcb",
    "ma_lk",
    "table",
    "stt",
    "kind",
    "expected_reason",
    "level",
    "category",
)
"""Columns of the truth file (:func:`finish_truth`); ``category`` is ``fault`` for a
rule fault and ``anomaly`` for an anomaly (:mod:`claims.synthetic.anomalies`)."""
ORPHAN_SUFFIX = "X"
"""Appended to an orphan line's MA_LK: it names no claim of the submission."""
TRUTH_SCHEMA = {"ci": pl.Int64, "table": pl.String, "stt": pl.String, "kind": pl.String}
"""Truth rows while a chunk is built, keyed by the claim's row ``ci``."""


def _faulted(claims: pl.DataFrame, kind: str) -> np.ndarray:
    return np.flatnonzero((claims["fault"] == kind).fill_null(False).to_numpy())


def one_line_each(
    lines: pl.DataFrame,
    cis: np.ndarray,
    rng: np.random.Generator,
    where: pl.Expr | None = None,
) -> np.ndarray:
    """Row index of one random line (matching ``where``) of each claim in ``cis``."""
    wanted = pl.col("ci").is_in(pl.Series(cis, dtype=pl.Int64).implode())
    frame = lines.with_row_index("row").filter(
        wanted if where is None else wanted & where
    )
    frame = frame.select("row", "ci", pl.Series("r", rng.random(frame.height)))
    first = frame.sort("ci", "r").group_by("ci", maintain_order=True).first()
    return first["row"].to_numpy().astype(np.int64)


def truth_rows(
    lines: pl.DataFrame, rows: np.ndarray, table: str, kind: str
) -> pl.DataFrame:
    """Truth rows for lines ``rows`` of a numbered table."""
    picked = lines[rows]
    return pl.DataFrame(
        {
            "ci": picked["ci"],
            "table": [table] * len(rows),
            "stt": picked["stt"].cast(pl.String),
            "kind": [kind] * len(rows),
        },
        schema=TRUTH_SCHEMA,
    )


def claim_truth(cis: np.ndarray, kind: str) -> pl.DataFrame:
    """Truth rows for claim-level faults (table XML1, no STT)."""
    n = len(cis)
    return pl.DataFrame(
        {"ci": cis, "table": ["XML1"] * n, "stt": [None] * n, "kind": [kind] * n},
        schema=TRUTH_SCHEMA,
    )


def _split_by_table(
    claims: pl.DataFrame, kind: str, drugs: pl.DataFrame, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Faulted claims of ``kind`` whose target line is a drug (first) or a service."""
    cis = _faulted(claims, kind)
    has_drugs = np.isin(cis, drugs["ci"].to_numpy())
    to_drug = has_drugs & (rng.random(len(cis)) < 0.5)
    return cis[to_drug], cis[~to_drug]


def _scale(values: np.ndarray, rows: np.ndarray, percent: np.ndarray) -> np.ndarray:
    """``values[rows]`` times ``percent`` %, rounded half-up to whole đồng (thousandths)."""
    out = values.copy()
    out[rows] = (values[rows] * percent + 50_000) // 100_000 * 1000
    return out


def inflate(
    claims: pl.DataFrame,
    drugs: pl.DataFrame,
    services: pl.DataFrame,
    rng: np.random.Generator,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Excessive quantities (drugs ×8–20) and unit prices 1.6–3× the price list.

    Returns:
        The changed drug and service lines, and the truth rows.
    """
    truth = []
    cis = _faulted(claims, "excessive_quantity")
    rows = one_line_each(drugs, cis, rng, ~pl.col("ma_nhom").is_in([7, 17]))
    qty = drugs["qty"].to_numpy().copy()
    qty[rows] *= rng.integers(8, 21, len(rows))
    drugs = drugs.with_columns(pl.Series("qty", qty))
    truth.append(truth_rows(drugs, rows, "XML2", "excessive_quantity"))
    to_drug, to_service = _split_by_table(claims, "price_above_catalog", drugs, rng)
    rows = one_line_each(drugs, to_drug, rng)
    percent = rng.integers(160, 301, len(rows))
    drugs = drugs.with_columns(
        pl.Series("price", _scale(drugs["price"].to_numpy(), rows, percent))
    )
    truth.append(truth_rows(drugs, rows, "XML2", "price_above_catalog"))
    rows = one_line_each(services, to_service, rng)
    percent = rng.integers(160, 301, len(rows))
    services = services.with_columns(
        pl.Series("price_bh", _scale(services["price_bh"].to_numpy(), rows, percent)),
        pl.Series("price_bv", _scale(services["price_bv"].to_numpy(), rows, percent)),
    )
    truth.append(truth_rows(services, rows, "XML3", "price_above_catalog"))
    return drugs, services, pl.concat(truth)


def miscount(
    claims: pl.DataFrame,
    drugs: pl.DataFrame,
    services: pl.DataFrame,
    rng: np.random.Generator,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """THANH_TIEN_BV of one line 2–5,000 đồng above SO_LUONG × DON_GIA (× TYLE_TT_DV).

    Applied to the line's ``bv`` before the shares and totals, which follow it.
    """
    to_drug, to_service = _split_by_table(claims, "arithmetic", drugs, rng)
    truth = []
    out = []
    for lines, cis, table in ((drugs, to_drug, "XML2"), (services, to_service, "XML3")):
        rows = one_line_each(lines, cis, rng)
        bv = lines["bv"].to_numpy().copy()
        bv[rows] += rng.integers(200, 500_001, len(rows))
        out.append(lines.with_columns(pl.Series("bv", bv)))
        truth.append(truth_rows(lines, rows, table, "arithmetic"))
    return out[0], out[1], pl.concat(truth)


def busy_exam_truth(claims: pl.DataFrame, services: pl.DataFrame) -> pl.DataFrame:
    """Truth rows of ``unlikely_volume``: the exam line of each crowded practitioner."""
    cis = _faulted(claims, "unlikely_volume")
    first_exam = (pl.col("kind") == "exam") & (pl.col("tyle_dv") == 100)
    rows = services.with_row_index("row").filter(pl.col("ci").is_in(cis) & first_exam)
    return truth_rows(
        services, rows["row"].to_numpy().astype(np.int64), "XML3", "unlikely_volume"
    )


def copy_duplicates(
    claims: pl.DataFrame, tables: dict[str, pl.DataFrame]
) -> dict[str, pl.DataFrame]:
    """Replace each ``duplicate_claim`` claim by a copy of its partner under its own MA_LK."""
    cis = _faulted(claims, "duplicate_claim")
    if not len(cis):
        return tables
    source = claims["partner_ci"].to_numpy()[cis]
    mapping = pl.DataFrame(
        {"ci": source, "_to": cis, "_ma_lk": claims["ma_lk"].to_numpy()[cis]}
    )
    out = {}
    for name, frame in tables.items():
        copies = frame.join(
            mapping, on="ci", how="inner", maintain_order="left"
        ).with_columns(pl.col("_to").alias("ci"), pl.col("_ma_lk").alias("ma_lk"))
        if name == "XML1":
            seq = claims["seq"].to_numpy()
            copies = copies.with_columns(
                pl.Series("stt", seq[copies["ci"].to_numpy()]).cast(pl.String)
            )
        kept = frame.filter(~pl.col("ci").is_in(cis))
        out[name] = pl.concat([kept, copies.drop("_to", "_ma_lk")]).sort(
            "ci", maintain_order=True
        )
    return out


def _set(
    frame: pl.DataFrame, column: str, rows: np.ndarray, values: pl.Series
) -> pl.DataFrame:
    series = frame[column].clone()
    series.scatter(rows, values.cast(pl.String))
    return frame.with_columns(series)


def outside_stay(
    claims: pl.DataFrame,
    frame: pl.DataFrame,
    rows: np.ndarray,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """Move the order of lines ``rows`` 1–3 days after discharge (execution, result too)."""
    ra = claims["ra"].to_numpy()[frame["ci"].to_numpy()[rows]]
    yl = ra + rng.integers(1440, 4321, len(rows))
    times = pl.DataFrame({"yl": yl, "th": yl + 5, "kq": yl + 30}).select(
        datetime_text(pl.col(c)).alias(c) for c in ("yl", "th", "kq")
    )
    frame = _set(frame, "ngay_yl", rows, times["yl"])
    frame = _set(frame, "ngay_th_yl", rows, times["th"])
    if "ngay_kq" in frame.columns:
        has_result = frame["ngay_kq"].gather(rows).is_not_null().to_numpy()
        frame = _set(
            frame,
            "ngay_kq",
            rows[has_result],
            times["kq"].filter(pl.Series(has_result)),
        )
    return frame


# ---- structural faults

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


# ---- truth rows of the truth file


def finish_truth(claims: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """Truth rows keyed by facility and MA_LK, with the expected reason and level."""
    reasons = {k: v.value for k, v in STRUCTURAL.items()}
    keys = claims.select(pl.int_range(pl.len()).alias("ci"), "ma_cskcb", "ma_lk")
    return (
        truth.join(keys, on="ci", how="left", maintain_order="left")
        .with_columns(
            pl.col("kind")
            .replace_strict(reasons, default=None, return_dtype=pl.String)
            .alias("expected_reason"),
            pl.when(
                pl.col("kind").is_in(list(CLAIM_LEVEL)) & (pl.col("table") == "XML1")
            )
            .then(pl.lit("claim"))
            .otherwise(pl.lit("line"))
            .alias("level"),
            pl.lit("fault").alias("category"),
        )
        .select(TRUTH_COLUMNS)
    )


def label_kinds(
    truth: pl.DataFrame, kinds: dict[str, tuple[str, str, str]]
) -> pl.DataFrame:
    """The finished truth rows with the expected reason and level of ``kinds``
    (``kind → (reason, table, level)``); other rows as they were."""
    mine = pl.col("kind").is_in(list(kinds))
    out = []
    for name, at in (("expected_reason", 0), ("level", 2)):
        values = {k: v[at] for k, v in kinds.items()}
        mapped = pl.col("kind").replace_strict(
            values, default=None, return_dtype=pl.String
        )
        out.append(pl.when(mine).then(mapped).otherwise(pl.col(name)).alias(name))
    return truth.with_columns(out)
