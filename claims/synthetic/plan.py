"""Plan a run of synthetic claims: when, where, what kind of visit, by which route.

One row per claim, in final order (facility, discharge day, discharge time): the facility,
the visit type (MA_LOAI_KCB) and the admission/discharge minutes, and the doctors of each
facility. Clinical content is added by :mod:`claims.synthetic.clinical`, people by
:mod:`claims.synthetic.people` and faults by :mod:`claims.synthetic.run`.
Times are minutes since 1970-01-01 and days are day numbers (numpy ``int64``).

The route (MA_DOITUONG_KCB) of each claim comes from the card and the facility, derived
after the person is final (an injected fault may have swapped it), so the code always
matches the data: registered here → 1.1; a commune/district facility of the person's
province → 1.2 (from 2025, 3.3 at basic-level ex-district facilities); from another
province → 1.4; at provincial and central hospitals a referral (1.3), a re-visit
appointment (1.5), an emergency (2) or, for inpatients, self-referral (3.1 at ex-central,
3.2 at ex-provincial hospitals). Every code used exists in both the old list (to
2024-12-31) and the new one (from 2025-01-01) of the ``code_lists`` catalog.
"""

from __future__ import annotations

import calendar
from datetime import date

import numpy as np
import polars as pl

from claims.synthetic.people import MAX_STAY, day_number
from claims.synthetic.registry import staff_numbers

MINUTES = 1440
INPATIENT_SHARE = 0.10
TIER_VOLUME = np.array([1.0, 5.0, 15.0, 40.0])
"""Claims per facility by tier index (commune … central), before a per-facility factor."""
TIER_INPATIENT = np.array([0.05, 1.0, 2.2, 3.0])
"""Relative chance that a claim of each tier is inpatient."""


def month_end_weights(days: list[date]) -> np.ndarray:
    """Claim volume per day: higher on the last three days of a month (submission rush)."""
    left = np.array([calendar.monthrange(d.year, d.month)[1] - d.day for d in days])
    return np.select([left == 0, left == 1, left == 2], [2.5, 2.0, 1.5], default=1.0)


