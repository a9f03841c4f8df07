"""Hand-worked claims through the payment and decision stages (§1.13, §2.1–§2.6).

Every expected amount is computed by hand in the comments next to it: the law's figures,
not the engine's. The claims are built without XML (``tests.claims.paybuild``); lines
are drugs (XML2), services and supplies (XML3). Unless a test says otherwise a claim is
a DN4 card (level 4, 80 %), on-route (MA_DOITUONG_KCB 1.1), outpatient, at a district
(basic-level) hospital, admitted 2024-08-01, when the base salary is 2,340,000 and the
low-cost threshold 15 % × 2,340,000 = 351,000.00.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.claims.paybuild import (
    D,
    Run,
    cents,
    claim,
    drug,
    one,
    rows,
    run,
    service,
    supply,
)

AUG_2024 = datetime(2024, 8, 1, 8, 0)
SHARES = ("law_bv", "law_bh", "law_bhtt", "law_bncct", "law_bntt")


def lines(r: Run, hoso_idx: int = 0) -> list[dict[str, Any]]:
    """The payment lines of one claim, in the order they were written."""
    return rows(r.payment.lines, hoso_idx)


def facts(r: Run, hoso_idx: int = 0) -> dict[str, Any]:
    """The payment facts of one claim (route, rates, thresholds, MUC_HUONG)."""
    return one(r.payment.claims, hoso_idx)


def decision(r: Run, hoso_idx: int = 0) -> dict[str, Any]:
    """The decision row of one claim."""
    return one(r.decisions.claims, hoso_idx)


def reasons(r: Run, hoso_idx: int = 0) -> list[dict[str, Any]]:
    """The reason rows of one claim."""
    return list(
        r.decisions.reasons.filter(pl.col("hoso_idx") == hoso_idx).iter_rows(named=True)
    )


def codes(r: Run, hoso_idx: int = 0) -> set[str]:
    """The reason codes of one claim."""
    return {x["code"] for x in reasons(r, hoso_idx)}


def shares(line: dict[str, Any]) -> tuple[Decimal, ...]:
    """THANH_TIEN_BV, THANH_TIEN_BH, T_BHTT, T_BNCCT, T_BNTT by law."""
    return tuple(line[k] for k in SHARES)


def amounts(*values: str | int) -> tuple[Decimal, ...]:
    return tuple(D(v) for v in values)


def inpatient(vao: datetime, days: int = 3) -> dict[str, Any]:
    """Inpatient stay keywords for :func:`claim`."""
    return {"vao": vao, "ra": vao + timedelta(days=days), "loai": "03"}


# --- benefit levels (§2.2) -------------------------------------------------------------


def test_level_1_ignores_the_payment_ratio() -> None:
    """Level 1 (TE1) is paid 100 % with no cap on ratio-paid items: a 50 % drug at 100 %."""
    r = run(claim(drug(10, "100000", ratio_bh=50), card="TE1010123456789"))
    (line,) = lines(r)
    assert facts(r)["benefit_level"] == 1
    assert line["law_ratio_bh"] == 100
    # BV = 10 × 100,000 = 1,000,000; BH = 1,000,000 × 100 % (ratio ignored);
    # fund = 1,000,000 × 100 % = 1,000,000; co-pay 0; self-pay 0
    assert shares(line) == amounts("1000000", "1000000", "1000000", 0, 0)
    assert line["law_muc_huong"] == 100


def test_level_2_is_100_percent_subject_to_payment_ratios() -> None:
    """Level 2 (CB2) is paid 100 %, but a 50 % drug pays only its covered half."""
    r = run(
        claim(
            drug(10, "100000"),
            drug(4, "250000", ratio_bh=50),
            card="CB2010123456789",
        )
    )
    full, half = lines(r)
    assert facts(r)["law_muc_huong"] == 100
    # 10 × 100,000 = 1,000,000 all covered → fund 1,000,000
    assert shares(full) == amounts("1000000", "1000000", "1000000", 0, 0)
    # 4 × 250,000 = 1,000,000; BH = 1,000,000 × 50 % = 500,000; fund 500,000 × 100 %;
    # self-pay 1,000,000 − 500,000 = 500,000
    assert half["law_ratio_bh"] == 50
    assert shares(half) == amounts("1000000", "500000", "500000", 0, "500000")


def test_level_3_is_95_percent() -> None:
    """Level 3 (HT3) on-route above the low-cost threshold: the fund pays 95 %."""
    r = run(claim(service("2", 1, "1000000"), card="HT3010123456789"))
    (line,) = lines(r)
    assert facts(r)["level_percent"] == 95
    # BH 1,000,000 ≥ 351,000; fund 1,000,000 × 95 % = 950,000; co-pay 50,000
    assert shares(line) == amounts("1000000", "1000000", "950000", "50000", 0)


def test_level_4_is_80_percent() -> None:
    """Level 4 (DN4) on-route above the low-cost threshold: the fund pays 80 %."""
    r = run(claim(drug(5, "200000")))
    (line,) = lines(r)
    assert facts(r)["law_muc_huong"] == 80
    # 5 × 200,000 = 1,000,000; fund 800,000; co-pay 200,000
    assert shares(line) == amounts("1000000", "1000000", "800000", "200000", 0)


def test_level_5_out_of_list_items_are_paid_by_the_budget() -> None:
    """Level 5 (QN5): 100 %, and a PHAM_VI 3 line is paid by the state budget, not the
    fund; the same line on a DN4 card is the patient's own."""
    army = claim(
        drug(10, "100000"),
        service("2", 1, "600000", pham_vi="3"),
        card="QN5010123456789",
    )
    worker = claim(drug(10, "100000"), service("2", 1, "600000", pham_vi="3"))
    r = run(army, worker)
    listed, outside = lines(r, 0)
    # in scope: 1,000,000 × 100 % = 1,000,000 from the fund
    assert shares(listed) == amounts("1000000", "1000000", "1000000", 0, 0)
    # PHAM_VI 3: BH 0, budget = BV = 600,000, nothing left to the patient
    assert shares(outside) == amounts("600000", 0, 0, 0, 0)
    assert outside["law_budget"] == D("600000")
    _, own = lines(r, 1)
    # DN4: no budget scope; BV 600,000 is all self-pay
    assert shares(own) == amounts("600000", 0, 0, 0, "600000")
    assert own["law_budget"] == 0


