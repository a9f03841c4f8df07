"""Hand-worked claims for the payment rules of issue 13 item 4, continued: the exam-day
cap and the chronic-drug exception to primary-care 100 % (§2.3.2, §2.6).

Unless a test says otherwise a claim is a DN4 card (level 4, 80 %), on-route (1.1),
outpatient, at a district (basic-level) hospital, admitted 2024-08-01: base salary
2,340,000, low-cost threshold 351,000.00.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import polars as pl

from tests.claims.paybuild import D, Run, claim, drug, one, rows, run, service

SHARES = ("law_bv", "law_bh", "law_bhtt", "law_bncct", "law_bntt")


def lines(r: Run, hoso_idx: int = 0) -> list[dict[str, Any]]:
    return rows(r.payment.lines, hoso_idx)


def facts(r: Run, hoso_idx: int = 0) -> dict[str, Any]:
    return one(r.payment.claims, hoso_idx)


def codes(r: Run, hoso_idx: int = 0) -> set[str]:
    reasons = r.decisions.reasons.filter(pl.col("hoso_idx") == hoso_idx)
    return set(reasons["code"])


def shares(line: dict[str, Any]) -> tuple[Decimal, ...]:
    return tuple(line[k] for k in SHARES)


def amounts(*values: str | int) -> tuple[Decimal, ...]:
    return tuple(D(v) for v in values)


# --- the exam-day cap (HT CK-053, ``exam_day_cap_multiple`` 2) ------------------------


def test_exam_fees_of_a_day_are_capped_at_twice_the_dearest_exam() -> None:
    """One exam billed 3 times at 50,000 (the first of the day, 100 %): 150,000 >
    2 × 50,000 = 100,000, so 50,000 is cut and moves to self-pay."""
    r = run(claim(service("13", 3, "50000"), muc=80))
    (exam,) = lines(r)
    # BH 100,000 < 351,000 → low-cost, the fund pays it all; self-pay 150,000 − 100,000
    assert shares(exam) == amounts("150000", "100000", "100000", 0, "50000")
    assert exam["pay_reason"] == "EXAM_DAY_CAP"
    assert "EXAM_DAY_CAP" in codes(r)


def test_two_exams_at_their_ratios_stay_under_the_cap() -> None:
    """50,000 at 100 % and 45,000 at 30 % = 63,500 ≤ 100,000: nothing cut; twice
    50,000 (qty 2 at 100 %) is exactly the cap: nothing cut either."""
    r = run(claim(service("13", 1, "50000"), service("13", 1, "45000")))
    first, second = lines(r)
    assert (first["law_bh"], second["law_bh"]) == (D("50000"), D("13500"))
    assert (first["pay_reason"], second["pay_reason"]) == (None, None)
    (twice,) = lines(run(claim(service("13", 2, "50000"))))
    assert (twice["law_bh"], twice["pay_reason"]) == (D("100000"), None)


def test_the_exam_cap_is_per_day() -> None:
    """3 × 50,000 on one day is cut to 100,000; 1 × 50,000 the next day is untouched."""
    r = run(
        claim(
            service("13", 3, "50000", day=datetime(2024, 8, 1, 9)),
            service("13", 1, "50000", day=datetime(2024, 8, 2, 9)),
            ra=datetime(2024, 8, 2, 17),
        )
    )
    day1, day2 = lines(r)
    assert (day1["law_bh"], day2["law_bh"]) == (D("100000"), D("50000"))


# --- chronic-disease drugs at primary level (§2.3.2, policy chronic_drug_visits) ------

PRIMARY = {"tier": "commune", "level": "primary", "vao": datetime(2025, 3, 4, 8)}


def test_chronic_drugs_at_primary_level_get_the_card_s_level() -> None:
    """A chronic drug-collection visit (05) at a commune station, DN4: the exam is paid
    at primary care's 100 %, the 1,000,000 of drugs at the card's 80 % (the visit's
    1,030,000 is above 351,000: not low-cost)."""
    r = run(
        claim(
            service("13", 1, "30000"),
            drug(10, "100000"),
            loai="05",
            muc=100,
            **PRIMARY,
        )
    )
    exam, pills = lines(r)
    assert facts(r)["law_muc_huong"] == 100
    assert (exam["law_muc_huong"], pills["law_muc_huong"]) == (100, 80)
    # exam 30,000 × 100 %; drugs 1,000,000 × 80 % = 800,000, co-pay 200,000
    assert shares(exam) == amounts("30000", "30000", "30000", 0, 0)
    assert shares(pills) == amounts("1000000", "1000000", "800000", "200000", 0)
    # the clinic claimed 100 % on the drugs: 200,000 rejected, BENEFIT_RATE_MISMATCH
    d = one(r.decisions.claims)
    assert (d["claimed_t_bhtt"], d["accepted_t_bhtt"]) == (D("1030000"), D("830000"))
    assert "BENEFIT_RATE_MISMATCH" in codes(r)


def test_chronic_drugs_of_a_low_cost_visit_or_another_visit_type_stay_at_100() -> None:
    """The same visit with 300,000 of drugs (330,000 < 351,000) is low-cost: 100 %; a
    general visit (01) at the commune station: primary care's 100 % for the drugs too."""
    low = run(claim(service("13", 1, "30000"), drug(3, "100000"), loai="05", **PRIMARY))
    assert [x["law_muc_huong"] for x in lines(low)] == [100, 100]
    general = run(
        claim(service("13", 1, "30000"), drug(10, "100000"), loai="01", **PRIMARY)
    )
    assert [x["law_muc_huong"] for x in lines(general)] == [100, 100]
