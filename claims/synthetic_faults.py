"""Which synthetic claims get an injected fault, and of what kind.

Exactly ``round(claims × error_rate)`` claims get one fault each. Kinds that need a
partner claim (a duplicate of a claim at the same facility and day; an inpatient stay
overlapping another one at another facility) or a crowd (one practitioner examining
implausibly many patients in a day) are chosen first; what a kind cannot fill is passed
on, and the claim-level kinds at the end can take any claim. Partners stay unfaulted.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from claims.errors import ReasonCode as R

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
# most constrained first: whatever a kind cannot fill flows to the kinds after it
ORDER = (
    "overlapping_stay",
    "duplicate_claim",
    "unlikely_volume",
    "excessive_quantity",
    "duplicate_stt",
    "arithmetic",
    "price_above_catalog",
    "bad_money",
    "orphan_line",
    "line_outside_stay",
    "missing_required",
    "discharge_before_admission",
    "bad_date",
    "bad_card",
    "bad_code",
)
WEIGHT = {"unlikely_volume": 4}
"""A crowd of exams by one practitioner needs many claims to be implausible."""
CROWD = 120
"""Exams given to one implausibly busy practitioner (a desk allows 65 a day, §4.3 H3)."""


def fault_counts(total: int) -> dict[str, int]:
    """Faults per kind: ``total`` split by weight, largest remainder, in :data:`ORDER`."""
    weights = np.array([WEIGHT.get(k, 1) for k in ORDER], dtype=np.float64)
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: total - int(counts.sum())]] += 1
    return dict(zip(ORDER, counts.tolist(), strict=True))


def _pairs(
    plan: pl.DataFrame,
    eligible: np.ndarray,
    group: list[str],
    rng: np.random.Generator,
    *,
    apart: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint (first, second) pairs of eligible claims within ``group``, shuffled.

    ``apart`` keeps only pairs at two different facilities.
    """
    frame = (
        plan.select("cid", *dict.fromkeys(["fac", *group]))
        .filter(pl.Series(eligible))
        .with_columns(pl.Series("r", rng.random(int(eligible.sum()))))
        .sort(*group, "r")
        .with_columns(pl.int_range(pl.len()).over(group).alias("pos"))
    )
    first = frame.filter(pl.col("pos") % 2 == 0)
    second = frame.filter(pl.col("pos") % 2 == 1).with_columns(pl.col("pos") - 1)
    pairs = first.join(second, on=[*group, "pos"], suffix="_b").sort("cid")
    if apart:
        pairs = pairs.filter(pl.col("fac") != pl.col("fac_b"))
    order = rng.permutation(pairs.height)
    return pairs["cid"].to_numpy()[order], pairs["cid_b"].to_numpy()[order]


def _crowds(
    plan: pl.DataFrame, eligible: np.ndarray, take: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``take`` outpatient claims from the busiest facility-days, in crowds of ≤ CROWD.

    Returns the claims and each one's crowd number (one practitioner per crowd).
    """
    frame = (
        plan.select("cid", "fac", "day")
        .filter(pl.Series(eligible))
        .with_columns(
            pl.Series("r", rng.random(int(eligible.sum()))),
            pl.len().over("fac", "day").alias("size"),
        )
        .sort("size", "fac", "day", "r", descending=[True, False, False, False])
        .head(take)
        .with_columns(
            (pl.int_range(pl.len()).over("fac", "day") // CROWD).alias("block")
        )
    )
    crowd = frame.select(pl.struct("fac", "day", "block").rank("dense") - 1).to_series()
    return frame["cid"].to_numpy(), crowd.to_numpy().astype(np.int64)


def _eligible(plan: pl.DataFrame) -> dict[str, np.ndarray]:
    """Claims each kind can be injected into (before availability)."""
    xml3 = ["n_exam", "n_lab", "n_img", "n_func", "n_proc", "n_surg", "n_bed", "n_sup"]
    lines3 = plan.select(pl.sum_horizontal(xml3)).to_series().to_numpy()
    drugs = plan["n_drug"].to_numpy()
    everyone = np.ones(plan.height, dtype=bool)
    masks = dict.fromkeys(ORDER, everyone)
    masks["overlapping_stay"] = (
        (plan["loai"] == "03") & (plan["los"] >= 1) & (plan["age"] >= 16)
    ).to_numpy()
    masks["unlikely_volume"] = ~plan["inpatient"].to_numpy()
    masks["excessive_quantity"] = drugs > 0
    masks["duplicate_stt"] = (lines3 >= 2) | (drugs + plan["n_blood"].to_numpy() >= 2)
    return masks


def choose_faults(
    plan: pl.DataFrame, total: int, rng: np.random.Generator
) -> pl.DataFrame:
    """Pick the faulty claims.

    Args:
        plan: the claims (``cid`` 0..n-1, facility, day, visit type, line counts, age).
        total: number of faulty claims, at most the number of claims.
        rng: the run's random generator.

    Returns:
        ``cid, fault, partner, crowd`` per claim: the kind (null when clean), the claim
        it duplicates or overlaps (-1) and its practitioner crowd (-1).
    """
    n = plan.height
    if not 0 <= total <= n:
        msg = f"cannot inject {total} faults into {n} claims"
        raise ValueError(msg)
    kind = np.full(n, -1)
    partner = np.full(n, -1)
    crowd = np.full(n, -1)
    free = np.ones(n, dtype=bool)
    masks = _eligible(plan)
    left, carry = total, 0
    for number, name in enumerate(ORDER):
        need = fault_counts(total)[name] + carry
        ok = free & masks[name]
        if name in ("overlapping_stay", "duplicate_claim"):
            group = ["day"] if name == "overlapping_stay" else ["fac", "day"]
            first, second = _pairs(
                plan, ok, group, rng, apart=name == "overlapping_stay"
            )
            room = int(free.sum()) - left  # a pair uses two claims for one fault
            take = max(0, min(need, len(first), room))
            chosen = second[:take]
            partner[chosen] = first[:take]
            free[first[:take]] = False
        elif name == "unlikely_volume":
            chosen, crowds = _crowds(plan, ok, need, rng)
            crowd[chosen] = crowds
        else:
            pool = np.flatnonzero(ok)
            chosen = np.sort(rng.choice(pool, min(need, len(pool)), replace=False))
        kind[chosen] = number
        free[chosen] = False
        carry = need - len(chosen)
        left -= len(chosen)
    if carry:
        msg = f"{carry} faults could not be placed"
        raise ValueError(msg)
    names = pl.Series([*ORDER, None])  # index -1 → null
    return pl.DataFrame(
        {
            "cid": plan["cid"],
            "fault": names.gather(np.where(kind < 0, len(ORDER), kind)),
            "partner": partner,
            "crowd": crowd,
        }
    )