# --- route rates by period (§2.4) -----------------------------------------------------

ROUTES = [
    # id, card, route, tier, level, inpatient?, admission, route rate, MUC_HUONG
    # Law 25/2008 (to 2014): central 30 %, provincial 50 %: DN4 80 × 30 % = 24; × 50 % = 40
    ("2014 3.1 central in", "DN4", "3.1", "central", None, True, (2014, 5, 5), 30, 24),
    ("2014 3.2 prov in", "DN4", "3.2", "provincial", None, True, (2014, 5, 5), 50, 40),
    # 2015: district 70 % in- and outpatient: 80 × 70 % = 56
    (
        "2015 3.3 district in",
        "DN4",
        "3.3",
        "district",
        None,
        True,
        (2015, 6, 1),
        70,
        56,
    ),
    (
        "2015 3.3 district out",
        "DN4",
        "3.3",
        "district",
        None,
        False,
        (2015, 6, 1),
        70,
        56,
    ),
    # 2015 (Law 46/2014): provincial inpatient 60 % → 48; central outpatient 0 %
    ("2015 3.2 prov in", "DN4", "3.2", "provincial", None, True, (2015, 6, 1), 60, 48),
    ("2015 3.1 central out", "DN4", "3.1", "central", None, False, (2015, 6, 1), 0, 0),
    # 2016: district 100 % (thông tuyến huyện): 80 × 100 % = 80
    (
        "2016 3.3 district out",
        "DN4",
        "3.3",
        "district",
        None,
        False,
        (2016, 3, 1),
        100,
        80,
    ),
    # 2016–2020: central 40 % inpatient (80 × 40 % = 32), provincial 60 % (80 × 60 % = 48)
    ("2016 3.1 central in", "DN4", "3.1", "central", None, True, (2016, 9, 1), 40, 32),
    ("2019 3.2 prov in", "DN4", "3.2", "provincial", None, True, (2019, 9, 1), 60, 48),
    # 2021–2024: provincial inpatient 100 % (thông tuyến tỉnh): 80; outpatient 0
    ("2021 3.2 prov in", "DN4", "3.2", "provincial", None, True, (2021, 3, 1), 100, 80),
    ("2022 3.2 prov out", "DN4", "3.2", "provincial", None, False, (2022, 3, 1), 0, 0),
    # 2024: central inpatient 40 % → 32 (the §2.4 example); outpatient 0 %
    ("2024 3.1 central in", "DN4", "3.1", "central", None, True, (2024, 3, 4), 40, 32),
    ("2024 3.1 central out", "DN4", "3.1", "central", None, False, (2024, 3, 4), 0, 0),
    # 2025+: ex-central inpatient 40 %: HT3 95 × 40 % = 38; outpatient 0
    (
        "2025 3.1 central in",
        "HT3",
        "3.1",
        "central",
        "specialised",
        True,
        (2025, 9, 2),
        40,
        38,
    ),
    (
        "2025 3.1 central out",
        "DN4",
        "3.1",
        "central",
        "specialised",
        False,
        (2025, 9, 2),
        0,
        0,
    ),
    # 2025+: ex-provincial inpatient 100 % → 80
    (
        "2025 3.2 prov in",
        "DN4",
        "3.2",
        "provincial",
        "basic",
        True,
        (2025, 5, 5),
        100,
        80,
    ),
    # ex-provincial outpatient: 0 % until 2026-06-30, 50 % from 2026-07-01 → 80 × 50 % = 40
    (
        "2026-06 3.2 prov out",
        "DN4",
        "3.2",
        "provincial",
        "basic",
        False,
        (2026, 6, 30),
        0,
        0,
    ),
    (
        "2026-08 3.2 prov out",
        "DN4",
        "3.2",
        "provincial",
        "basic",
        False,
        (2026, 8, 3),
        50,
        40,
    ),
    # 1.13 / 1.14 self-referred outpatients at basic level: 0 % then 50 % from 2026-07-01
    ("2026-06 1.13", "DN4", "1.13", "district", "basic", False, (2026, 6, 30), 0, 0),
    ("2026-07 1.13", "DN4", "1.13", "district", "basic", False, (2026, 7, 1), 50, 40),
    ("2026-06 1.14", "DN4", "1.14", "district", "basic", False, (2026, 6, 15), 0, 0),
    ("2026-07 1.14", "DN4", "1.14", "district", "basic", False, (2026, 7, 20), 50, 40),
    # K1/K2/K3 residents (3.6, art. 22.5, to 2024): on-route rate inpatient at central
    # level and at district level (80); outpatient at central level stays 0 %
    ("2024 3.6 central in", "DN4", "3.6", "central", None, True, (2024, 3, 4), 100, 80),
    ("2024 3.6 central out", "DN4", "3.6", "central", None, False, (2024, 3, 4), 0, 0),
    (
        "2024 3.6 district out",
        "DN4",
        "3.6",
        "district",
        None,
        False,
        (2024, 3, 4),
        100,
        80,
    ),
    # emergency (code 2) is on-route at any facility: 100 % × level 80 = 80
    (
        "2024 emergency central",
        "DN4",
        "2",
        "central",
        None,
        True,
        (2024, 4, 1),
        100,
        80,
    ),
    (
        "2025 emergency central",
        "DN4",
        "2",
        "central",
        "specialised",
        False,
        (2025, 4, 1),
        100,
        80,
    ),
]


@pytest.mark.parametrize(
    ("card", "route", "tier", "level", "stay", "day", "rate", "muc"),
    [pytest.param(*case[1:], id=case[0]) for case in ROUTES],
)
def test_route_rate_by_period(
    card: str,
    route: str,
    tier: str,
    level: str | None,
    stay: bool,
    day: tuple[int, int, int],
    rate: int,
    muc: int,
) -> None:
    """MUC_HUONG = level % × the route rate of the period, facility tier and stay kind."""
    vao = datetime(*day, 8, 0)
    where = inpatient(vao) if stay else {"vao": vao}
    r = run(
        claim(
            drug(1, "1000000"),
            card=f"{card}010123456789",
            route=route,
            tier=tier,
            level=level,
            **where,
        )
    )
    fact = facts(r)
    (line,) = lines(r)
    assert (fact["route_rate"], fact["law_muc_huong"]) == (rate, muc)
    # BH 1,000,000 (above every low-cost threshold); fund = 1,000,000 × MUC_HUONG %
    fund = D(10000 * muc)
    assert (line["law_bhtt"], line["law_bncct"]) == (fund, D(1000000) - fund)


