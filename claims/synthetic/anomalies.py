"""Injected anomalies: claims plausible one at a time, far off in aggregate.

Rule faults (:mod:`claims.synthetic.faults`) break a check a claim can fail alone.
Anomalies do not: each anomalous claim is valid, priced from the catalogs and paid by
the rule pack, but it stands out against its peers or against the patient's other
claims, which is what the payer's "giám định chủ động" looks for (reference §4.3
group J, §4.5). Kinds, from the reference's descriptions:

``frequent_visits`` (J7: patients with abnormally many visits)
    One patient's 4–7 outpatient exams (01) at one facility over the run (at most 5 in
    30 days): the same principal and secondary diagnoses and doctor at every visit,
    visits at least 4 days apart, each prescribing 5 days of drugs. Every visit is
    anomalous. Peers: one person, one visit. Kept under the pack's
    ``J7_FREQUENT_VISITS`` (8 visits in 30 days) and ``J6_DRUG_ON_HAND`` (3 days of
    the same drug left) so that no rule fires; it needs a run of 19 days or more.
``episode_split`` (J7, "tách đợt": one episode split into several claims)
    One inpatient stay (MA_LOAI_KCB 03, no surgery) billed as two claims of the same
    facility: the first stay is discharged on its day, the second claim is the same
    person, department, attending doctor and diagnoses readmitted the **next day** and
    staying 1–10 days. Both claims are anomalous (two truth rows, one per claim).
``visit_during_stay`` (J2: outpatient claims at another facility during a stay)
    An inpatient stay (03, 2 days or more) and an outpatient exam (01) at **another**
    facility on a day strictly inside the stay (not its admission or discharge day),
    the exam made the stay's person with the stay's diagnoses: a patient in two
    facilities at once. Both claims are anomalous. The pack's J2 rule compares stays
    with stays, J1 same-day admissions, so no rule fires.
``long_stay`` (J8: length of stay far from the peers of the same diagnosis/facility rank)
    An inpatient stay (03, 2–15 days) made ×3–5 as long (at most
    :data:`claims.synthetic.people.MAX_STAY` days), admission moved earlier, with one
    bed-day per day and one progress note per day to match.
``padded_services`` (J8: service mix far from the peers)
    An outpatient exam (01) at a district or higher facility gets 6–10 extra lab tests,
    2–4 extra imaging and 1–3 extra functional tests (each capped at the distinct items
    the facility performs, so no item repeats): ~8–17 paraclinical lines where peers
    have ~1–2.
``drug_heavy`` (J8: drug share far above the peers)
    An outpatient exam (01) prescribes 15–25 distinct drugs instead of 3–9.
``inflated_cost`` (J8: claim cost far from the peers)
    Every non-blood drug line of a claim with drugs has its dose ×3–6 (an integer per
    claim); quantity, LIEU_DUNG and every amount follow, so the claim's drug cost is
    ×3–6 its own norm while each line stays consistent.

Per-claim rules stay silent by construction: quantities follow the dosage text (E10),
an anomaly's later claims leave out the tests limited per period (F12), stays never
overlap and the readmission is another day (J1, J2), items are distinct within a visit
(F14), bed-days equal the stay (H4), repeated visits stay under J6 and J7, and money
is computed from the lines (D4, D5).

Limits: a run's persons are otherwise all distinct (one claim each), so any patient
with two claims stands out; the magnitudes above are documented, not calibrated
against real data.

Each kind gets an equal share of the ``round(claims × anomaly_rate)`` anomalous claims
(:func:`anomaly_counts`); a kind that cannot fill its share (a one-day run has no
repeated visits) passes the rest on to the kinds after it in :data:`KINDS`.

The claims are chosen with their own generator (:func:`anomaly_rng`), after the
faults and disjoint from them and from the claims faults refer to; with no anomaly
nothing is drawn from it, so a run without anomalies is byte-identical to one made
before anomalies existed.
"""

from __future__ import annotations

import functools

import numpy as np
import polars as pl

from catalogs.loader import load_versions
from claims.synthetic.items import drug_items, xml3_items
from claims.synthetic.people import MAX_STAY

