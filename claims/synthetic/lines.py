"""Detail lines of synthetic claims: drugs (XML2) and services and supplies (XML3).

Lines are built per kind from the plan's counts with ``np.repeat`` (no loop per claim),
then numbered 1..n per claim in time order. Every time lies inside its stay: an order
(NGAY_YL) at least a margin before discharge, execution and result after it, the result
before discharge. Outpatient claims get distinct items; inpatients repeat everyday
items across days. Prices come from :func:`claims.synthetic.items.unit_price`.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from claims.synthetic.items import drug_items, unit_price, xml3_items

MINUTES = 1440
# items an inpatient may get again on later days (HbA1c and the like are not repeated)
REPEATABLE_LABS = ("CBC", "GLU", "CRE", "URE", "ALT", "AST", "ELEC", "CRP", "URINE")
DRESSING = "03.0076.0210"  # not payable for inpatients (§4.3 F13)
IMPLANTS = {"53.03": "N07.01.050", "79.36": "N06.04.020"}
SUTURE = "N05.03.030"


def expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row ``ci`` repeated ``counts[ci]`` times, and each copy's position ``k``."""
    ci = np.repeat(np.arange(len(counts)), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    return ci, np.arange(len(ci)) - first


def line_times(
    vao: np.ndarray, ra: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order, execution and result minutes inside ``[vao, ra]``, result after execution."""
    span = ra - vao
    margin = np.minimum(180, span // 2)
    n = len(vao)
    yl = vao + (rng.random(n) * (span - margin)).astype(np.int64)
    th = yl + (rng.random(n) * (margin // 3)).astype(np.int64)
    kq = th + margin // 3 + (rng.random(n) * (margin // 3)).astype(np.int64)
    return yl, th, kq


def _claim(claims: pl.DataFrame, column: str, ci: np.ndarray) -> np.ndarray:
    values: np.ndarray = claims[column].to_numpy()[ci]
    return values


def _in_tier(
    pool: pl.DataFrame, tier: np.ndarray, start: np.ndarray, k: np.ndarray
) -> np.ndarray:
    """Item ids from ``pool`` (sorted by ``min_tier``) a facility of ``tier`` performs.

    ``start + k`` walks the allowed items, so positions ``k`` of one claim are distinct.
    """
    allowed = np.searchsorted(pool["min_tier"].to_numpy(), np.arange(4), side="right")
    size = np.maximum(allowed[tier], 1)
    items: np.ndarray = pool["item_id"].to_numpy()[(start + k) % size]
    return items


def _pool(kind: str, expr: pl.Expr | None = None) -> pl.DataFrame:
    items = xml3_items().filter(pl.col("kind") == kind)
    if expr is not None:
        items = items.filter(expr)
    return items.sort("min_tier", "item_id")


def drug_lines(claims: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """XML2 lines: ``ci, item_id, dose, per_day, days, qty`` and times ``yl, th``.

    Outpatients get distinct tablets for 5–10 days (or the chronic visit's 28–30);
    inpatients get one day's supply per line, injections and infusions included.
    Quantity = dose × times a day × days, so LIEU_DUNG adds up (§4.3 E10).
    """
    items = drug_items()
    oral = items.filter(pl.col("oral"))["item_id"].to_numpy()
    ward = items.filter(~pl.col("blood"))["item_id"].to_numpy()
    blood = items.filter(pl.col("blood"))["item_id"].to_numpy()
    ci, k = expand(claims["n_drug"].to_numpy())
    n = len(ci)
    inpatient = _claim(claims, "inpatient", ci)
    start = rng.integers(0, len(oral), claims.height)[ci]
    item = np.where(
        inpatient, ward[rng.integers(0, len(ward), n)], oral[(start + k) % len(oral)]
    )
    is_oral = np.isin(item, oral)
    dose = np.where(is_oral, rng.choice([500, 1000, 1000, 1000, 2000], n), 1000)
    per_day = np.where(is_oral, rng.integers(1, 4, n), rng.integers(1, 3, n))
    chronic = _claim(claims, "drug_days", ci)
    days = np.where(
        inpatient, 1, np.where(chronic > 0, chronic, rng.choice([5, 7, 10], n))
    )
    bi, _ = expand(claims["n_blood"].to_numpy())
    frame = pl.DataFrame(
        {
            "ci": np.concatenate([ci, bi]),
            "item_id": np.concatenate(
                [item, blood[rng.integers(0, len(blood), len(bi))]]
            ),
            "dose": np.concatenate([dose, np.full(len(bi), 1000)]),
            "per_day": np.concatenate([per_day, np.ones(len(bi), dtype=np.int64)]),
            "days": np.concatenate([days, np.ones(len(bi), dtype=np.int64)]),
        }
    ).with_columns((pl.col("dose") * pl.col("per_day") * pl.col("days")).alias("qty"))
    index = frame["ci"].to_numpy()
    yl, th, _ = line_times(
        _claim(claims, "vao", index), _claim(claims, "ra", index), rng
    )
    return _priced(frame.with_columns(yl=yl, th=th), claims, "drug")


def _priced(
    frame: pl.DataFrame, claims: pl.DataFrame, kind: str | None
) -> pl.DataFrame:
    """Attach the facility's unit price (thousandths of a đồng) to each line."""
    catalog = drug_items() if kind == "drug" else xml3_items()
    frame = frame.join(
        catalog.select("item_id", "kind", "base_milli", "tyle_tt_bh", "ma_nhom"),
        on="item_id",
        how="left",
        maintain_order="left",
    )
    ci = frame["ci"].to_numpy()
    price = unit_price(
        frame["kind"].to_numpy(),
        frame["base_milli"].to_numpy(),
        _claim(claims, "fac_num", ci),
        frame["item_id"].to_numpy(),
        _claim(claims, "tier_idx", ci),
    )
    return frame.with_columns(pl.Series("price", price)).drop("base_milli")


def number_lines(frame: pl.DataFrame) -> pl.DataFrame:
    """Sort lines by claim and order time, and number them 1..n per claim (STT)."""
    return frame.sort("ci", "yl", "item_id", "th", maintain_order=True).with_columns(
        (pl.int_range(pl.len()).over("ci") + 1).alias("stt")
    )