# --- primary level (§2.3.2) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "tier", "level", "muc"),
    [
        # commune station before 2025: 100 % whatever the card level
        pytest.param((2023, 5, 2), "commune", None, 100, id="2023 commune"),
        # from 2025 the 2025 level decides: primary → 100 %
        pytest.param((2025, 10, 1), "commune", "primary", 100, id="2025 primary"),
        # basic level is not primary: DN4 keeps 80 %
        pytest.param((2025, 10, 1), "district", "basic", 80, id="2025 basic"),
    ],
)
def test_primary_level_pays_100_percent_on_route(
    day: tuple[int, int, int], tier: str, level: str | None, muc: int
) -> None:
    """On-route visits at primary level (commune station) are paid 100 % for a DN4 card."""
    r = run(claim(drug(1, "1000000"), vao=datetime(*day, 8), tier=tier, level=level))
    assert facts(r)["law_muc_huong"] == muc
    # BH 1,000,000 (not low-cost): fund 1,000,000 × 100 % or × 80 %
    assert lines(r)[0]["law_bhtt"] == D(10000 * muc)


# --- low-cost visit (§2.3.1, §2.5) ----------------------------------------------------


@pytest.mark.parametrize(
    ("day", "salary", "limit", "bh", "muc", "fund"),
    [
        # 15 % × 1,490,000 = 223,500.00: one cent below → 100 %; at it → 80 %
        pytest.param((2022, 5, 10), "1490000", "223500", "223499.99", 100, "223499.99"),
        # 223,500.00 × 80 % = 178,800.00
        pytest.param((2022, 5, 10), "1490000", "223500", "223500.00", 80, "178800.00"),
        # 15 % × 1,800,000 = 270,000.00; 270,000 × 80 % = 216,000.00
        pytest.param((2024, 1, 15), "1800000", "270000", "269999.99", 100, "269999.99"),
        pytest.param((2024, 1, 15), "1800000", "270000", "270000.00", 80, "216000.00"),
        # 15 % × 2,340,000 = 351,000.00; 351,000 × 80 % = 280,800.00
        pytest.param((2025, 3, 10), "2340000", "351000", "350999.99", 100, "350999.99"),
        pytest.param((2025, 3, 10), "2340000", "351000", "351000.00", 80, "280800.00"),
        # 15 % × 2,530,000 = 379,500.00; 379,500 × 80 % = 303,600.00
        pytest.param((2026, 8, 10), "2530000", "379500", "379499.99", 100, "379499.99"),
        pytest.param((2026, 8, 10), "2530000", "379500", "379500.00", 80, "303600.00"),
        # the salary of the admission date: 300,000 ≥ 270,000 on 2024-06-30 (80 % →
        # 240,000) but < 351,000 from 2024-07-01 (100 %)
        pytest.param((2024, 6, 30), "1800000", "270000", "300000", 80, "240000"),
        pytest.param((2024, 7, 1), "2340000", "351000", "300000", 100, "300000"),
    ],
)
def test_low_cost_visit_threshold(
    day: tuple[int, int, int], salary: str, limit: str, bh: str, muc: int, fund: str
) -> None:
    """On-route, T_TONGCHI_BH strictly below 15 % of the base salary is paid 100 %."""
    r = run(claim(drug(1, bh), vao=datetime(*day, 8)))
    fact = facts(r)
    assert (fact["base_salary"], fact["low_cost_limit"]) == (D(salary), D(limit))
    # and the supplies ceiling 45 × LCS: 67,050,000 / 81,000,000 / 105,300,000 /
    # 113,850,000 (§2.5 table)
    assert fact["supplies_ceiling"] == 45 * D(salary)
    assert fact["law_t_tongchi_bh"] == D(bh)
    assert fact["law_muc_huong"] == muc
    (line,) = lines(r)
    assert (line["law_bhtt"], line["law_bncct"]) == (D(fund), D(bh) - D(fund))


def test_low_cost_rule_is_on_route_only() -> None:
    """An off-route claim under the threshold keeps its off-route rate (DH bang02 row 27)."""
    r = run(
        claim(
            drug(1, "100000"),
            route="3.1",
            tier="central",
            **inpatient(datetime(2024, 1, 15, 8)),
        )
    )
    fact = facts(r)
    # 100,000 < 270,000 but off-route: 80 × 40 % = 32 → fund 32,000, co-pay 68,000
    assert (fact["low_cost"], fact["law_muc_huong"]) == (False, 32)
    assert shares(lines(r)[0]) == amounts("100000", "100000", "32000", "68000", 0)


def test_low_cost_is_judged_on_the_law_amount() -> None:
    """The threshold compares the law's T_TONGCHI_BH (at the catalog price), not the
    clinic's: 400,000 claimed at a 300,000 catalog price is a low-cost visit."""
    r = run(claim(drug(1, "400000", catalog_price="300000"), muc=80))
    fact = facts(r)
    # BH 1 × 300,000 = 300,000 < 351,000 → 100 %: fund 300,000;
    # self-pay BV 400,000 − BH 300,000 = 100,000
    assert (fact["law_t_tongchi_bh"], fact["law_muc_huong"]) == (D(300000), 100)
    assert shares(lines(r)[0]) == amounts("400000", "300000", "300000", 0, "100000")
    # the clinic claimed 400,000 × 80 % = 320,000; accepted 300,000
    d = decision(r)
    assert (d["accepted_t_bhtt"], d["rejected_amount"]) == (D(300000), D(20000))
    assert {"CATALOG_PRICE", "LOW_COST_THRESHOLD"} <= codes(r)


# --- supplies ceiling (§2.6, TT 04/2017 art. 3.2(b)) ----------------------------------


