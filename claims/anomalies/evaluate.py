"""Scores against a truth frame: what reviewing the riskiest claims would find.

The truth names claims (``ma_cskcb, ma_lk``) and their ``kind``; with a ``category``
column only the rows whose category is ``anomaly`` count (rule faults are found by the
rules, not the scores). A claim counts once overall, and once in each of its kinds.
Truth claims the scores do not hold (another period) are left out and counted.

The reviewed claims are the top ``capacity`` share of the scored claims (⌈capacity ×
n⌉ of them) by risk, ties broken by the statistic, then the claimed T_BHTT (more money
first), then MA_CSKCB and MA_LK: the same claims whatever the rows' order.

- precision: reviewed anomalies / reviewed claims; per kind, the reviewed claims of
  that kind / reviewed claims (the kind's share of the review, so the kinds' add up
  to the overall when a claim has one kind);
- recall: anomalies reviewed / anomalies;
- money_recall: claimed T_BHTT of the anomalies reviewed / of all the anomalies.
"""

from __future__ import annotations

import math
from typing import TypedDict

import polars as pl

from claims.errors import ConfigError

TRUTH_COLUMNS = ("ma_cskcb", "ma_lk", "kind")
ANOMALY = "anomaly"


class Measures(TypedDict):
    """What reviewing finds, overall or for one kind."""

    precision: float
    recall: float
    money_recall: float
    claims: int
    found: int


class Evaluation(TypedDict):
    """``overall`` and per ``kinds``, with the review's size."""

    overall: Measures
    kinds: dict[str, Measures]
    capacity: float
    reviewed: int
    scored: int
    truth_unmatched: int


def anomalies_of(truth: pl.DataFrame) -> pl.DataFrame:
    """``ma_cskcb, ma_lk, kind``: the truth's anomaly rows, one per claim and kind.

    Raises:
        ConfigError: a column of :data:`TRUTH_COLUMNS` is missing.
    """
    missing = [c for c in TRUTH_COLUMNS if c not in truth.columns]
    if missing:
        msg = (
            f"the truth file lacks the column(s) {', '.join(missing)}; it needs "
            f"{', '.join(TRUTH_COLUMNS)} (and optionally category)"
        )
        raise ConfigError(msg)
    rows = truth
    if "category" in truth.columns:
        rows = rows.filter(pl.col("category").cast(pl.String) == ANOMALY)
    return rows.select(pl.col(c).cast(pl.String) for c in TRUTH_COLUMNS).unique()


def reviewed(scores: pl.DataFrame, capacity: float) -> pl.DataFrame:
    """The ``ma_cskcb, ma_lk`` of the top ``capacity`` share of ``scores`` by risk.

    Raises:
        ValueError: ``capacity`` is not in (0, 1].
    """
    if not 0 < capacity <= 1:
        msg = f"the review capacity is a share of the claims in (0, 1], not {capacity}"
        raise ValueError(msg)
    k = math.ceil(capacity * scores.height - 1e-9)
    return (
        scores.sort(
            "risk",
            "statistic",
            "t_bhtt",
            "ma_cskcb",
            "ma_lk",
            descending=[True, True, True, False, False],
        )
        .head(k)
        .select("ma_cskcb", "ma_lk")
    )


def evaluate(truth: pl.DataFrame, scores: pl.DataFrame, capacity: float) -> Evaluation:
    """Precision, recall and money recall of reviewing the top ``capacity`` share.

    ``scores``: ``ma_cskcb, ma_lk, risk, statistic, t_bhtt``, one row per claim.

    Raises:
        ConfigError: the truth lacks a column, or names none of the scored claims.
    """
    anomalies = anomalies_of(truth)
    money = scores.select("ma_cskcb", "ma_lk", "t_bhtt")
    matched = anomalies.join(money, on=["ma_cskcb", "ma_lk"])
    truth_claims = anomalies.select("ma_cskcb", "ma_lk").unique()
    unmatched = (
        truth_claims.height - matched.select("ma_cskcb", "ma_lk").unique().height
    )
    if truth_claims.height and matched.height == 0:
        msg = (
            f"the truth file names {truth_claims.height} anomalous claim(s), none of "
            "them among the scored claims; check --period and that the month was run "
            "and scored (`giamdinh anomalies run`)"
        )
        raise ConfigError(msg)
    picked = reviewed(scores, capacity).with_columns(pl.lit(True).alias("hit"))
    flagged = matched.join(picked, on=["ma_cskcb", "ma_lk"], how="left").with_columns(
        pl.col("hit").fill_null(False)
    )
    overall = flagged.unique(["ma_cskcb", "ma_lk"]).select(_measures(picked.height))
    kinds = flagged.group_by("kind").agg(_measures(picked.height)).sort("kind")
    return {
        "overall": _as_measures(overall.row(0, named=True)),
        "kinds": {
            str(row["kind"]): _as_measures(row) for row in kinds.iter_rows(named=True)
        },
        "capacity": capacity,
        "reviewed": picked.height,
        "scored": scores.height,
        "truth_unmatched": unmatched,
    }


def _measures(reviewed_n: int) -> list[pl.Expr]:
    hit = pl.col("hit")
    total_money = pl.col("t_bhtt").sum().cast(pl.Float64)
    found_money = pl.col("t_bhtt").filter(hit).sum().cast(pl.Float64)
    return [
        (hit.sum() / max(reviewed_n, 1)).alias("precision"),
        (hit.sum() / pl.max_horizontal(pl.len(), 1)).alias("recall"),
        pl.when(total_money > 0)
        .then(found_money / total_money)
        .otherwise(hit.mean().fill_null(0.0))
        .alias("money_recall"),
        pl.len().alias("claims"),
        hit.sum().alias("found"),
    ]


def _as_measures(row: dict[str, object]) -> Measures:
    return {
        "precision": float(row["precision"] or 0.0),  # type: ignore[arg-type]
        "recall": float(row["recall"] or 0.0),  # type: ignore[arg-type]
        "money_recall": float(row["money_recall"] or 0.0),  # type: ignore[arg-type]
        "claims": int(row["claims"] or 0),  # type: ignore[call-overload]
        "found": int(row["found"] or 0),  # type: ignore[call-overload]
    }
