"""Plan a run of synthetic claims: when, where, what kind of visit, how many lines.

One row per claim, in final order (facility, discharge day, discharge time): the facility,
the visit type (MA_LOAI_KCB), admission/discharge minutes, the attending doctor, the
diagnoses and the number of lines of each kind. People, routes and faults are added by
:mod:`claims.synthetic_people`, :func:`assign_routes` and :mod:`claims.synthetic_faults`.
Times are minutes since 1970-01-01 and days are day numbers (numpy ``int64``).
"""

from __future__ import annotations

import calendar
from datetime import date

import numpy as np
import polars as pl

from catalogs.seed_facilities import PROVINCES, province_abbreviation
from claims.synthetic_catalog import SURGERY_DIAGNOSES
from claims.synthetic_items import common_diagnoses, icd_leaf_pool, xml3_items
from claims.synthetic_people import MAX_STAY, day_number

MINUTES = 1440
INPATIENT_SHARE = 0.10
TIER_VOLUME = np.array([1.0, 5.0, 15.0, 40.0])
"""Claims per facility by tier index (commune … central), before a per-facility factor."""
TIER_INPATIENT = np.array([0.05, 1.0, 2.2, 3.0])
"""Relative chance that a claim of each tier is inpatient."""
EXAMS_PER_DOCTOR = 20
TIER_MIN_DOCTORS = np.array([2, 8, 30, 80])


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