def test_supplies_ceiling_cuts_a_package_in_proportion() -> None:
    """One GOI_VTYT package's in-scope supplies are capped at 45 × base salary; the cut is
    spread over its lines in proportion, adds up to the excess and moves to T_BNTT."""
    r = run(
        claim(
            supply(1, "60000000", goi_vtyt="G1"),
            supply(1, "50000000", goi_vtyt="G1"),
            vao=datetime(2025, 3, 10, 8),
            ra=datetime(2025, 3, 15, 10),
            loai="03",
        )
    )
    # ceiling 45 × 2,340,000 = 105,300,000.00; package 110,000,000 → excess 4,700,000
    assert facts(r)["supplies_ceiling"] == D("105300000")
    a, b = lines(r)
    # cumulative rounding: A = round(4,700,000 × 60/110) = 2,563,636.36;
    # B = 4,700,000 − 2,563,636.36 = 2,136,363.64
    assert (a["package_cut"], b["package_cut"]) == (D("2563636.36"), D("2136363.64"))
    assert a["package_cut"] + b["package_cut"] == D("4700000")
    # BH A = 60,000,000 − 2,563,636.36 = 57,436,363.64, fund × 80 % = 45,949,090.912
    # → 45,949,090.91, co-pay 11,487,272.73, self-pay = the cut 2,563,636.36
    assert shares(a) == amounts(
        "60000000", "57436363.64", "45949090.91", "11487272.73", "2563636.36"
    )
    # BH B = 50,000,000 − 2,136,363.64 = 47,863,636.36, fund × 80 % = 38,290,909.088
    # → 38,290,909.09, co-pay 9,572,727.27, self-pay 2,136,363.64
    assert shares(b) == amounts(
        "50000000", "47863636.36", "38290909.09", "9572727.27", "2136363.64"
    )
    # the fund pays 80 % of the capped package: 105,300,000 × 80 % = 84,240,000
    assert a["law_bhtt"] + b["law_bhtt"] == D("84240000")
    assert "SUPPLIES_CEILING" in codes(r)


def test_supplies_below_the_ceiling_are_untouched_and_loose_ones_are_a_package() -> (
    None
):
    """A package one cent under the ceiling keeps its BH; a second package over it on
    the same claim is cut alone; supplies without GOI_VTYT are the claim's own package
    (issue 13: they no longer escape the ceiling)."""
    r = run(
        claim(
            supply(1, "55000000", goi_vtyt="G1"),
            supply(1, "50299999.99", goi_vtyt="G1"),
            supply(1, "120000000", goi_vtyt="G2"),
            supply(1, "110000000"),
            vao=datetime(2025, 3, 10, 8),
            ra=datetime(2025, 3, 15, 10),
            loai="03",
        )
    )
    g1a, g1b, g2, loose = lines(r)
    # G1: 55,000,000 + 50,299,999.99 = 105,299,999.99 < 105,300,000.00 → no cut
    assert (g1a["package_cut"], g1b["package_cut"]) == (0, 0)
    assert (g1a["law_bh"], g1b["law_bh"]) == (D("55000000"), D("50299999.99"))
    # G2 alone: 120,000,000 − 105,300,000 = 14,700,000 cut; BH 105,300,000;
    # fund 84,240,000; co-pay 21,060,000; self-pay 14,700,000
    assert g2["package_cut"] == D("14700000")
    assert shares(g2) == amounts(
        "120000000", "105300000", "84240000", "21060000", "14700000"
    )
    # no GOI_VTYT: the claim's loose package, 110,000,000 − 105,300,000 = 4,700,000 cut;
    # fund 105,300,000 × 80 % = 84,240,000; co-pay 21,060,000; self-pay 4,700,000
    assert loose["package_cut"] == D("4700000")
    assert shares(loose) == amounts(
        "110000000", "105300000", "84240000", "21060000", "4700000"
    )


# --- exam-fee sequence (§2.6, TT 35/2016 art. 4b) -------------------------------------


def test_exam_sequence_of_one_day() -> None:
    """Six exams the same day: 100/30/30/30/10/0 by price, highest first."""
    prices = ["35000", "50000", "25000", "45000", "30000", "40000"]
    r = run(claim(*(service("13", 1, p) for p in prices)))
    got = lines(r)
    # ranks by price: 50,000 → 100; 45,000, 40,000, 35,000 → 30; 30,000 → 10; 25,000 → 0
    assert [x["law_ratio_dv"] for x in got] == [30, 100, 0, 30, 10, 30]
    # BH: 35,000 × 30 % = 10,500; 50,000; 0; 45,000 × 30 % = 13,500;
    # 30,000 × 10 % = 3,000; 40,000 × 30 % = 12,000
    expected = ["10500", "50000", "0", "13500", "3000", "12000"]
    assert [x["law_bh"] for x in got] == [D(v) for v in expected]
    # total 89,000 < 351,000 on-route: low-cost, the fund pays all of it
    assert facts(r)["law_t_tongchi_bh"] == D("89000")
    assert [x["law_bhtt"] for x in got] == [D(v) for v in expected]
    # the clinic billed every exam at 100: five exam-ratio reasons
    exam = [x for x in reasons(r) if x["code"] == "EXAM_RATIO"]
    assert len(exam) == 5


def test_exam_sequence_restarts_each_day() -> None:
    """Exams on different days are ranked per day: each day's first exam is at 100 %."""
    day1, day2 = datetime(2024, 8, 1, 9), datetime(2024, 8, 2, 9)
    r = run(
        claim(
            service("13", 1, "50000", day=day1),
            service("13", 1, "40000", day=day1),
            service("13", 1, "30000", day=day2),
            service("13", 1, "20000", day=day2),
            ra=datetime(2024, 8, 2, 17),
        )
    )
    got = lines(r)
    # day 1: 50,000 → 100, 40,000 → 30; day 2: 30,000 → 100, 20,000 → 30
    assert [x["law_ratio_dv"] for x in got] == [100, 30, 100, 30]
    # BH 50,000; 12,000; 30,000; 6,000
    assert [x["law_bh"] for x in got] == list(
        amounts("50000", "12000", "30000", "6000")
    )


# --- shared beds (§2.6, art. 4c) ------------------------------------------------------


