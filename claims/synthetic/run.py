"""A synthetic run: the plan of every claim, then the tables, one chunk at a time.

The plan (one row per claim: facility, visit, person, route, fault) is made once with
the run's generator. Tables are then built per chunk of whole facilities, each chunk
with its own generator spawned from the seed, so memory stays bounded for a national
day and the result does not depend on how the caller consumes the chunks.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from catalogs.loader import load_versions
from claims.synthetic.clinical import add_clinical
from claims.synthetic.faults import STRUCTURAL, choose_faults
from claims.synthetic.people import draw_facilities, make_people
from claims.synthetic.plan import plan_visits, staff
from claims.synthetic.route import assign_routes
from claims.synthetic.tables import date_text

CHUNK_CLAIMS = 50_000
"""Claims per chunk (whole facilities, so a chunk may hold more)."""
CARD_CHANGE_SHARE = 0.01
CLAIM_LEVEL = frozenset(
    {
        "missing_required",
        "bad_date",
        "discharge_before_admission",
        "bad_card",
        "bad_code",
    }
)
TRUTH_COLUMNS = (
    "ma_cskcb",
    "ma_lk",
    "table",
    "stt",
    "kind",
    "expected_reason",
    "level",
)
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


def plan_run(
    *,
    claims: int,
    facilities: int,
    day: date,
    days: int,
    seed: int,
    error_rate: float,
    catalog_dir: Path | None,
) -> Run:
    """Plan every claim of the run (see :func:`claims.synthetic.generate.generate_day`)."""
    if claims < 1 or facilities < 1 or days < 1 or not 0 <= error_rate <= 1:
        msg = "claims, facilities and days must be ≥ 1 and error_rate within [0, 1]"
        raise ValueError(msg)
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
    doctors = staff(drawn, visits)
    plan = add_clinical(visits, people, doctors, rng).with_columns(people["age"])
    plan = plan.hstack(choose_faults(plan, round(claims * error_rate), rng).drop("cid"))
    # an overlapping stay is the partner's person, treated at another facility
    overlap = (plan["fault"] == "overlapping_stay").fill_null(False).to_numpy()
    pid = np.where(overlap, plan["partner"].to_numpy(), plan["cid"].to_numpy())
    person = people.drop("age")[pid].with_columns(pl.Series("pid", pid))
    plan = assign_routes(plan.hstack(person), higher, rng)
    hot_base = int((doctors["doc_base"] + doctors["n_doc"]).to_numpy().max()) + 1
    plan = _identifiers(_cards(plan, rng), hot_base)
    chunks = _chunks(plan["fac"].to_numpy())
    seeds = np.random.SeedSequence(seed).spawn(len(chunks))
    rows = catalog.filter(pl.col("ma_cskcb").is_in(drawn["ma_cskcb"].implode()))
    return Run(rows.sort("ma_cskcb"), plan, day_list, chunks, seeds)


def _cards(plan: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Card text; ~1 % of claims change card mid-stay (two cards, aligned date lists).

    Only clean inpatient stays of two days or more change card, and never a claim that
    a fault refers to, so the card lists never mask or fake an injected fault.
    """
    n = plan.height
    partners = plan["partner"].to_numpy()
    used = np.zeros(n, dtype=bool)
    used[partners[partners >= 0]] = True
    eligible = (
        plan["fault"].is_null().to_numpy()
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


def _identifiers(plan: pl.DataFrame, hot_base: int) -> pl.DataFrame:
    """MA_LK, MA_BN and the attending practitioner's certificate serial."""
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
        .then(hot_base + pl.col("crowd"))
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
        )
        .select(TRUTH_COLUMNS)
    )
