"""A synthetic run: the plan of every claim, and which claims get a fault.

The plan (one row per claim: facility, visit, person, route, fault) is made once with
the run's generator. Tables are then built per chunk of whole facilities
(:func:`claims.synthetic.generate.build_chunk`), each chunk with its own generator
spawned from the seed, so memory stays bounded for a national day and the result does
not depend on how the caller consumes the chunks.

Exactly ``round(claims × error_rate)`` claims get one fault each. Kinds that need a
partner claim (a duplicate of a claim at the same facility and day; an inpatient stay
overlapping another one at another facility) or a crowd (one practitioner examining
implausibly many patients in a day) are chosen first; what a kind cannot fill is passed
on, and the claim-level kinds at the end can take any claim. Partners stay unfaulted.

Then exactly ``round(claims × anomaly_rate)`` other claims get one anomaly each
(:func:`claims.synthetic.anomalies.choose_anomalies`, from a generator of their own so
that a run without anomalies keeps its bytes).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from catalogs.loader import load_versions
from claims.synthetic.anomalies import anomaly_rng, choose_anomalies
from claims.synthetic.clinical import add_clinical
from claims.synthetic.faults_documents import DOCUMENT_KINDS
from claims.synthetic.faults_documents import STAYS as DOCUMENT_STAYS
from claims.synthetic.faults_documents import eligible as documents_eligible
from claims.synthetic.faults_episode import EPISODE_KINDS
from claims.synthetic.faults_registry import (
    REGISTRY_KINDS,
    bed_pairs,
    registry_eligible,
)
from claims.synthetic.people import draw_facilities, make_people
from claims.synthetic.plan import assign_routes, plan_visits, staff
from claims.synthetic.tables import date_text

CHUNK_CLAIMS = 50_000
"""Claims per chunk (whole facilities, so a chunk may hold more)."""
CARD_CHANGE_SHARE = 0.01
# a worker's card changes to a household card when the job ends (same benefit level)
NEXT_CARD = {"DN": "GD", "HC": "GD", "HX": "GD", "TN": "GD"}


@dataclass(frozen=True)
class Run:
    """Everything decided before the tables are built."""

    facilities: pl.DataFrame
    claims: pl.DataFrame
    days: list[date]
    chunks: list[tuple[int, int]]
    seeds: list[np.random.SeedSequence]


def open_facilities(catalog: pl.DataFrame, first: date, last: date) -> pl.DataFrame:
    """Catalog rows open over ``[first, last]``, sorted by province and code."""
    lo, hi = pl.lit(first), pl.lit(last)
    return catalog.filter(
        (pl.col("valid_from") <= lo)
        & (pl.col("valid_to").is_null() | (pl.col("valid_to") >= hi))
    ).sort("ma_tinh", "ma_cskcb")


def check_rates(
    error_rate: float,
    anomaly_rate: float,
    names: tuple[str, str] = ("error_rate", "anomaly_rate"),
) -> None:
    """Both rates within [0, 1] and their sum at most 1 (a claim gets one or none).

    Args:
        error_rate: share of claims with a fault.
        anomaly_rate: share of claims with an anomaly.
        names: how the two rates are called in the message (CLI option names).

    Raises:
        ValueError: naming the bad rate, its value and the bound it breaks.
    """
    for name, rate in zip(names, (error_rate, anomaly_rate), strict=True):
        if not 0 <= rate <= 1:
            msg = f"{name} must be within [0, 1], not {rate}"
            raise ValueError(msg)
    if error_rate + anomaly_rate > 1:
        msg = (
            f"{names[0]} + {names[1]} must be at most 1 (a claim gets a fault or an "
            f"anomaly, not both), not {error_rate} + {anomaly_rate}: lower one of them"
        )
        raise ValueError(msg)


def plan_run(
    *,
    claims: int,
    facilities: int,
    day: date,
    days: int,
    seed: int,
    error_rate: float,
    catalog_dir: Path | None,
    anomaly_rate: float = 0.0,
) -> Run:
    """Plan every claim of the run (see :func:`claims.synthetic.generate.generate_day`)."""
    if claims < 1 or facilities < 1 or days < 1 or not 0 <= error_rate <= 1:
        msg = "claims, facilities and days must be ≥ 1 and error_rate within [0, 1]"
        raise ValueError(msg)
    check_rates(error_rate, anomaly_rate)
    rng = np.random.default_rng(seed)
    catalog = load_versions("facilities", catalog_dir)[-1].rows
    day_list = [day - timedelta(days=i) for i in reversed(range(days))]
    first, last = day_list[0], day_list[-1]
    drawn = draw_facilities(catalog, facilities, first, last, rng)
    visits = plan_visits(drawn, claims, day_list, rng)
    open_ = open_facilities(catalog, first, last)
    primary = open_.filter(pl.col("tier").is_in(["commune", "district"]))
    higher = open_.filter(pl.col("tier").is_in(["provincial", "central"]))
    people = make_people(
        visits.select("ma_cskcb", "ma_tinh", "tier"),
        primary,
        first=first,
        last=last,
        rng=rng,
    )
    doctors = staff(drawn, catalog)
    plan = add_clinical(visits, people, doctors, rng).with_columns(people["age"])
    plan = plan.hstack(choose_faults(plan, round(claims * error_rate), rng).drop("cid"))
    plan = choose_anomalies(plan, round(claims * anomaly_rate), anomaly_rng(seed))
    # an overlapping stay is the partner's person, treated at another facility; an
    # anomaly's later claim (split episode, repeated visit, exam during a stay) is the
    # person of the claim it refers to
    overlap = (plan["fault"] == "overlapping_stay").fill_null(False).to_numpy()
    pid = np.where(overlap, plan["partner"].to_numpy(), plan["cid"].to_numpy())
    episode = plan["a_partner"].to_numpy()
    pid = np.where(episode >= 0, episode, pid)
    person = people.drop("age")[pid].with_columns(pl.Series("pid", pid))
    plan = assign_routes(plan.hstack(person), higher, rng)
    plan = _identifiers(_cards(plan, rng))
    chunks = _chunks(plan["fac"].to_numpy())
    seeds = np.random.SeedSequence(seed).spawn(len(chunks))
    rows = catalog.filter(pl.col("ma_cskcb").is_in(drawn["ma_cskcb"].implode()))
    return Run(rows.sort("ma_cskcb"), plan, day_list, chunks, seeds)


def _cards(plan: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Card text; ~1 % of claims change card mid-stay (two cards, aligned date lists).

    Only clean inpatient stays of two days or more change card, and never a claim that
    a fault refers to nor an anomalous one, so the card lists never mask or fake an
    injected fault or anomaly.
    """
    n = plan.height
    partners = plan["partner"].to_numpy()
    used = np.zeros(n, dtype=bool)
    used[partners[partners >= 0]] = True
    eligible = (
        plan["fault"].is_null().to_numpy()
        & plan["anomaly"].is_null().to_numpy()
        & ~used
        & (plan["loai"] == "03").to_numpy()
        & (plan["los"] >= 2).to_numpy()
    )
    pool = np.flatnonzero(eligible)
    chosen = np.zeros(n, dtype=bool)
    chosen[
        rng.choice(pool, min(len(pool), round(CARD_CHANGE_SHARE * n)), replace=False)
    ] = True
    vao_day = plan["vao"].to_numpy() // 1440
    change = vao_day + 1 + (rng.random(n) * plan["los"].to_numpy()).astype(np.int64)
    card = pl.col("ma_the_bhyt")
    second = pl.concat_str(pl.col("obj").replace(NEXT_CARD), card.str.slice(2))
    tu, den = date_text(pl.col("gt_tu")), date_text(pl.col("gt_den"))
    split = pl.col("_change")
    return (
        plan.with_columns(pl.Series("_change", chosen), pl.Series("_day", change))
        .with_columns(
            pl.when(split)
            .then(pl.concat_str(card, pl.lit(";"), second))
            .otherwise(card)
            .alias("ma_the_bhyt"),
            pl.when(split)
            .then(pl.concat_str("ma_dkbd", pl.lit(";"), "ma_dkbd"))
            .otherwise("ma_dkbd")
            .alias("ma_dkbd"),
            pl.when(split)
            .then(pl.concat_str(tu, pl.lit(";"), date_text(pl.col("_day"))))
            .otherwise(tu)
            .alias("gt_the_tu"),
            pl.when(split)
            .then(pl.concat_str(date_text(pl.col("_day") - 1), pl.lit(";"), den))
            .otherwise(den)
            .alias("gt_the_den"),
        )
        .drop("_change", "_day")
    )


