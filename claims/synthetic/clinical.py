"""Clinical content of planned claims: department, doctor, diagnoses, outcome, lines.

Diagnoses are common ICD-10 codes with Vietnamese names most of the time and any WHO
leaf code otherwise; a surgical stay gets the diagnosis its surgery treats.

The number of lines of each kind (outpatient ~5–20, inpatient 50–300) comes from
:func:`line_counts`, per visit type (MA_LOAI_KCB): an exam always, a second specialty
exam for a few outpatients, tests more often at bigger facilities, one bed-day per day
of a stay, rehab sessions for a treatment course (02), a dialysis session (08), and
enough one-day drug lines to bring an inpatient stay to 50–300 lines.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from claims.synthetic.items import (
    SURGERY_DIAGNOSES,
    common_diagnoses,
    icd_leaf_pool,
    xml3_items,
)
from claims.synthetic.registry import WARDS

IMPLANT_SURGERIES = ("53.03", "79.36")
"""ICD-9-CM codes of surgeries that bring an implant (hernia mesh, bone plate)."""


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
    # a suture, plus an implant for hernia and fracture repairs (synthetic_services)
    supplies = surgical * (1 + np.isin(icd9, IMPLANT_SURGERIES))
    span = visits["ra"].to_numpy() - visits["vao"].to_numpy()
    frame = visits.join(doctors, on="fac", how="left", maintain_order="left")
    return frame.with_columns(
        pl.Series("dept", dept),
        pl.Series("khoa", np.where(ward & (rng.random(n) < 0.4), "K01;" + dept, dept)),
        _doctor(pl.Series(rng.random(n)), pl.Series(dept)).alias("doctor"),
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
        *(
            pl.Series(k, v)
            for k, v in line_counts(kind, tier, los, supplies, rng).items()
        ),
    )


def _doctor(draw: pl.Series, dept: pl.Series) -> pl.Expr:
    """The attending doctor's number at the facility: any doctor for an exam-department
    claim, one registered in the ward (``k % 3``, :mod:`claims.synthetic.registry`) for
    a ward stay."""
    ward = dept.replace_strict(
        {w: i for i, w in enumerate(WARDS)}, default=-1, return_dtype=pl.Int64
    )
    n_doc = pl.col("n_doc")
    anyone = (pl.lit(draw) * n_doc).cast(pl.Int64)
    in_ward = (pl.lit(draw) * ((n_doc - 1 - pl.lit(ward)) // len(WARDS) + 1)).cast(
        pl.Int64
    ) * len(WARDS) + pl.lit(ward)
    return pl.when(pl.lit(ward) >= 0).then(in_ward).otherwise(anyone)


# ---- line counts

Draw = Callable[[int, int], np.ndarray]
"""``u(lo, hi)``: one uniform integer in [lo, hi] per claim."""


def _tests(
    kind: np.ndarray,
    big: np.ndarray,
    los: np.ndarray,
    u: Draw,
    coin: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Labs, imaging and functional tests."""
    n = len(kind)
    k01, k03 = kind == "01", kind == "03"
    labs = np.select(
        [k01 & big, k01, kind == "05", k03, kind == "04", kind == "09", kind == "06"],
        [np.clip(rng.poisson(1.2, n), 0, 6), rng.binomial(2, 0.2, n),
         np.where(big, u(0, 3), u(0, 1)), np.clip(3 + 2 * los + rng.poisson(1, n), 0, 40),
         u(2, 8), u(2, 6), u(0, 2)],
        default=0,
    )  # fmt: skip
    imaging = np.select(
        [k01, k03, kind == "09", kind == "04"],
        [big & (coin[1] < 0.25), u(1, 3), u(0, 2), u(0, 1)],
        default=0,
    )
    functional = np.select([k01, k03], [big & (coin[2] < 0.08), u(0, 2)], default=0)
    return {"n_lab": labs, "n_img": imaging, "n_func": functional}


def _care(
    kind: np.ndarray,
    los: np.ndarray,
    surgical: np.ndarray,
    u: Draw,
    coin: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Procedures, surgery, bed-days, supplies and blood."""
    k01, k03 = kind == "01", kind == "03"
    stays = np.isin(kind, ["03", "04", "06"])
    procedures = np.select(
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
    )
    supplies = np.select(
        [k01, kind == "08", k03, np.isin(kind, ["04", "09", "06"])],
        [(coin[4] < 0.1) * u(1, 2), u(1, 3), u(2, 5), u(1, 3)],
        default=0,
    )
    return {
        "n_proc": procedures,
        "n_surg": surgical.astype(np.int64),
        "n_bed": np.where(stays, np.maximum(1, los), 0),  # bed-days ≤ days of stay (H4)
        "n_sup": supplies,
        "n_blood": np.where(k03 & (coin[5] < 0.03), u(1, 2), 0),
    }


def line_counts(
    kind: np.ndarray,
    tier: np.ndarray,
    los: np.ndarray,
    supplies: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Number of lines of each kind per claim, ``n_exam`` … ``n_drug`` and ``n_note``.

    Args:
        kind: MA_LOAI_KCB per claim.
        tier: tier index of the facility (0 commune … 3 central).
        los: calendar days from admission to discharge.
        supplies: supply lines a claim's surgery brings (0 without a surgery).
        rng: the run's random generator.
    """
    n = len(kind)

    def u(lo: int, hi: int) -> np.ndarray:
        return rng.integers(lo, hi + 1, n)

    coin = rng.random((6, n))
    surgical = supplies > 0
    counts = {"n_exam": 1 + ((kind == "01") & (tier >= 1) & (coin[0] < 0.08))}
    counts |= _tests(kind, tier >= 1, los, u, coin, rng)
    counts |= _care(kind, los, surgical, u, coin, rng)
    target = np.clip(
        30 + 12 * np.maximum(los, 1) + rng.normal(0, 10, n).astype(np.int64), 50, 300
    )
    fill = np.maximum(
        5, target - sum(counts.values()) - supplies
    )  # drugs fill the stay
    types = ["01", "02", "05", "08", "09", "06"]
    counts["n_drug"] = np.select(
        [kind == t for t in types] + [np.isin(kind, ["03", "04"])],
        [u(3, 9), u(0, 3), u(3, 7), u(0, 2), u(5, 15), u(4, 12), fill],
        default=0,
    )
    inpatient = np.isin(kind, ["03", "04", "06", "09"])
    counts["n_note"] = np.where(inpatient, los + 1 + surgical, 0)
    return counts