def test_shared_beds_keep_50_and_33_and_floor_70_to_50() -> None:
    """Shared beds: 2 per bed 50 %, 3+ per bed 33 %; any other ratio floors to the next."""
    days = [datetime(2024, 8, d, 9) for d in (1, 2, 3)]
    r = run(
        claim(
            service("14", 1, "300000", ratio_dv=50, day=days[0]),
            service("14", 1, "300000", ratio_dv=33, day=days[1]),
            service("14", 1, "300000", ratio_dv=70, day=days[2]),
            **inpatient(AUG_2024),
        )
    )
    fifty, third, seventy = lines(r)
    assert [x["law_ratio_dv"] for x in (fifty, third, seventy)] == [50, 33, 50]
    # BH 300,000 × 50 % = 150,000; × 33 % = 99,000; 70 → 50 % = 150,000;
    # total 399,000 ≥ 351,000 → 80 %: 120,000 / 79,200 / 120,000
    assert shares(fifty) == amounts("150000", "150000", "120000", "30000", 0)
    assert shares(third) == amounts("99000", "99000", "79200", "19800", 0)
    assert shares(seventy) == amounts("150000", "150000", "120000", "30000", 0)
    bed = [x for x in reasons(r) if x["code"] == "BED_RATIO"]
    assert [x["line_no"] for x in bed] == [3]


# --- several surgeries and procedures (§2.6, art. 4d) ---------------------------------

SURGERY_DAY = datetime(2024, 8, 2, 9)


def _operations(*lines_: Any) -> Run:
    return run(claim(*lines_, **inpatient(AUG_2024)))


def test_second_surgery_by_the_same_team_is_50_percent() -> None:
    """A second surgery the same session by the same team (same NGUOI_THUC_HIEN set): 50 %."""
    r = _operations(
        service("8", 1, "5000000", performers="BS01;BS02", day=SURGERY_DAY),
        service("8", 1, "3000000", performers="BS02; BS01", day=SURGERY_DAY),
    )
    first, second = lines(r)
    assert (first["law_ratio_dv"], second["law_ratio_dv"]) == (100, 50)
    # 5,000,000 × 100 % → fund 80 % = 4,000,000; 3,000,000 × 50 % = 1,500,000 → 1,200,000
    assert shares(first) == amounts("5000000", "5000000", "4000000", "1000000", 0)
    assert shares(second) == amounts("1500000", "1500000", "1200000", "300000", 0)


def test_second_surgery_by_another_team_is_80_percent() -> None:
    """A second surgery by another team: 80 %."""
    r = _operations(
        service("8", 1, "5000000", performers="BS01;BS02", day=SURGERY_DAY),
        service("8", 1, "3000000", performers="BS03;BS04", day=SURGERY_DAY),
    )
    _, second = lines(r)
    # 3,000,000 × 80 % = 2,400,000; fund × 80 % = 1,920,000
    assert second["law_ratio_dv"] == 80
    assert shares(second) == amounts("2400000", "2400000", "1920000", "480000", 0)


def test_additional_procedure_is_80_percent_whatever_the_team() -> None:
    """A procedure (MA_NHOM 18) after a surgery, even by the same team: 80 %."""
    r = _operations(
        service("8", 1, "5000000", performers="BS01;BS02", day=SURGERY_DAY),
        service("18", 1, "1000000", performers="BS01;BS02", day=SURGERY_DAY),
    )
    _, procedure = lines(r)
    # 1,000,000 × 80 % = 800,000; fund 640,000
    assert procedure["law_ratio_dv"] == 80
    assert shares(procedure) == amounts("800000", "800000", "640000", "160000", 0)


def test_surgery_ranks_before_a_pricier_procedure() -> None:
    """The surgery is the main service at 100 %; a pricier procedure is additional (80 %)."""
    r = _operations(
        service("18", 1, "3000000", performers="BS01", day=SURGERY_DAY),
        service("8", 1, "2000000", performers="BS01", day=SURGERY_DAY),
    )
    procedure, surgery = lines(r)
    assert (surgery["law_ratio_dv"], procedure["law_ratio_dv"]) == (100, 80)
    # surgery 2,000,000 → fund 1,600,000; procedure 3,000,000 × 80 % = 2,400,000 → 1,920,000
    assert shares(surgery) == amounts("2000000", "2000000", "1600000", "400000", 0)
    assert shares(procedure) == amounts("2400000", "2400000", "1920000", "480000", 0)


# --- other sources (§1.13.5 case (a)) -------------------------------------------------


def test_other_sources_offset_self_pay_then_co_pay_then_the_fund() -> None:
    """T_NGUONKHAC for the patient pays the self-pay first, then the co-pay, then the
    fund's share."""
    r = run(
        claim(
            *(
                service("2", 1, "1000000", price_bv="1200000", nguonkhac=n)
                for n in ("150000", "300000", "500000")
            )
        )
    )
    small, middle, large = lines(r)
    # each line: BV 1,200,000; BH 1,000,000; fund 800,000; co-pay 200,000;
    # self-pay 1,200,000 − 1,000,000 = 200,000 before other sources
    # 150,000: self-pay 200,000 − 150,000 = 50,000
    assert shares(small)[2:] == amounts("800000", "200000", "50000")
    assert small["law_nguonkhac"] == D("150000")
    # 300,000: self-pay 0 (200,000), co-pay 200,000 − 100,000 = 100,000
    assert shares(middle)[2:] == amounts("800000", "100000", 0)
    # 500,000: self-pay 0, co-pay 0 (200,000), fund 800,000 − 100,000 = 700,000
    assert shares(large)[2:] == amounts("700000", 0, 0)
    for line in (small, middle, large):
        total = line["law_bhtt"] + line["law_bncct"] + line["law_bntt"]
        assert total + line["law_nguonkhac"] == line["law_bv"]


def test_support_to_the_facility_comes_off_the_cost_first_when_the_catalog_says_so() -> (
    None
):
    """Case (b) of §1.13.5, the spec's own example: cost 10,000,000, 3,000,000 donated,
    TYLE_TT_BH 50, MUC_HUONG 80 → THANH_TIEN_BH 3,500,000, T_BHTT 2,800,000, T_BNCCT
    700,000, T_BNTT 3,500,000 (``other_source_case`` 2 in the benefits catalog)."""
    from claims.pay import pay
    from tests.claims.paybuild import build, catalogs, policy

    benefits, salaries = catalogs()
    switch = (pl.col("kind") == "threshold") & (pl.col("key") == "other_source_case")
    case_b = benefits.with_columns(
        pl.when(switch)
        .then(pl.lit(2))
        .otherwise(pl.col("value"))
        .cast(benefits.schema["value"])
        .alias("value")
    )
    batch, _ = build(claim(drug(1, "10000000", ratio_bh=50, nguonkhac="3000000")))
    line = pay(batch, case_b, salaries, policy=policy()).lines.row(0, named=True)
    assert line["law_muc_huong"] == 80
    assert shares(line) == amounts(
        "10000000", "3500000", "2800000", "700000", "3500000"
    )
    assert line["law_nguonkhac"] == D("3000000")
    # the default reading (case (a)) offsets self-pay: 5,000,000 − 3,000,000
    default = lines(run(claim(drug(1, "10000000", ratio_bh=50, nguonkhac="3000000"))))[
        0
    ]
    assert shares(default) == amounts(
        "10000000", "5000000", "4000000", "1000000", "2000000"
    )


