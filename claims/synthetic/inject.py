"""Apply the chosen faults to a chunk of synthetic claims and label each one.

Content faults change the numbers before the money is computed, so everything else
stays consistent (a quantity or unit price above the norm, a THANH_TIEN_BV off by more
than 1 đồng with the claim's totals following it). Structural faults change the text of
one element afterwards. Each fault gives one truth row: the claim, the table, the line
(STT, null for the claim itself) and the kind.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from claims.synthetic.tables import datetime_text

ORPHAN_SUFFIX = "X"
"""Appended to an orphan line's MA_LK: it names no claim of the submission."""
TRUTH_SCHEMA = {"ci": pl.Int64, "table": pl.String, "stt": pl.String, "kind": pl.String}


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