def _times(
    kind: np.ndarray, day: np.ndarray, los: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Admission, inpatient order, discharge and payment minutes (VAO ≤ VNT < RA ≤ TTOAN)."""
    n = len(kind)
    start = day * MINUTES

    def u(lo: int, hi: int) -> np.ndarray:
        return rng.integers(lo, hi + 1, n)

    back = start - los * MINUTES
    same_day_06 = (kind == "06") & (los == 0)
    vao = np.select(
        [
            kind == "02",
            kind == "03",
            kind == "04",
            kind == "09",
            same_day_06,
            kind == "06",
        ],
        [
            back + u(420, 600),
            back + u(0, 1439),
            back + u(420, 540),
            start + u(420, 1080),
            start + u(420, 780),
            back + u(420, 660),
        ],
        default=start + u(390, 840),
    )
    ra = np.select(
        [
            kind == "02",
            kind == "03",
            kind == "04",
            kind == "09",
            same_day_06,
            kind == "06",
        ],
        [
            start + u(480, 960),
            start + u(480, 990),
            start + u(900, 1020),
            vao + u(60, 235),
            vao + u(240, 600),
            start + u(720, 1020),
        ],
        default=vao + u(150, 300),
    )
    inpatient = np.isin(kind, ["03", "04", "06", "09"])
    vnt = np.where(inpatient, vao + np.where(kind == "03", u(15, 180), u(5, 20)), -1)
    ttoan = ra + (rng.random(n) * np.minimum(30, start + MINUTES - 1 - ra)).astype(
        np.int64
    )
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
    frame = frame.sort("fac", "day", "ra", "tie").drop("tie")
    facility = facilities.select(
        "ma_cskcb",
        "ma_tinh",
        "tier",
        "tier_idx",
        "level_2025",
        pl.col("ma_cskcb").cast(pl.Int64).alias("fac_num"),
    )
    return frame.with_columns(
        pl.int_range(pl.len()).alias("cid"),
        (pl.int_range(pl.len()).over("fac", "day") + 1).alias("seq"),
    ).join(
        facility.with_row_index("fac").with_columns(pl.col("fac").cast(pl.Int64)),
        on="fac",
        how="left",
        maintain_order="left",
    )


def staff(facilities: pl.DataFrame, visits: pl.DataFrame) -> pl.DataFrame:
    """Doctors per facility: enough that nobody exceeds ~20 exams on the busiest day.

    Returns:
        ``fac, n_doc, doc_base, abbr``: doctor ``k`` of facility ``fac`` has the
        practising-certificate number ``doc_base + k`` (unique across facilities).
    """
    busiest = (
        visits.group_by("fac", "day").len().group_by("fac").agg(pl.col("len").max())
    )
    abbr = {p[0]: province_abbreviation(p[1]) for p in PROVINCES}
    frame = (
        facilities.with_row_index("fac")
        .with_columns(pl.col("fac").cast(pl.Int64))
        .join(busiest, on="fac", how="left")
        .select(
            "fac",
            (
                pl.col("tier_idx").replace_strict(
                    dict(enumerate(TIER_MIN_DOCTORS.tolist()))
                )
                + (pl.col("len").fill_null(0) + EXAMS_PER_DOCTOR - 1)
                // EXAMS_PER_DOCTOR
            ).alias("n_doc"),
            pl.col("ma_tinh").replace_strict(abbr).alias("abbr"),
        )
    )
    return frame.with_columns(
        (pl.col("n_doc").cum_sum() - pl.col("n_doc") + 1).alias("doc_base")
    )


def practitioner(serial: pl.Expr, abbr: pl.Expr) -> pl.Expr:
    """A practising-certificate number, ``000012/HN-CCHN`` (§3.7)."""
    return pl.concat_str(
        serial.cast(pl.String).str.zfill(6), pl.lit("/"), abbr, pl.lit("-CCHN")
    )


def _diagnoses(
    kind: np.ndarray, inpatient: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Principal ICD-10 code and its text: common codes mostly, any leaf code at times."""
    n = len(kind)
    common = common_diagnoses()
    pool = icd_leaf_pool()
    codes, names = common["code"].to_numpy(), common["ten"].to_numpy()
    setting = common["setting"].to_numpy()
    weight = common["weight"].to_numpy()
    out_p = np.where(np.isin(setting, ["o", "b"]), weight, 0.0)
    in_p = np.where(np.isin(setting, ["i", "b"]), weight, 0.0)
    pick = np.where(
        inpatient,
        rng.choice(len(codes), n, p=in_p / in_p.sum()),
        rng.choice(len(codes), n, p=out_p / out_p.sum()),
    )
    rare = rng.integers(0, pool.height, n)
    use_rare = rng.random(n) < 0.2
    code = np.where(use_rare, pool["code"].to_numpy()[rare], codes[pick])
    text = np.where(use_rare, pool["ten"].to_numpy()[rare], names[pick])
    dialysis = kind == "08"
    code = np.where(dialysis, "N18.9", code)
    text = np.where(dialysis, "Bệnh thận mạn", text)
    return code, text


def _secondary(n: int, rng: np.random.Generator) -> pl.Series:
    """0–3 secondary codes, ';'-joined (null when none)."""
    pool = icd_leaf_pool()["code"]
    count = rng.choice(4, n, p=[0.45, 0.30, 0.17, 0.08])
    parts = [pool.gather(rng.integers(0, pool.len(), n)) for _ in range(3)]
    joined = pl.DataFrame(
        {"a": parts[0], "b": parts[1], "c": parts[2], "k": count}
    ).select(pl.concat_list("a", "b", "c").list.head(pl.col("k")).list.join(";"))
    text = joined.to_series()
    return text.zip_with(pl.Series(count > 0), pl.Series([None] * n, dtype=pl.String))


def _counts(
    kind: np.ndarray,
    tier: np.ndarray,
    los: np.ndarray,
    surgical: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Number of lines of each kind per claim (outpatient ~5–20, inpatient 50–300)."""
    n = len(kind)

    def u(lo: int, hi: int) -> np.ndarray:
        return rng.integers(lo, hi + 1, n)

    coin = rng.random((6, n))
    big = tier >= 1
    k01, k03 = kind == "01", kind == "03"
    stays = np.isin(kind, ["03", "04", "06"])
    counts = {
        "n_exam": 1 + (k01 & big & (coin[0] < 0.08)),
        "n_lab": np.select(
            [
                k01 & big,
                k01,
                kind == "05",
                k03,
                kind == "04",
                kind == "09",
                kind == "06",
            ],
            [
                np.clip(rng.poisson(1.2, n), 0, 6),
                rng.binomial(2, 0.2, n),
                np.where(big, u(0, 3), u(0, 1)),
                np.clip(3 + 2 * los + rng.poisson(1, n), 0, 40),
                u(2, 8),
                u(2, 6),
                u(0, 2),
            ],
            default=0,
        ),
        "n_img": np.select(
            [k01, k03, kind == "09", kind == "04"],
            [big & (coin[1] < 0.25), u(1, 3), u(0, 2), u(0, 1)],
            default=0,
        ),
        "n_func": np.select([k01, k03], [big & (coin[2] < 0.08), u(0, 2)], default=0),
        "n_proc": np.select(
            [
                k01,
                kind == "02",
                kind == "08",
                k03,
                kind == "04",
                np.isin(kind, ["06", "09"]),
            ],
            [
                coin[3] < 0.06,
                los + 1,
                1,
                np.clip(rng.poisson(los / 2), 0, 10),
                u(1, 3),
                u(0, 2),
            ],
            default=0,
        ),
        "n_surg": surgical.astype(np.int64),
        "n_bed": np.where(stays, np.maximum(1, los), 0),
        "n_sup": np.select(
            [k01, kind == "08", k03, np.isin(kind, ["04", "09", "06"])],
            [(coin[4] < 0.1) * u(1, 2), u(1, 3), u(2, 5), u(1, 3)],
            default=0,
        ),
        "n_blood": np.where(k03 & (coin[5] < 0.03), u(1, 2), 0),
    }
    others = (
        sum(counts.values()) + surgical * 2
    )  # surgical supplies come with the surgery
    target = np.clip(
        30 + 12 * np.maximum(los, 1) + rng.normal(0, 10, n).astype(np.int64), 50, 300
    )
    counts["n_drug"] = np.select(
        [
            k01,
            kind == "02",
            kind == "05",
            kind == "08",
            kind == "09",
            kind == "06",
            np.isin(kind, ["03", "04"]),
        ],
        [
            u(2, 8),
            u(0, 3),
            u(3, 7),
            u(0, 2),
            u(5, 15),
            u(4, 12),
            np.maximum(5, target - others),
        ],
        default=0,
    )
    inpatient = np.isin(kind, ["03", "04", "06", "09"])
    counts["n_note"] = np.where(inpatient, los + 1 + surgical, 0)
    return counts


def _surgeries(
    tier: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A surgery each claim's facility performs: item id and ICD-9-CM code."""
    items = xml3_items().filter(pl.col("kind") == "surgery").sort("min_tier", "item_id")
    allowed = np.searchsorted(items["min_tier"].to_numpy(), np.arange(4), side="right")
    index = (rng.random(len(tier)) * np.maximum(allowed[tier], 1)).astype(np.int64)
    return items["item_id"].to_numpy()[index], items["extra"].to_numpy()[index]


def _outcomes(
    inpatient: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """KET_QUA_DTRI and MA_LOAI_RV (transfers out are rare)."""
    n = len(inpatient)
    out = rng.choice(np.array(["7", "2", "1"]), n, p=[0.55, 0.30, 0.15])
    inp = rng.choice(
        np.array(["1", "2", "3", "4", "6"]), n, p=[0.30, 0.60, 0.05, 0.03, 0.02]
    )
    leave = rng.choice(np.array(["1", "2", "4", "5"]), n, p=[0.92, 0.04, 0.03, 0.01])
    return np.where(inpatient, inp, out), np.where(inpatient, leave, "1")


def add_clinical(
    visits: pl.DataFrame,
    people: pl.DataFrame,
    doctors: pl.DataFrame,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """Department, doctor, diagnoses, outcome, drug days and line counts per claim."""
    n = visits.height
    kind, tier = visits["loai"].to_numpy(), visits["tier_idx"].to_numpy()
    los, inpatient = visits["los"].to_numpy(), visits["inpatient"].to_numpy()
    age = people["age"].to_numpy()
    ward = np.isin(kind, ["03", "04", "09"])
    surgical = (kind == "03") & (los >= 2) & (age >= 16) & (rng.random(n) < 0.25)
    dept = np.select([~ward, age < 16, surgical], ["K01", "K18", "K19"], default="K03")
    surg_item, icd9 = _surgeries(tier, rng)
    dx, dx_text = _diagnoses(kind, inpatient, rng)
    surgery_dx = pl.Series(icd9).replace_strict(SURGERY_DIAGNOSES).to_numpy()
    names = dict(common_diagnoses().select("code", "ten").iter_rows())
    dx = np.where(surgical, surgery_dx, dx)
    dx_text = np.where(
        surgical, pl.Series(surgery_dx).replace_strict(names).to_numpy(), dx_text
    )
    ket_qua, loai_rv = _outcomes(inpatient, rng)
    span = visits["ra"].to_numpy() - visits["vao"].to_numpy()
    frame = visits.join(doctors, on="fac", how="left", maintain_order="left")
    return frame.with_columns(
        pl.Series("dept", dept),
        pl.Series("khoa", np.where(ward & (rng.random(n) < 0.4), "K01;" + dept, dept)),
        (pl.Series(rng.random(n)) * pl.col("n_doc")).cast(pl.Int64).alias("doctor"),
        pl.Series("surgical", surgical),
        pl.Series("surg_item", np.where(surgical, surg_item, -1)),
        pl.Series("icd9", icd9, dtype=pl.String).zip_with(
            pl.Series(surgical), pl.Series([None] * n, dtype=pl.String)
        ),
        pl.Series(
            "surg_time",
            visits["vao"].to_numpy()
            + (rng.random(n) * np.maximum(span - 240, 0)).astype(np.int64),
        ),
        pl.Series("dx", dx),
        pl.Series("dx_text", dx_text),
        _secondary(n, rng).alias("kt"),
        pl.Series("ket_qua", ket_qua),
        pl.Series("loai_rv", loai_rv),
        pl.Series("drug_days", np.where(kind == "05", rng.choice([28, 30], n), 0)),
        *(pl.Series(k, v) for k, v in _counts(kind, tier, los, surgical, rng).items()),
    )