# --- exemption from co-pay (§2.3.3) ---------------------------------------------------


def test_exemption_from_a_date_within_the_stay() -> None:
    """NGAY_MIEN_CCT after admission: lines on or after it at 100 %, before it at 80 %."""
    r = run(
        claim(
            drug(1, "1000000", day=datetime(2024, 8, 2, 9)),
            drug(1, "1000000", day=datetime(2024, 8, 3, 9)),
            service("2", 1, "500000", day=datetime(2024, 8, 4, 9)),
            exempt=datetime(2024, 8, 3),
            **inpatient(AUG_2024, days=4),
        )
    )
    fact = facts(r)
    assert (fact["law_muc_huong"], fact["exempt_from"]) == (
        80,
        datetime(2024, 8, 3).date(),
    )
    before, on, after = lines(r)
    # 2024-08-02: 1,000,000 × 80 % = 800,000, co-pay 200,000
    assert (before["law_muc_huong"], before["law_bhtt"], before["law_bncct"]) == (
        80,
        D("800000"),
        D("200000"),
    )
    # 2024-08-03 (the date itself) and 2024-08-04: 100 %, no co-pay
    assert (on["law_muc_huong"], on["law_bhtt"], on["law_bncct"]) == (
        100,
        D("1000000"),
        0,
    )
    assert (after["law_muc_huong"], after["law_bhtt"], after["law_bncct"]) == (
        100,
        D("500000"),
        0,
    )


def test_exemption_lasts_for_the_rest_of_its_year_only() -> None:
    """The co-pay exemption covers the rest of the calendar year it starts in (§2.3.3):
    a NGAY_MIEN_CCT of 2024 does not exempt a 2025 visit."""
    r = run(
        claim(
            drug(1, "1000000"),
            exempt=datetime(2024, 9, 1),
            **inpatient(datetime(2025, 3, 4, 8)),
        )
    )
    (line,) = lines(r)
    # 2025 visit, DN4 on-route: 1,000,000 × 80 % = 800,000; co-pay 200,000
    assert (line["law_muc_huong"], line["law_bhtt"], line["law_bncct"]) == (
        80,
        D("800000"),
        D("200000"),
    )


def test_exemption_does_not_lift_an_off_route_rate() -> None:
    """The 5-year exemption applies to on-route care only: off-route stays at 32 %."""
    r = run(
        claim(
            drug(1, "1000000"),
            route="3.1",
            tier="central",
            exempt=datetime(2024, 1, 1),
            **inpatient(datetime(2024, 3, 4, 8)),
        )
    )
    # 80 × 40 % = 32: fund 320,000, co-pay 680,000
    assert shares(lines(r)[0]) == amounts("1000000", "1000000", "320000", "680000", 0)


# --- rounding half-up at each step (§1.13.6) ------------------------------------------


def test_rounding_quantity_times_price_then_the_share() -> None:
    """Each product is rounded half-up to 2 decimals before the next one is taken."""
    r = run(claim(drug(3, "333.335"), drug(1, "1000000")))
    small, _ = lines(r)
    # 3 × 333.335 = 1,000.005 → 1,000.01; claim BH 1,001,000.01 → 80 %;
    # fund 1,000.01 × 80 % = 800.008 → 800.01 (unrounded 1,000.005 × 80 % = 800.004 → 800.00)
    assert shares(small) == amounts("1000.01", "1000.01", "800.01", "200.00", 0)


def test_rounding_a_half_cent_fund_share_up() -> None:
    """A 95 % share ending in half a cent rounds up."""
    r = run(
        claim(service("1", 1, "1000.10"), drug(1, "1000000"), card="HT3010123456789")
    )
    small, _ = lines(r)
    # 1,000.10 × 95 % = 950.095 → 950.10; co-pay 1,000.10 − 950.10 = 50.00
    assert shares(small) == amounts("1000.10", "1000.10", "950.10", "50.00", 0)


def test_rounding_service_ratio_then_payment_ratio() -> None:
    """TYLE_TT_DV and TYLE_TT_BH are applied one after the other, each rounded."""
    r = run(
        claim(
            drug(1, "1000.01", ratio_bh=50),
            service("1", 1, "1000.01", ratio_dv=50, ratio_bh=50),
            card="CB2010123456789",
        )
    )
    half, quarter = lines(r)
    # 1,000.01 × 50 % = 500.005 → 500.01; level 2 fund 100 %; self-pay 500.00
    assert shares(half) == amounts("1000.01", "500.01", "500.01", 0, "500.00")
    # BV 1,000.01 × 50 % = 500.005 → 500.01; BH 500.01 × 50 % = 250.005 → 250.01
    # (unrounded 1,000.01 × 25 % = 250.0025 → 250.00); self-pay 500.01 − 250.01 = 250.00
    assert shares(quarter) == amounts("500.01", "250.01", "250.01", 0, "250.00")


# --- decisions ------------------------------------------------------------------------


def test_underclaimed_is_paid_what_was_claimed() -> None:
    """The accepted T_BHTT never exceeds the clinic's claim: an under-claim is paid as
    claimed and reported UNDERCLAIMED."""
    r = run(claim(drug(1, "1000000"), muc=70))
    # law: 1,000,000 × 80 % = 800,000; the clinic claimed 1,000,000 × 70 % = 700,000
    (line,) = rows(r.decisions.lines)
    assert (line["law_bhtt"], line["claimed_bhtt"]) == (D("800000"), D("700000"))
    assert line["accepted_bhtt"] == D("700000")
    d = decision(r)
    assert (d["claimed_t_bhtt"], d["accepted_t_bhtt"]) == (D("700000"), D("700000"))
    assert (d["rejected_amount"], d["outcome"]) == (0, "accepted")
    assert {"UNDERCLAIMED", "BENEFIT_RATE_MISMATCH"} <= codes(r)


