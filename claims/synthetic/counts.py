"""How many lines of each kind a planned claim gets (outpatient ~5–20, inpatient 50–300).

Per visit type (MA_LOAI_KCB): an exam always, a second specialty exam for a few
outpatients, tests more often at bigger facilities, one bed-day per day of a stay,
rehab sessions for a treatment course (02), a dialysis session (08), and enough
one-day drug lines to bring an inpatient stay to 50–300 lines.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

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
