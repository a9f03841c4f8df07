"""Which synthetic claims get an injected fault, and of what kind.

Exactly ``round(claims × error_rate)`` claims get one fault each. Kinds that need a
partner claim (a duplicate of a claim at the same facility and day; an inpatient stay
overlapping another one at another facility) or a crowd (one practitioner examining
implausibly many patients in a day) are chosen first; what a kind cannot fill is passed
on, and the claim-level kinds at the end can take any claim. Partners stay unfaulted.
"""

from __future__ import annotations

from dataclasses import dataclass

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
CROWD_MIN = 66


def _split(total: int, weights: np.ndarray) -> np.ndarray:
    """``total`` split by ``weights``, largest remainder first (ties in order)."""
    exact = total * weights / weights.sum()
    counts: np.ndarray = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: total - int(counts.sum())]] += 1
    return counts


def fault_counts(total: int) -> dict[str, int]:
    """Faults per kind: ``total`` split by weight (largest remainder), in :data:`ORDER`.

    ``unlikely_volume`` is only injected when its share makes a crowd above a desk's 65
    exams a day (:data:`CROWD_MIN`); below that its share goes to the other kinds, as
    a crowd of ten exams would not be an anomaly.
    """
    weights = np.array([WEIGHT.get(k, 1) for k in ORDER], dtype=np.float64)
    counts = _split(total, weights)
    crowd = ORDER.index("unlikely_volume")
    if counts[crowd] < CROWD_MIN:
        weights[crowd] = 0
        counts = _split(total, weights)
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
    """Up to ``take`` outpatient claims from the busiest facility-days, in crowds.

    A crowd is one practitioner's exams at one facility on one day: between
    :data:`CROWD_MIN` and :data:`CROWD` claims, else it would not be implausible.

    Returns:
        The claims and each one's crowd number.
    """
    frame = (
        plan.select("cid", "fac", "day")
        .filter(pl.Series(eligible))
        .with_columns(
            pl.Series("r", rng.random(int(eligible.sum()))),
            pl.len().over("fac", "day").alias("size"),
        )
        .sort("size", "fac", "day", "r", descending=[True, False, False, False])
        .with_columns(pl.int_range(pl.len()).over("fac", "day").alias("pos"))
        .with_columns((pl.col("pos") // CROWD).alias("block"))
    )
    blocks = frame.group_by("fac", "day", "block", maintain_order=True).len()
    sizes, left = [], take
    for size in blocks[
        "len"
    ].to_list():  # one step per crowd-sized block, not per claim
        used = min(size, left) if min(size, left) >= CROWD_MIN else 0
        sizes.append(used)
        left -= used
    blocks = blocks.with_columns(pl.Series("used", sizes)).filter(pl.col("used") > 0)
    chosen = frame.join(
        blocks.with_row_index("crowd"),
        on=["fac", "day", "block"],
        how="inner",
        maintain_order="left",
    ).filter(pl.col("pos") % CROWD < pl.col("used"))
    return chosen["cid"].to_numpy(), chosen["crowd"].cast(pl.Int64).to_numpy()


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


@dataclass
class _Picks:
    """Faults placed so far: kind index, partner claim and crowd number per claim."""

    kind: np.ndarray
    partner: np.ndarray
    crowd: np.ndarray
    free: np.ndarray

    def place(self, number: int, chosen: np.ndarray) -> None:
        self.kind[chosen] = number
        self.free[chosen] = False


def _place(
    picks: _Picks, name: str, plan: pl.DataFrame, ok: np.ndarray, need: int, left: int,
    rng: np.random.Generator,
) -> np.ndarray:  # fmt: skip
    """Choose up to ``need`` claims for kind ``name`` among ``ok`` (partners reserved)."""
    if name in ("overlapping_stay", "duplicate_claim"):
        group = ["day"] if name == "overlapping_stay" else ["fac", "day"]
        first, second = _pairs(plan, ok, group, rng, apart=name == "overlapping_stay")
        room = int(picks.free.sum()) - left  # a pair uses two claims for one fault
        take = max(0, min(need, len(first), room))
        picks.partner[second[:take]] = first[:take]
        picks.free[first[:take]] = False
        return second[:take]
    if name == "unlikely_volume":
        chosen, crowds = _crowds(plan, ok, need, rng)
        picks.crowd[chosen] = crowds
        return chosen
    pool = np.flatnonzero(ok)
    return np.sort(rng.choice(pool, min(need, len(pool)), replace=False))


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

    Raises:
        ValueError: when ``total`` is negative or above the number of claims.
    """
    n = plan.height
    if not 0 <= total <= n:
        msg = f"cannot inject {total} faults into {n} claims"
        raise ValueError(msg)
    picks = _Picks(
        np.full(n, -1), np.full(n, -1), np.full(n, -1), np.ones(n, dtype=bool)
    )
    masks, wanted = _eligible(plan), fault_counts(total)
    left, carry = total, 0
    for number, name in enumerate(ORDER):  # what a kind cannot fill passes on
        need = wanted[name] + carry
        chosen = _place(picks, name, plan, picks.free & masks[name], need, left, rng)
        picks.place(number, chosen)
        carry, left = need - len(chosen), left - len(chosen)
    if carry:
        msg = f"{carry} faults could not be placed"
        raise ValueError(msg)
    names = pl.Series([*ORDER, None])  # index -1 → null
    return pl.DataFrame(
        {
            "cid": plan["cid"],
            "fault": names.gather(np.where(picks.kind < 0, len(ORDER), picks.kind)),
            "partner": picks.partner,
            "crowd": picks.crowd,
        }
    )