def _identifiers(plan: pl.DataFrame) -> pl.DataFrame:
    """MA_LK, MA_BN and the attending practitioner's certificate serial.

    A crowd's exams are given by the facility's spare registered practitioner
    (:data:`claims.synthetic.registry.RESERVE`), whom no other claim names.
    """
    crowded = pl.col("crowd") >= 0
    return plan.with_columns(
        pl.concat_str(
            "ma_cskcb",
            date_text(pl.col("day")),
            pl.col("seq").cast(pl.String).str.zfill(6),
        ).alias("ma_lk"),
        pl.concat_str(
            pl.lit("BN"),
            (pl.col("fac_num") % 1000).cast(pl.String).str.zfill(3),
            pl.col("pid").cast(pl.String).str.zfill(8),
        ).alias("ma_bn"),
        pl.when(crowded)
        .then(pl.col("doc_base") + pl.col("n_doc"))
        .otherwise(pl.col("doc_base") + pl.col("doctor"))
        .alias("doc_serial"),
    )


def _chunks(fac: np.ndarray) -> list[tuple[int, int]]:
    """Row ranges of whole facilities holding about :data:`CHUNK_CLAIMS` claims each."""
    ends = np.flatnonzero(np.diff(fac)) + 1
    bounds = [0]
    for end in [*ends.tolist(), len(fac)]:  # one step per facility, not per claim
        if end - bounds[-1] >= CHUNK_CLAIMS or end == len(fac):
            bounds.append(end)
    return list(itertools.pairwise(bounds))