KINDS = (
    "frequent_visits",
    "episode_split",
    "visit_during_stay",
    "long_stay",
    "padded_services",
    "drug_heavy",
    "inflated_cost",
)
"""Anomaly kinds, most constrained first: what a kind cannot fill passes on."""
STREAM = 0x616E6F6D
"""Second word of the anomaly generator's seed (``[seed, STREAM]``)."""
MINUTES = 1440
LONG_STAY_FACTOR = (3.0, 5.0)
LONG_STAY_FROM = (2, 15)
SPLIT_GAP = (2, 11)
"""Days from the first discharge to the second: readmitted the next day, 1–10 days."""
PADDING = {"n_lab": (6, 10), "n_img": (2, 4), "n_func": (1, 3)}
DRUG_HEAVY = (15, 25)
DOSE_FACTOR = (3, 6)
VISITS = (4, 7)
"""Visits of one ``frequent_visits`` patient in the run: at least 4, at most 7, under
the pack's ``J7_FREQUENT_VISITS`` threshold of 8 in 30 days."""
VISIT_SPACING = 3
"""Visits fall in every other window of this many days: at least 4 days apart."""
VISIT_DRUG_DAYS = 5
"""Days of drugs each visit prescribes: at most 1 day left at the next visit (J6
allows 3)."""
PLAN_COLUMNS = ("anomaly", "a_partner", "dose_x")
"""Columns the plan gains: the kind (null when none), the claim whose person and
condition it repeats (the episode's or the patient's first claim; -1) and the dose
factor of ``inflated_cost`` (1)."""


def anomaly_rng(seed: int) -> np.random.Generator:
    """The generator anomalies are drawn from, apart from the run's own."""
    return np.random.default_rng([seed, STREAM])


def anomaly_counts(total: int) -> dict[str, int]:
    """Anomalous claims per kind: ``total`` split evenly (an episode takes two)."""
    base, extra = divmod(total, len(KINDS))
    counts = {k: base + (i < extra) for i, k in enumerate(KINDS)}
    # an odd share of a paired kind cannot be placed: its last claim passes on
    for paired in ("episode_split", "visit_during_stay"):
        counts["long_stay"] += counts[paired] % 2
        counts[paired] -= counts[paired] % 2
    return counts


def _free(plan: pl.DataFrame) -> np.ndarray:
    """Claims without a fault that no fault refers to."""
    partners = plan["partner"].to_numpy()
    used = np.zeros(plan.height, dtype=bool)
    used[partners[partners >= 0]] = True
    free: np.ndarray = plan["fault"].is_null().to_numpy() & ~used
    return free


def _eligible(plan: pl.DataFrame) -> dict[str, np.ndarray]:
    kind = plan["loai"].to_numpy()
    los = plan["los"].to_numpy()
    stay = (kind == "03") & ~plan["surgical"].to_numpy()
    lo, hi = LONG_STAY_FROM
    return {
        "frequent_visits": kind == "01",
        "episode_split": stay,
        "visit_during_stay": ((kind == "03") & (los >= 2)) | (kind == "01"),
        "long_stay": (kind == "03") & (los >= lo) & (los <= hi),
        "padded_services": (kind == "01") & (plan["tier_idx"].to_numpy() >= 1),
        "drug_heavy": kind == "01",
        "inflated_cost": plan["n_drug"].to_numpy() > 0,
    }