def _top_k(weights: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Mask of ``k`` rows drawn without replacement with chance ∝ weight.

    Efraimidis–Spirakis keys: vectorized, exactly ``k`` rows.
    """
    keys = np.log(rng.random(len(weights))) / weights
    mask = np.zeros(len(weights), dtype=bool)
    if k > 0:
        mask[np.argpartition(-keys, k - 1)[:k]] = True
    return mask


def _visit_types(
    inpatient: np.ndarray, tier: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """MA_LOAI_KCB: 01 mostly, some 02/05/08; inpatient 03, 04, 09 (06 at communes).

    07 (drug collection without an exam) is left out: every outpatient claim here
    carries an exam line.
    """
    n = len(tier)
    out = rng.choice(np.array(["01", "02", "05", "08"]), n, p=[0.85, 0.04, 0.08, 0.03])
    out = np.where((out == "08") & (tier == 0), "01", out)  # no dialysis at communes
    inp = rng.choice(np.array(["03", "04", "09"]), n, p=[0.80, 0.12, 0.08])
    inp = np.where(tier == 0, "06", inp)
    return np.where(inpatient, inp, out)


def _stay(kind: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Calendar days from admission to discharge per visit type."""
    n = len(kind)
    geometric = np.clip(rng.geometric(1 / 6, n), 1, MAX_STAY)
    return np.select(
        [kind == "02", kind == "03", kind == "04", kind == "06"],
        [
            rng.integers(1, 15, n),
            geometric,
            np.clip(rng.geometric(0.3, n) - 1, 0, 9),
            rng.integers(0, 3, n),
        ],
        default=0,
    )


# visit type → (admission from, minutes), (discharge from, minutes): "back" is the
# admission day (discharge day − stay), "day" the discharge day, "vao" the admission
SCHEDULE: dict[str, tuple[tuple[str, int, int], tuple[str, int, int]]] = {
    "02": (("back", 420, 600), ("day", 480, 960)),
    "03": (("back", 0, 1439), ("day", 480, 990)),
    "04": (("back", 420, 540), ("day", 900, 1020)),
    "09": (("day", 420, 1080), ("vao", 60, 235)),  # under 4 hours
    "06": (("back", 420, 660), ("day", 720, 1020)),
    "06+0": (("day", 420, 780), ("vao", 240, 600)),  # same-day observation
    "out": (("day", 390, 840), ("vao", 150, 300)),  # 01, 05, 08: a few hours
}


def _times(
    kind: np.ndarray, day: np.ndarray, los: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Admission, inpatient order, discharge and payment minutes (VAO ≤ VNT < RA ≤ TTOAN).

    Every stay ends on its submission day, so an inpatient stay started ``los`` days
    earlier; one loop step per visit type, vectorized over its claims.
    """
    n = len(kind)
    start = day * MINUTES
    key = np.where(np.isin(kind, list(SCHEDULE)), kind, "out")
    key = np.where((kind == "06") & (los == 0), "06+0", key)
    vao, ra = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    for name, ((a_from, a_lo, a_hi), (r_from, r_lo, r_hi)) in SCHEDULE.items():
        rows = key == name
        base = {"day": start, "back": start - los * MINUTES}
        vao[rows] = (base[a_from] + rng.integers(a_lo, a_hi + 1, n))[rows]
        base["vao"] = vao
        ra[rows] = (base[r_from] + rng.integers(r_lo, r_hi + 1, n))[rows]
    inpatient = np.isin(kind, ["03", "04", "06", "09"])
    order = np.where(kind == "03", rng.integers(15, 181, n), rng.integers(5, 21, n))
    vnt = np.where(inpatient, vao + order, -1)
    left_today = np.minimum(30, start + MINUTES - 1 - ra)
    ttoan = ra + (rng.random(n) * left_today).astype(np.int64)
    return {"vao": vao, "vnt": vnt, "ra": ra, "ttoan": ttoan}


def plan_visits(
    facilities: pl.DataFrame, claims: int, days: list[date], rng: np.random.Generator
) -> pl.DataFrame:
    """Claims spread over days and facilities, with visit type and times, in final order.

    Args:
        facilities: drawn facilities (``tier_idx`` 0 commune … 3 central).
        claims: total number of claims.
        days: the submission days, oldest first.
        rng: the run's random generator.

    Returns:
        ``cid, fac, day, seq, loai, inpatient, los, vao, vnt, ra, ttoan`` plus facility
        columns, sorted by facility, day and discharge time; ``seq`` numbers a
        facility's claims of one day from 1.
    """
    weights = month_end_weights(days)
    per_day = rng.multinomial(claims, weights / weights.sum())
    day = np.repeat(np.array([day_number(d) for d in days]), per_day)
    tier = facilities["tier_idx"].to_numpy()
    volume = TIER_VOLUME[tier] * (0.6 + 0.8 * rng.random(len(tier)))
    fac = rng.choice(len(tier), claims, p=volume / volume.sum())
    inpatient = _top_k(TIER_INPATIENT[tier[fac]], round(INPATIENT_SHARE * claims), rng)
    kind = _visit_types(inpatient, tier[fac], rng)
    los = _stay(kind, rng)
    frame = pl.DataFrame(
        {
            "fac": fac,
            "day": day,
            "loai": kind,
            "inpatient": inpatient,
            "los": los,
            **_times(kind, day, los, rng),
            "tie": rng.random(claims),
        }
    )
    frame = frame.sort("fac", "day", "ra", "tie", maintain_order=True).drop("tie")
    return frame.with_columns(
        pl.int_range(pl.len()).alias("cid"),
        (pl.int_range(pl.len()).over("fac", "day") + 1).alias("seq"),
    ).join(_facility_columns(facilities), on="fac", how="left", maintain_order="left")


def _facility_columns(facilities: pl.DataFrame) -> pl.DataFrame:
    """What a claim needs of its facility, by facility index ``fac``."""
    return facilities.with_row_index("fac").select(
        pl.col("fac").cast(pl.Int64),
        "ma_cskcb",
        "ma_tinh",
        "tier",
        "tier_idx",
        "level_2025",
        pl.col("ma_cskcb").cast(pl.Int64).alias("fac_num"),
    )


def staff(facilities: pl.DataFrame, catalog: pl.DataFrame) -> pl.DataFrame:
    """Doctors of each drawn facility, as the ``practitioners`` catalog registers them.

    Args:
        facilities: the drawn facilities (row ``fac``).
        catalog: the whole ``facilities`` catalog (numbering runs over all of it).

    Returns:
        ``fac, n_doc, doc_base, abbr``: doctor ``k`` of facility ``fac`` has the
        practising-certificate number ``doc_base + k``
        (:func:`claims.synthetic.registry.staff_numbers`).
    """
    numbers = staff_numbers(catalog).select("ma_cskcb", "n_doc", "doc_base", "abbr")
    return (
        facilities.with_row_index("fac")
        .select(pl.col("fac").cast(pl.Int64), "ma_cskcb")
        .join(numbers, on="ma_cskcb", how="left", maintain_order="left")
        .drop("ma_cskcb")
    )


# ---- routes

NEW_LIST_FROM = day_number(date(2025, 1, 1))
OFF_ROUTE_RATE = {"3.1": 40}
"""Route rate (%) of codes that are not paid at 100 % (§2.4: ex-central inpatient 40 %)."""


def _destination(
    rng: np.random.Generator, claims: pl.DataFrame, higher: pl.DataFrame
) -> pl.Series:
    """A provincial or central facility in the claim's province, never the claim's own."""
    codes = higher["ma_tinh"].to_numpy()
    province = claims["ma_tinh"].to_numpy()
    start = np.searchsorted(codes, province, side="left")
    count = np.searchsorted(codes, province, side="right") - start
    index = start + (rng.random(len(province)) * np.maximum(count, 1)).astype(np.int64)
    index = np.where(count > 0, index, rng.integers(0, len(codes), len(province)))
    own = (
        higher["ma_cskcb"].to_numpy()[index % len(codes)]
        == claims["ma_cskcb"].to_numpy()
    )
    return higher["ma_cskcb"].gather((index + own) % len(codes))


def _codes(claims: pl.DataFrame, rng: np.random.Generator) -> np.ndarray:
    n = claims.height
    tier = claims["tier_idx"].to_numpy()
    home = (claims["ma_dkbd"] == claims["ma_cskcb"]).to_numpy()
    local = (claims["province"] == claims["ma_tinh"]).to_numpy()
    inpatient = claims["inpatient"].to_numpy()
    basic = (claims["level_2025"] != "primary").to_numpy() & (tier == 1)
    new = claims["vao"].to_numpy() // 1440 >= NEW_LIST_FROM
    r = rng.random(n)
    low = np.select(
        [inpatient & (r < 0.3), ~local, basic & new], ["2", "1.4", "3.3"], default="1.2"
    )
    off = np.where(tier == 3, "3.1", "3.2")
    high = np.select(
        [r < 0.2, ~inpatient & (r < 0.35), inpatient & (r < 0.45)],
        ["2", "1.5", off],
        default="1.3",
    )
    return np.where(home, "1.1", np.where(tier <= 1, low, high))


def assign_routes(
    claims: pl.DataFrame, higher: pl.DataFrame, rng: np.random.Generator
) -> pl.DataFrame:
    """Add the route code and the referral fields it implies.

    Args:
        claims: the plan joined with each claim's person (``ma_dkbd``, ``province``).
        higher: provincial and central facilities sorted by ``ma_tinh``: where a
            transferred patient goes (MA_NOI_DEN).
        rng: the run's random generator.

    Returns:
        ``claims`` with ``doituong``, ``route_rate``, ``ma_noi_di``,
        ``giay_chuyen_tuyen`` and ``ma_noi_den``.
    """
    n = claims.height
    code = _codes(claims, rng)
    year = (pl.Series(claims["ra"] // 1440).cast(pl.Date).dt.year()).cast(pl.String)
    number = pl.Series(rng.integers(1, 10_000, n)).cast(pl.String)
    paper = (
        pl.when(pl.Series(code) == "1.3")
        .then(pl.concat_str(pl.lit(number), pl.lit("/"), pl.lit(year), pl.lit("/GCT")))
        .when(pl.Series(code) == "1.5")
        .then(pl.concat_str(pl.lit(number), pl.lit("/"), pl.lit(year), pl.lit("/GH")))
    )
    out = np.isin(claims["loai_rv"].to_numpy(), ["2", "5"])
    destination = _destination(rng, claims, higher)
    none = pl.Series([None] * n, dtype=pl.String)
    return claims.with_columns(
        pl.Series("doituong", code),
        pl.Series("route_rate", code).replace_strict(
            OFF_ROUTE_RATE, default=100, return_dtype=pl.Int64
        ),
        claims["ma_dkbd"].zip_with(pl.Series(code == "1.3"), none).alias("ma_noi_di"),
        paper.alias("giay_chuyen_tuyen"),
        destination.zip_with(pl.Series(out), none).alias("ma_noi_den"),
    )