# ---- which claims get a fault

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
    # episode checks (claims/synthetic/faults_episode.py)
    "xml4_result_date",
    "half_bed_day",
    "not_done_billed",
    "tender_malformed",
    "dosage_mismatch",
    "long_prescription",
    "other_sources_parts",
    "programme_line_paid",
    "tender_missing",
    "dosage_unparsed",
    "ratio_mismatch",
    "bed_line_quantity",
    "t_trantt_not_supply",
    # registry and code-pair checks (claims/synthetic/faults_registry.py)
    *REGISTRY_KINDS,
    "missing_required",
    "discharge_before_admission",
    "bad_date",
    "bad_card",
    "bad_code",
    "card_province",
    "dkbd_unknown",
    "route_registered_elsewhere",
    "referral_without_paper",
    "temporary_dkbd",
    "off_route_tier",
    # document checks (claims/synthetic/faults_documents.py): stays first
    *sorted(DOCUMENT_KINDS, key=lambda k: k not in DOCUMENT_STAYS),
)
WEIGHT = (
    dict.fromkeys(EPISODE_KINDS, 0.5)
    | dict.fromkeys(REGISTRY_KINDS, 0.5)
    | dict.fromkeys(DOCUMENT_KINDS, 0.25)
)
"""Kinds weighted other than 1 (``unlikely_volume`` takes :data:`CROWD_SHARE`)."""
CROWD_SHARE = 2 / 9
"""The share of faults given to crowds of exams (``unlikely_volume``) however many
kinds there are: a crowd of one practitioner needs many claims to be implausible."""
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


def _shares(total: int, weights: np.ndarray) -> np.ndarray:
    """One fault for every kind of positive weight when ``total`` allows, then the
    rest by weight (:func:`_split`)."""
    base = (weights > 0).astype(np.int64)
    if total < base.sum():
        return _split(total, weights)
    counts: np.ndarray = base + _split(total - int(base.sum()), weights)
    return counts


def fault_counts(total: int) -> dict[str, int]:
    """Faults per kind, in :data:`ORDER`: one of each kind when ``total`` is at least
    the number of kinds, the rest split by weight (largest remainder).

    ``unlikely_volume`` is only injected when its share makes a crowd above a desk's 65
    exams a day (:data:`CROWD_MIN`); below that its share goes to the other kinds, as
    a crowd of ten exams would not be an anomaly.
    """
    weights = np.array([WEIGHT.get(k, 1) for k in ORDER], dtype=np.float64)
    crowd = ORDER.index("unlikely_volume")
    weights[crowd] = 0
    weights[crowd] = CROWD_SHARE / (1 - CROWD_SHARE) * weights.sum()
    crowded = int(_split(total, weights)[crowd])
    crowded = crowded if crowded >= CROWD_MIN else 0
    weights[crowd] = 0
    counts = _shares(total - crowded, weights)
    counts[crowd] = crowded
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
    for kind in ("tender_malformed", "dosage_mismatch", "long_prescription"):
        masks[kind] = drugs > 0
    for kind in ("tender_missing", "dosage_unparsed", "ratio_mismatch"):
        masks[kind] = drugs > 0
    masks["other_sources_parts"] = masks["programme_line_paid"] = drugs > 0
    masks["half_bed_day"] = masks["bed_line_quantity"] = plan["n_bed"].to_numpy() > 0
    masks["t_trantt_not_supply"] = plan["n_exam"].to_numpy() > 0
    masks["not_done_billed"] = plan["n_exam"].to_numpy() > 0
    masks["xml4_result_date"] = plan["n_lab"].to_numpy() > 0
    masks["duplicate_stt"] = (lines3 >= 2) | (drugs + plan["n_blood"].to_numpy() >= 2)
    masks |= registry_eligible(plan)
    masks |= documents_eligible(plan)
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
    if name in ("overlapping_stay", "duplicate_claim", "shared_bed"):
        group = ["day"] if name == "overlapping_stay" else ["fac", "day"]
        first, second = (
            bed_pairs(plan, ok, rng)
            if name == "shared_bed"
            else _pairs(plan, ok, group, rng, apart=name == "overlapping_stay")
        )
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
    # one of each kind first, so a kind whose few eligible claims an earlier kind
    # would take is still injected; then the rest
    first = {k: min(n, 1) if k != "unlikely_volume" else 0 for k, n in wanted.items()}
    left, carry = total, 0
    for share in (first, {k: n - first[k] for k, n in wanted.items()}):
        for number, name in enumerate(ORDER):  # what a kind cannot fill passes on
            need = share[name] + carry
            ok = picks.free & masks[name]
            chosen = _place(picks, name, plan, ok, need, left, rng)
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