def _episodes(
    plan: pl.DataFrame, ok: np.ndarray, pairs: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``pairs`` disjoint (first, second) stays of one facility, the second
    discharged :data:`SPLIT_GAP` days after the first."""
    frame = plan.select("cid", "fac", "day").filter(pl.Series(ok))
    frame = frame.with_columns(pl.Series("r", rng.random(frame.height)))
    role = rng.random(frame.height) < 0.5
    # keys with a random fraction: stays of one day spread over the next day's stays
    first = frame.filter(pl.Series(role)).with_columns(
        (pl.col("day") + SPLIT_GAP[0] + pl.col("r")).alias("want")
    )
    second = frame.filter(pl.Series(~role)).select(
        "fac",
        pl.col("cid").alias("cid_b"),
        pl.col("day").alias("day_b"),
        (pl.col("day") + pl.col("r")).alias("key_b"),
    )
    matched = (
        first.sort("fac", "want", "cid")
        .join_asof(  # sorted within each facility, which is what by= needs
            second.sort("fac", "key_b", "cid_b"),
            left_on="want",
            right_on="key_b",
            by="fac",
            strategy="forward",
            check_sortedness=False,
        )
        .filter(pl.col("day_b") - pl.col("day") <= SPLIT_GAP[1])
        .sort("r")
        .unique("cid_b", keep="first", maintain_order=True)
        .head(pairs)
    )
    return matched["cid"].to_numpy(), matched["cid_b"].to_numpy()


def _visits_in_stays(
    plan: pl.DataFrame, ok: np.ndarray, pairs: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``pairs`` disjoint (stay, outpatient exam at another facility on a day
    strictly inside the stay) pairs."""
    frame = plan.select("cid", "fac", "day", "loai", "los").filter(pl.Series(ok))
    frame = frame.with_columns(pl.Series("r", rng.random(frame.height)))
    stays = frame.filter(pl.col("loai") == "03").with_columns(
        (pl.col("day") - pl.col("los") + 1 + pl.col("r")).alias("want")
    )
    visits = frame.filter(pl.col("loai") == "01").select(
        pl.col("cid").alias("cid_b"),
        pl.col("fac").alias("fac_b"),
        pl.col("day").alias("day_b"),
        (pl.col("day") + pl.col("r")).alias("key_b"),
    )
    matched = (
        stays.sort("want", "cid")
        .join_asof(
            visits.sort("key_b", "cid_b"),
            left_on="want",
            right_on="key_b",
            strategy="forward",
            check_sortedness=False,
        )
        .filter((pl.col("day_b") < pl.col("day")) & (pl.col("fac_b") != pl.col("fac")))
        .sort("r")
        .unique("cid_b", keep="first", maintain_order=True)
        .head(pairs)
    )
    return matched["cid"].to_numpy(), matched["cid_b"].to_numpy()


def _visit_chains(
    plan: pl.DataFrame, ok: np.ndarray, need: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``need`` outpatient exams of one facility in chains of :data:`VISITS`
    (one patient each): one exam per every other :data:`VISIT_SPACING`-day window.

    Returns:
        The chosen claims and each one's first visit (its chain's patient).
    """
    frame = plan.select("cid", "fac", "day").filter(pl.Series(ok))
    frame = frame.with_columns(
        pl.Series("r", rng.random(frame.height)),
        ((pl.col("day") - plan["day"].min()) // VISIT_SPACING).alias("window"),
    ).filter(pl.col("window") % 2 == 0)
    slot = pl.int_range(pl.len()).over("fac", "window")
    chains = (
        frame.sort("fac", "window", "r")
        .with_columns(slot.alias("slot"))
        .sort("fac", "slot", "window")
        .with_columns(pl.int_range(pl.len()).over("fac", "slot").alias("rank"))
        .filter(pl.col("rank") < VISITS[1])
        .with_columns(
            pl.len().over("fac", "slot").alias("size"),
            pl.col("cid").first().over("fac", "slot").alias("first"),
            pl.col("r").first().over("fac", "slot").alias("key"),
        )
        .filter(pl.col("size") >= VISITS[0])
        .sort("key", "first", "rank")
    )
    sizes = chains.unique("first", keep="first", maintain_order=True)["size"]
    ends = sizes.cum_sum()
    whole = int((ends <= need).sum())
    take = int(ends[whole - 1]) if whole else 0
    left = need - take
    if whole < len(sizes) and min(left, int(sizes[whole])) >= VISITS[0]:
        take += min(left, int(sizes[whole]))  # a shorter last chain
    chosen = chains.head(take)
    return chosen["cid"].to_numpy(), chosen["first"].to_numpy()


def choose_anomalies(
    plan: pl.DataFrame, total: int, rng: np.random.Generator
) -> pl.DataFrame:
    """Pick ``total`` anomalous claims among the unfaulted ones and apply the plan
    changes of their kinds (:func:`apply_anomalies`).

    Raises:
        ValueError: when fewer than ``total`` claims can take an anomaly.
    """
    n = plan.height
    kind = np.full(n, -1)
    partner = np.full(n, -1)
    free = _free(plan)
    if total > int(free.sum()):
        msg = (
            f"cannot inject {total} anomalies: only {int(free.sum())} of {n} claims "
            "are free of faults; lower --anomaly-rate or --error-rate"
        )
        raise ValueError(msg)
    masks, carry = _eligible(plan), 0
    for number, name in enumerate(KINDS):  # what a kind cannot fill passes on
        need = anomaly_counts(total)[name] + carry
        ok = free & masks[name]
        if name == "frequent_visits":
            chosen, first = _visit_chains(plan, ok, need, rng)
            partner[chosen] = np.where(first == chosen, -1, first)
        elif name in ("episode_split", "visit_during_stay"):
            pick = _episodes if name == "episode_split" else _visits_in_stays
            first, second = pick(plan, ok, need // 2, rng)
            partner[second] = first
            chosen = np.concatenate([first, second])
        else:
            pool = np.flatnonzero(ok)
            chosen = np.sort(rng.choice(pool, min(need, len(pool)), replace=False))
        kind[chosen], free[chosen] = number, False
        carry = need - len(chosen)
    if carry:
        msg = (
            f"{carry} of {total} anomalies could not be placed among {n} claims: too "
            "few claims fit their kinds (stays, outpatient exams, claims with drugs); "
            "lower --anomaly-rate"
        )
        raise ValueError(msg)
    names = pl.Series([*KINDS, None])  # index -1 → null
    plan = plan.with_columns(
        names.gather(np.where(kind < 0, len(KINDS), kind)).alias("anomaly"),
        pl.Series("a_partner", partner),
        pl.lit(1, pl.Int64).alias("dose_x"),
    )
    return apply_anomalies(plan, rng) if total else plan


def _is(kind: str) -> pl.Expr:
    return (pl.col("anomaly") == kind).fill_null(False)


def _between(rng: np.random.Generator, bounds: tuple[int, int], n: int) -> pl.Series:
    return pl.Series(rng.integers(bounds[0], bounds[1] + 1, n))


def _allowed(kind: str) -> list[int]:
    """Distinct items of ``kind`` a facility of each tier (0 … 3) performs."""
    tiers = xml3_items().filter(pl.col("kind") == kind)["min_tier"].to_numpy()
    return [max(int((tiers <= t).sum()), 1) for t in range(4)]


def _split_episodes(plan: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """The second claim of an episode: the first's person-free clinical columns,
    admitted the day after the first's discharge, lines scaled to its new stay."""
    n = plan.height
    first = np.maximum(plan["a_partner"].to_numpy(), 0)
    second = (pl.col("a_partner") >= 0) & _is("episode_split")
    copied = ("dept", "khoa", "doctor", "dx", "dx_text", "kt")
    vao = (plan["day"].to_numpy()[first] + 1) * MINUTES + rng.integers(420, 661, n)
    los = pl.col("day") - pl.Series(plan["day"].to_numpy()[first]) - 1
    other = pl.sum_horizontal("n_exam", "n_lab", "n_img", "n_func", "n_proc", "n_sup")
    return (
        plan.with_columns(
            *(
                pl.when(second).then(plan[c].gather(first)).otherwise(pl.col(c))
                for c in copied
            ),
            pl.when(second).then(pl.Series(vao)).otherwise(pl.col("vao")).alias("vao"),
            pl.when(second).then(los).otherwise(pl.col("los")).alias("los"),
        )
        .with_columns(
            pl.when(second)
            .then(pl.col("vao") + pl.Series(rng.integers(15, 181, n)))
            .otherwise(pl.col("vnt"))
            .alias("vnt"),
            pl.when(second)
            .then(pl.col("vao"))
            .otherwise("surg_time")
            .alias("surg_time"),
            pl.when(second)
            .then(pl.min_horizontal("n_lab", 3 + 2 * pl.col("los")))
            .otherwise("n_lab")
            .alias("n_lab"),
            pl.when(second)
            .then(pl.min_horizontal("n_proc", "los"))
            .otherwise("n_proc")
            .alias("n_proc"),
        )
        .with_columns(
            pl.when(second)
            .then(pl.max_horizontal(pl.lit(1), "los"))
            .otherwise("n_bed")
            .alias("n_bed"),
            pl.when(second).then(pl.col("los") + 1).otherwise("n_note").alias("n_note"),
            pl.when(second)
            .then(pl.max_horizontal(pl.lit(5), 30 + 12 * pl.col("los") - other))
            .otherwise("n_drug")
            .alias("n_drug"),
        )
    )


def _frequent_visits(plan: pl.DataFrame) -> pl.DataFrame:
    """A patient's later visits repeat the first's condition and doctor; every visit
    prescribes :data:`VISIT_DRUG_DAYS` days of drugs."""
    first = np.maximum(plan["a_partner"].to_numpy(), 0)
    mine = _is("frequent_visits")
    later = mine & (pl.col("a_partner") >= 0)
    return plan.with_columns(
        *(
            pl.when(later).then(plan[c].gather(first)).otherwise(pl.col(c))
            for c in ("doctor", "dx", "dx_text", "kt")
        ),
        pl.when(mine).then(VISIT_DRUG_DAYS).otherwise("drug_days").alias("drug_days"),
    )


def _stay_visits(plan: pl.DataFrame) -> pl.DataFrame:
    """The exam during a stay takes the stay's diagnoses (its person: the plan's pid)."""
    stay = np.maximum(plan["a_partner"].to_numpy(), 0)
    exam = _is("visit_during_stay") & (pl.col("a_partner") >= 0)
    return plan.with_columns(
        pl.when(exam).then(plan[c].gather(stay)).otherwise(pl.col(c))
        for c in ("dx", "dx_text", "kt")
    )


def _long_stays(plan: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Stays ×3–5 as long, admission earlier, a bed-day and a note per day."""
    factor = pl.Series(rng.uniform(*LONG_STAY_FACTOR, plan.height))
    los = pl.min_horizontal(
        pl.lit(MAX_STAY), (pl.col("los") * factor).round().cast(pl.Int64)
    )
    shift = (pl.col("_los") - pl.col("los")) * MINUTES
    mine = _is("long_stay")
    return (
        plan.with_columns(pl.when(mine).then(los).otherwise("los").alias("_los"))
        .with_columns(
            (pl.col("vao") - shift).alias("vao"),
            (pl.col("vnt") - shift).alias("vnt"),
            pl.col("_los").alias("los"),
            pl.when(mine).then(pl.col("_los")).otherwise("n_bed").alias("n_bed"),
            pl.when(mine)
            .then(pl.col("_los") + 1 + pl.col("surgical").cast(pl.Int64))
            .otherwise("n_note")
            .alias("n_note"),
        )
        .drop("_los")
    )


def apply_anomalies(plan: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Apply each chosen claim's anomaly to its plan row (counts, times, dose factor).

    ``inflated_cost`` only sets ``dose_x``; the drug lines take it when they are
    built (:func:`inflate_doses`). Everything else the tables hold follows the plan.
    """
    n = plan.height
    plan = _split_episodes(_stay_visits(_frequent_visits(plan)), rng)
    plan = _long_stays(plan, rng)
    tier = pl.col("tier_idx")
    padded = []
    for column, bounds in PADDING.items():
        kind = {"n_lab": "lab", "n_img": "imaging", "n_func": "functional"}[column]
        cap = tier.replace_strict(dict(enumerate(_allowed(kind))), default=1)
        more = pl.min_horizontal(cap, pl.col(column) + _between(rng, bounds, n))
        padded.append(
            pl.when(_is("padded_services")).then(more).otherwise(column).alias(column)
        )
    oral = int(drug_items()["oral"].sum())
    heavy = pl.min_horizontal(pl.lit(oral), _between(rng, DRUG_HEAVY, n))
    return plan.with_columns(
        *padded,
        pl.when(_is("drug_heavy")).then(heavy).otherwise("n_drug").alias("n_drug"),
        pl.when(_is("inflated_cost"))
        .then(_between(rng, DOSE_FACTOR, n))
        .otherwise("dose_x")
        .alias("dose_x"),
    )


@functools.cache
def _period_limited() -> tuple[str, ...]:
    """Service codes the built-in code-pairs catalog limits per period (F12: HbA1c once
    in 90 days…)."""
    rows = load_versions("code_pairs", None)[-1].rows
    limited = rows.filter(
        (pl.col("kind") == "limit") & pl.col("per_period_days").is_not_null()
    )
    return tuple(sorted(limited["code_a"].unique().to_list()))


def drop_period_limited(claims: pl.DataFrame, services: pl.DataFrame) -> pl.DataFrame:
    """Service lines (``ci, item_id`` …) without the period-limited services of an
    anomaly's later claims (split episode, repeated visit, exam during a stay): the
    patient's earlier claim may hold the same test, and F12 would then fire."""
    later = claims["a_partner"].to_numpy()[services["ci"].to_numpy()] >= 0
    items = xml3_items().filter(pl.col("ma_dich_vu").is_in(_period_limited()))
    limited = pl.col("item_id").is_in(items["item_id"].implode())
    return services.filter(~(pl.Series(later) & limited))


def inflate_doses(claims: pl.DataFrame, drugs: pl.DataFrame) -> pl.DataFrame:
    """Drug lines (``ci, item_id, dose, qty`` …) with ``inflated_cost`` doses ×``dose_x``.

    Blood lines keep their quantity. Quantity stays dose × times a day × days.
    """
    factor = claims["dose_x"].to_numpy()[drugs["ci"].to_numpy()]
    blood = drug_items().filter(pl.col("blood"))["item_id"].implode()
    scale = pl.when(pl.col("item_id").is_in(blood)).then(1).otherwise(pl.Series(factor))
    return drugs.with_columns(pl.col("dose") * scale, pl.col("qty") * scale)


def anomaly_truth(claims: pl.DataFrame) -> pl.DataFrame:
    """One truth row per anomalous claim of a chunk, in the truth file's columns:
    table ``XML1``, no STT, no expected reason, level ``claim``, category ``anomaly``."""
    return claims.filter(pl.col("anomaly").is_not_null()).select(
        "ma_cskcb",
        "ma_lk",
        pl.lit("XML1").alias("table"),
        pl.lit(None, pl.String).alias("stt"),
        pl.col("anomaly").alias("kind"),
        pl.lit(None, pl.String).alias("expected_reason"),
        pl.lit("claim").alias("level"),
        pl.lit("anomaly").alias("category"),
    )