def test_price_above_catalog_is_paid_at_the_catalog_price() -> None:
    """A unit price above the catalog is paid at the catalog price (CATALOG_PRICE)."""
    r = run(claim(drug(10, "120000", catalog_price="100000"), muc=80))
    (line,) = lines(r)
    assert line["law_price"] == D("100000")
    # BV 10 × 120,000 = 1,200,000; BH 10 × 100,000 = 1,000,000; fund 800,000;
    # co-pay 200,000; self-pay 1,200,000 − 1,000,000 = 200,000
    assert shares(line) == amounts("1200000", "1000000", "800000", "200000", "200000")
    d = decision(r)
    # claimed 1,200,000 × 80 % = 960,000; accepted 800,000; rejected 160,000
    assert (d["claimed_t_bhtt"], d["accepted_t_bhtt"]) == (D("960000"), D("800000"))
    assert (d["rejected_amount"], d["outcome"]) == (D("160000"), "partially_accepted")
    assert "CATALOG_PRICE" in codes(r)


def test_withdrawn_claim_is_paid_nothing() -> None:
    """MA_DOITUONG_KCB 8 withdraws the payment request: 0 paid, outcome rejected."""
    r = run(claim(drug(1, "1000000"), route="8", muc=80))
    d = decision(r)
    # claimed 800,000, accepted 0, all of it rejected
    assert (d["claimed_t_bhtt"], d["accepted_t_bhtt"]) == (D("800000"), 0)
    assert (d["rejected_amount"], d["outcome"], d["withdrawn"]) == (
        D("800000"),
        "rejected",
        True,
    )
    (line,) = rows(r.decisions.lines)
    assert (line["refused_by"], line["accepted_bhtt"]) == ("CLAIM_WITHDRAWN", 0)
    assert "CLAIM_WITHDRAWN" in codes(r)


def test_card_not_covering_the_stay_is_rejected() -> None:
    """A card that ended before admission covers no day of the stay: the claim is
    refused (a card ending during an inpatient stay: ``test_pay_examples_issue13``)."""
    r = run(
        claim(
            drug(1, "1000000"),
            card_to="20240729",
            muc=80,
            **inpatient(datetime(2024, 7, 30, 8)),
        )
    )
    d = decision(r)
    # claimed 800,000; accepted 0
    assert (d["accepted_t_bhtt"], d["rejected_amount"], d["outcome"]) == (
        0,
        D("800000"),
        "rejected",
    )
    assert "CARD_NOT_COVERING_STAY" in codes(r)


def test_benefit_rate_mismatch_names_claimed_and_law_percent() -> None:
    """An off-route stay claimed at 80 % is paid at 32 %; the reason names both."""
    r = run(
        claim(
            drug(2, "1000000"),
            route="3.1",
            tier="central",
            muc=80,
            **inpatient(datetime(2024, 3, 4, 8)),
        )
    )
    d = decision(r)
    # claimed 2,000,000 × 80 % = 1,600,000; law × 32 % = 640,000; rejected 960,000
    assert (d["claimed_t_bhtt"], d["accepted_t_bhtt"]) == (D("1600000"), D("640000"))
    assert (d["rejected_amount"], d["outcome"]) == (D("960000"), "partially_accepted")
    (why,) = [x for x in reasons(r) if x["code"] == "BENEFIT_RATE_MISMATCH"]
    assert "80.00%" in why["message"]
    assert why["message"].endswith("32.00%")


def test_line_not_in_catalog_is_refused() -> None:
    """A line with no catalog row is refused and its claimed T_BHTT is rejected."""
    r = run(claim(drug(1, "1000000"), drug(10, "50000", in_catalog=False), muc=80))
    listed, missing = rows(r.decisions.lines)
    # listed: 1,000,000 × 80 % = 800,000 accepted
    assert listed["accepted_bhtt"] == D("800000")
    # missing: claimed 500,000 × 80 % = 400,000, refused, all rejected
    assert (missing["refused_by"], missing["accepted_bhtt"]) == ("NOT_IN_CATALOG", 0)
    assert missing["rejected_amount"] == D("400000")
    d = decision(r)
    # claimed 1,200,000; accepted 800,000; rejected 400,000
    assert (d["claimed_t_bhtt"], d["accepted_t_bhtt"]) == (D("1200000"), D("800000"))
    assert (d["rejected_amount"], d["outcome"]) == (D("400000"), "partially_accepted")


def test_a_zero_priced_catalog_code_is_paid_zero_but_is_not_out_of_catalog() -> None:
    """A code the catalog lists at price 0 pays nothing, yet it is in the catalog: the
    line is not refused as NOT_IN_CATALOG (the pack's zero-price rule speaks for it)."""
    r = run(claim(drug(1, "1000000"), drug(2, "5000", catalog_price="0"), muc=80))
    _, zero = rows(r.decisions.lines)
    assert zero["law_bh"] == 0
    assert zero["accepted_bhtt"] == 0
    assert zero["refused_by"] is None
    assert zero["rejected_amount"] == D("8000")  # 2 × 5,000 × 80 % claimed


def test_claim_total_caps_the_accepted_lines() -> None:
    """The accepted T_BHTT is capped at the XML1 T_BHTT; the cut is spread over lines."""
    r = run(
        claim(
            drug(1, "750000"),
            drug(1, "250000"),
            muc=80,
            totals={"t_bhtt": D("700000")},
        )
    )
    a, b = rows(r.decisions.lines)
    # law 600,000 + 200,000 = 800,000 > 700,000 claimed: excess 100,000;
    # A cut round(100,000 × 600/800) = 75,000 → 525,000; B cut 25,000 → 175,000
    assert (a["accepted_bhtt"], b["accepted_bhtt"]) == (D("525000"), D("175000"))
    d = decision(r)
    assert (d["accepted_t_bhtt"], d["rejected_amount"]) == (D("700000"), 0)
    assert "CLAIM_TOTAL_CAP" in codes(r)


