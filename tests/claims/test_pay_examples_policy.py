"""Hand-worked claims for the ``policy`` catalog's interpretation questions (issue 13):
each answer's default, and the other answer where the payment stage reads one.

Unless a test says otherwise a claim is a DN4 card (level 4, 80 %), outpatient, at a
district (basic-level) hospital.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import polars as pl

from claims.pay import Payment, pay
from tests.claims.paybuild import Claim, D, build, catalogs, claim, drug, one, policy


def _pay(c: Claim, **answers: str) -> Payment:
    """Pay one claim with the built-in policy, ``answers`` replacing some answers."""
    benefits, salaries = catalogs()
    table = policy()
    for question, given in answers.items():
        table = table.with_columns(
            pl.when(pl.col("question") == question)
            .then(pl.lit(given))
            .otherwise(pl.col("answer"))
            .alias("answer")
        )
    batch, _ = build(c)
    return pay(batch, benefits, salaries, policy=table)


def _facts(p: Payment) -> dict[str, Any]:
    return one(p.claims)


def test_the_policy_catalog_documents_every_question() -> None:
    """Every row has an answer among its choices, a [U] tag and a source."""
    rows = policy().to_dicts()
    assert {r["question"] for r in rows} >= {
        "k_area_low_cost",
        "base_salary_date",
        "supplies_ceiling_exempt_levels",
        "loose_supplies_package",
        "programme_line",
        "bed_ratio_below_shared",
        "operation_session",
    }
    for r in rows:
        assert r["tag"] == "[U]"
        assert r["source"]
        if r["choices"] and "|" in r["choices"]:
            assert r["answer"] in r["choices"].split("|")


# --- which date picks the base salary of a stay spanning 1 July (§2.5) ---------------

SPANNING = {
    "vao": datetime(2024, 6, 28, 8),
    "ra": datetime(2024, 7, 3, 10),
    "loai": "03",
}


def test_a_stay_spanning_1_july_takes_the_admission_salary_by_default() -> None:
    """Admitted 2024-06-28 (1,800,000), discharged 2024-07-03 (2,340,000): by default
    the admission's 1,800,000; threshold 15 % = 270,000, ceiling 45 × = 81,000,000.
    A 300,000 stay is then not low-cost (80 %); on the discharge reading the threshold
    is 351,000 and it is (100 %)."""
    stay = claim(drug(1, "300000"), muc=80, **SPANNING)
    default = _facts(_pay(stay))
    assert (default["base_salary"], default["low_cost_limit"]) == (
        D("1800000"),
        D("270000"),
    )
    assert default["supplies_ceiling"] == D("81000000")
    # 300,000 ≥ 270,000 → 80 %
    assert (default["low_cost"], default["law_muc_huong"]) == (False, 80)
    discharge = _facts(_pay(stay, base_salary_date="discharge"))
    assert (discharge["base_salary"], discharge["low_cost_limit"]) == (
        D("2340000"),
        D("351000"),
    )
    # 300,000 < 351,000 → 100 %
    assert (discharge["low_cost"], discharge["law_muc_huong"]) == (True, 100)


# --- K-area self-referrals before 2025 and the low-cost rule (§2.3.1, §2.4) ----------

K_AREA = {
    "route": "3.6",
    "tier": "district",
    "vao": datetime(2024, 3, 4, 8),
}


def test_a_k_area_self_referral_keeps_its_rate_under_the_threshold_by_default() -> None:
    """A K-area (3.6) outpatient at a district hospital in 2024: on-route rate 100 %
    of level 4 = 80 %; a 100,000 visit (< 270,000) is not low-cost by default, but is
    (100 %) when the policy counts K-area codes as on-route."""
    visit = claim(drug(1, "100000"), muc=80, **K_AREA)
    default = _pay(visit)
    assert (_facts(default)["low_cost"], _facts(default)["law_muc_huong"]) == (
        False,
        80,
    )
    # fund 100,000 × 80 % = 80,000
    assert one(default.lines)["law_bhtt"] == D("80000")
    on_route = _pay(visit, k_area_low_cost="on_route")
    assert (_facts(on_route)["low_cost"], _facts(on_route)["law_muc_huong"]) == (
        True,
        100,
    )
    assert one(on_route.lines)["law_bhtt"] == D("100000")
    # 280,000 ≥ 270,000: no longer low-cost on either reading
    dearer = _pay(claim(drug(1, "280000"), **K_AREA), k_area_low_cost="on_route")
    assert _facts(dearer)["law_muc_huong"] == 80


def test_exempt_levels_are_read_from_the_policy() -> None:
    """With no exempt levels a TE1 package of 110,000,000 is capped at 105,300,000."""
    from tests.claims.paybuild import supply

    package = claim(
        supply(1, "60000000", goi_vtyt="G1"),
        supply(1, "50000000", goi_vtyt="G1"),
        card="TE1010123456789",
        vao=datetime(2025, 3, 10, 8),
        ra=datetime(2025, 3, 15, 10),
        loai="03",
    )
    paid = _pay(package, supplies_ceiling_exempt_levels="")
    assert _facts(paid)["supplies_ceiling"] == D("105300000")
    cuts = paid.lines["package_cut"].sum()
    assert Decimal(cuts) == D("4700000")