def test_decision_totals_add_up_across_a_batch() -> None:
    """For every claim of a mixed batch: rejected = claimed − accepted ≥ 0, accepted ≤
    claimed, claim totals are the sums of their lines, and each claim is decided the
    same as on its own."""
    batch = [
        claim(drug(1, "1000000"), muc=70),
        claim(drug(10, "120000", catalog_price="100000"), muc=80),
        claim(drug(1, "1000000"), route="8", muc=80),
        claim(drug(1, "1000000"), drug(10, "50000", in_catalog=False), muc=80),
        claim(
            drug(2, "1000000"),
            route="3.1",
            tier="central",
            muc=80,
            **inpatient(datetime(2024, 3, 4, 8)),
        ),
        claim(
            service("2", 1, "1000000", price_bv="1200000", nguonkhac="500000"),
            muc=80,
        ),
        claim(
            supply(1, "60000000", goi_vtyt="G1"),
            supply(1, "50000000", goi_vtyt="G1"),
            muc=80,
            **inpatient(datetime(2025, 3, 10, 8)),
        ),
        claim(*(service("13", 1, p) for p in ("50000", "40000", "30000"))),
    ]
    r = run(*batch)
    pairs = (
        ("t_tongchi_bv", "bv"),
        ("t_tongchi_bh", "bh"),
        ("t_bhtt", "bhtt"),
        ("t_bncct", "bncct"),
        ("t_bntt", "bntt"),
        ("t_nguonkhac", "nguonkhac"),
    )
    for i, c in enumerate(batch):
        d = decision(r, i)
        assert d["rejected_amount"] >= 0
        assert d["rejected_amount"] == d["claimed_t_bhtt"] - d["accepted_t_bhtt"]
        assert d["accepted_t_bhtt"] <= d["claimed_t_bhtt"]
        got = rows(r.decisions.lines, i)
        for total, line in pairs:
            assert d[f"law_{total}"] == sum(x[f"law_{line}"] for x in got)
            assert d[f"accepted_{total}"] == sum(x[f"accepted_{line}"] for x in got)
        assert d["rejected_amount"] == sum(x["rejected_amount"] for x in got)
        if not any(x["law_nguonkhac"] for x in got):
            # §1.13 per claim: T_BHTT = T_TONGCHI_BH − T_BNCCT
            assert d["law_t_bhtt"] == d["law_t_tongchi_bh"] - d["law_t_bncct"]
        for x in got:
            assert x["accepted_bhtt"] <= x["claimed_bhtt"]
            # §1.13: BV = fund + co-pay + self-pay + other sources + budget
            parts = x["law_bhtt"] + x["law_bncct"] + x["law_bntt"] + x["law_nguonkhac"]
            assert parts + x["law_budget"] == x["law_bv"]
        assert _unkeyed(decision(run(c))) == _unkeyed(d)


def _unkeyed(row: dict[str, Any]) -> dict[str, Any]:
    """A decision row without the keys that depend on its place in the batch."""
    return {k: v for k, v in row.items() if k not in ("hoso_idx", "ma_cskcb", "ma_lk")}


# --- properties over generated claims -------------------------------------------------

CARDS = ("TE1", "CB2", "HT3", "DN4", "QN5")
ROUTE_CODES = ("1.1", "2", "3.1", "3.2", "3.3", "8")
DAYS = (datetime(2019, 9, 2, 8), datetime(2024, 3, 4, 8), datetime(2026, 8, 3, 8))


@st.composite
def _lines(draw: st.DrawFn) -> Any:
    qty = draw(st.decimals("0.001", "20", places=3))
    price = draw(st.decimals("0.001", "3000000", places=3))
    cheaper = draw(st.booleans())
    catalog = (price * D("0.9")).quantize(D("0.001")) if cheaper else None
    common: dict[str, Any] = {
        "catalog_price": catalog,
        "in_catalog": draw(st.integers(0, 9)) > 0,
        "pham_vi": draw(st.sampled_from(("1", "1", "1", "2", "3"))),
        "nguonkhac": draw(st.sampled_from((None, None, "1000", "250000"))),
        "claimed": {"muc_huong": draw(st.sampled_from((0, 32, 80, 95, 100)))},
    }
    if draw(st.booleans()):
        return drug(qty, price, ratio_bh=draw(st.sampled_from((100, 50, 30))), **common)
    group = draw(st.sampled_from(("1", "2", "13", "8", "18", "14")))
    return service(group, qty, price, **common)


@st.composite
def _claims(draw: st.DrawFn) -> Any:
    vao = draw(st.sampled_from(DAYS))
    stay = draw(st.booleans())
    return claim(
        *draw(st.lists(_lines(), min_size=1, max_size=4)),
        card=f"{draw(st.sampled_from(CARDS))}010123456789",
        route=draw(st.sampled_from(ROUTE_CODES)),
        tier=draw(st.sampled_from(("central", "provincial", "district", "commune"))),
        level=draw(st.sampled_from(("specialised", "basic", "primary"))),
        **(inpatient(vao) if stay else {"vao": vao}),
    )


@given(st.lists(_claims(), min_size=1, max_size=3))
def test_generated_claims_keep_the_arithmetic(batch: list[Any]) -> None:
    """Whatever the claim: every line's BV splits exactly into fund, co-pay, self-pay,
    other sources and budget, none negative; without other sources the fund share is
    BH × MUC_HUONG rounded half-up; nothing accepted exceeds what was claimed and the
    claim's rejected amount is claimed − accepted."""
    r = run(*batch)
    for x in r.payment.lines.iter_rows(named=True):
        parts = [x[k] for k in ("law_bhtt", "law_bncct", "law_bntt", "law_nguonkhac")]
        assert all(p >= 0 for p in parts)
        assert sum(parts) + x["law_budget"] == x["law_bv"]
        if not x["law_nguonkhac"]:
            assert x["law_bhtt"] == cents(x["law_bh"] * x["law_muc_huong"] / 100)
    for i in range(len(batch)):
        d = decision(r, i)
        got = rows(r.decisions.lines, i)
        assert all(x["accepted_bhtt"] <= x["claimed_bhtt"] for x in got)
        assert d["accepted_t_bhtt"] == sum(x["accepted_bhtt"] for x in got)
        assert 0 <= d["rejected_amount"] == d["claimed_t_bhtt"] - d["accepted_t_bhtt"]
