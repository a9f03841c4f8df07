"""Hand-worked claims for the payment rules of issue 13 item 4 (§1.13, §2.2–§2.6).

Every expected amount is computed by hand in the comments next to it. Unless a test
says otherwise a claim is a DN4 card (level 4, 80 %), on-route (1.1), outpatient, at a
district (basic-level) hospital, admitted 2024-08-01: base salary 2,340,000, low-cost
threshold 351,000.00, supplies ceiling 45 × 2,340,000 = 105,300,000.00.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import polars as pl

from tests.claims.paybuild import D, Run, claim, drug, one, rows, run, service, supply

SHARES = ("law_bv", "law_bh", "law_bhtt", "law_bncct", "law_bntt")


def lines(r: Run, hoso_idx: int = 0) -> list[dict[str, Any]]:
    return rows(r.payment.lines, hoso_idx)


def facts(r: Run, hoso_idx: int = 0) -> dict[str, Any]:
    return one(r.payment.claims, hoso_idx)


def decision(r: Run, hoso_idx: int = 0) -> dict[str, Any]:
    return one(r.decisions.claims, hoso_idx)


def codes(r: Run, hoso_idx: int = 0) -> set[str]:
    reasons = r.decisions.reasons.filter(pl.col("hoso_idx") == hoso_idx)
    return set(reasons["code"])


def shares(line: dict[str, Any]) -> tuple[Decimal, ...]:
    return tuple(line[k] for k in SHARES)


def amounts(*values: str | int) -> tuple[Decimal, ...]:
    return tuple(D(v) for v in values)


def inpatient(vao: datetime, days: int = 3) -> dict[str, Any]:
    return {"vao": vao, "ra": vao + timedelta(days=days), "loai": "03"}


# --- 1. transport (MA_NHOM 12) only for the levels that carry it (§2.2, §2.6) ----------


def test_transport_is_paid_for_a_level_2_card() -> None:
    """A CB2 card (level 2, transport paid): the 500,000 transfer trip is covered."""
    r = run(
        claim(
            service("12", 1, "500000"),
            card="CB2010123456789",
            **inpatient(datetime(2024, 8, 1, 8)),
        )
    )
    (trip,) = lines(r)
    assert facts(r)["transport_covered"] is True
    # BH 500,000 ≥ 351,000; level 2 → 100 %: fund 500,000
    assert shares(trip) == amounts("500000", "500000", "500000", 0, 0)
    assert trip["pay_reason"] is None


def test_transport_is_not_paid_for_a_level_4_card() -> None:
    """A DN4 card (level 4) does not carry transport: BH 0, the patient pays the trip;
    the claim's other line is paid as usual."""
    r = run(
        claim(
            service("12", 1, "500000"),
            service("2", 1, "1000000"),
            muc=80,
            **inpatient(datetime(2024, 8, 1, 8)),
        )
    )
    trip, scan = lines(r)
    assert facts(r)["transport_covered"] is False
    # trip: BV 500,000, BH 0 → fund 0, co-pay 0, self-pay 500,000
    assert shares(trip) == amounts("500000", 0, 0, 0, "500000")
    assert trip["pay_reason"] == "TRANSPORT_NOT_COVERED"
    # scan: BH 1,000,000 (the law's T_TONGCHI_BH, ≥ 351,000) × 80 % = 800,000
    assert facts(r)["law_t_tongchi_bh"] == D("1000000")
    assert shares(scan) == amounts("1000000", "1000000", "800000", "200000", 0)
    # claimed: trip 500,000 × 80 % = 400,000 + 800,000 = 1,200,000; accepted 800,000
    d = decision(r)
    assert (d["claimed_t_bhtt"], d["accepted_t_bhtt"]) == (D("1200000"), D("800000"))
    assert "TRANSPORT_NOT_COVERED" in codes(r)


# --- 2. a card ending or starting during an inpatient stay (NĐ 146/2018 art. 27.9) ----


def test_a_card_ending_during_a_stay_pays_until_discharge_within_15_days() -> None:
    """The card ends 2024-08-05; the stay runs 2024-08-01 → 2024-08-10 (discharge 5 days
    past the end, within 15): every line is paid, the claim is not refused."""
    days = [datetime(2024, 8, d, 9) for d in (1, 5, 9)]
    r = run(
        claim(
            *(service("15", 1, "300000", day=d) for d in days),
            card_to="20240805",
            muc=80,
            **inpatient(datetime(2024, 8, 1, 8), days=9),
        )
    )
    got = lines(r)
    # three bed-days of 300,000: total 900,000 ≥ 351,000 → 80 %: 240,000 each
    assert [shares(x) for x in got] == [
        amounts("300000", "300000", "240000", "60000", 0)
    ] * 3
    assert [x["pay_reason"] for x in got] == [None, None, None]
    d = decision(r)
    assert (d["outcome"], d["accepted_t_bhtt"]) == ("accepted", D("720000"))
    assert "CARD_NOT_COVERING_STAY" not in codes(r)


def test_lines_more_than_15_days_past_the_card_end_are_not_paid() -> None:
    """Card ends 2024-08-05: it pays to 2024-08-05 + 15 = 2024-08-20; a bed-day on
    08-20 is paid, one on 08-21 is not (the patient pays it)."""
    r = run(
        claim(
            service("15", 1, "300000", day=datetime(2024, 8, 20, 9)),
            service("15", 1, "300000", day=datetime(2024, 8, 21, 9)),
            card_to="20240805",
            muc=80,
            **inpatient(datetime(2024, 8, 1, 8), days=21),
        )
    )
    last_paid, unpaid = lines(r)
    # the law's T_TONGCHI_BH is the covered 300,000 < 351,000 → low-cost 100 %
    assert facts(r)["law_t_tongchi_bh"] == D("300000")
    assert shares(last_paid) == amounts("300000", "300000", "300000", 0, 0)
    # 08-21: BH 0, self-pay 300,000
    assert shares(unpaid) == amounts("300000", 0, 0, 0, "300000")
    assert unpaid["pay_reason"] == "CARD_NOT_COVERING_LINE"
    # claimed 2 × 240,000 = 480,000; accepted 300,000 (line 1, at most its 240,000
    # claimed: 240,000) → the claim's accepted fund share 240,000
    d = decision(r)
    assert (d["claimed_t_bhtt"], d["accepted_t_bhtt"]) == (D("480000"), D("240000"))
    assert "CARD_NOT_COVERING_LINE" in codes(r)


def test_a_card_starting_during_a_stay_pays_from_its_start() -> None:
    """The card starts 2024-08-03 during a stay admitted 2024-08-01: the 08-02 bed-day
    is not paid, the 08-03 one is."""
    r = run(
        claim(
            service("15", 1, "400000", day=datetime(2024, 8, 2, 9)),
            service("15", 1, "400000", day=datetime(2024, 8, 3, 9)),
            card_from="20240803",
            muc=80,
            **inpatient(datetime(2024, 8, 1, 8), days=3),
        )
    )
    before, after = lines(r)
    assert before["pay_reason"] == "CARD_NOT_COVERING_LINE"
    assert shares(before) == amounts("400000", 0, 0, 0, "400000")
    # after: BH 400,000 ≥ 351,000 → 80 %: 320,000, co-pay 80,000
    assert shares(after) == amounts("400000", "400000", "320000", "80000", 0)
    assert decision(r)["outcome"] == "partially_accepted"


# --- 3. the low-cost threshold on what is assessed (§2.3.1) ---------------------------


def test_refused_and_unlisted_lines_do_not_count_towards_the_low_cost_threshold() -> (
    None
):
    """Claimed T_TONGCHI_BH 200,000 + 150,000 + 100,000 = 450,000 ≥ 351,000, but a rule
    refuses the 150,000 line and the 100,000 drug is not in the catalog: what is
    assessed is 200,000 < 351,000, so the visit is low-cost and paid at 100 %."""
    refused = replace(service("2", 1, "150000"), refused_by="E1_TEST")
    r = run(
        claim(
            service("2", 1, "200000"),
            refused,
            drug(1, "100000", in_catalog=False),
            muc=80,
        )
    )
    fact = facts(r)
    assert (fact["law_t_tongchi_bh"], fact["low_cost"]) == (D("200000"), True)
    assert fact["law_muc_huong"] == 100
    kept, _, unlisted = lines(r)
    # 200,000 × 100 % = 200,000 from the fund
    assert shares(kept) == amounts("200000", "200000", "200000", 0, 0)
    # the refused line is accepted at 0 by the decision
    refused_line = rows(r.decisions.lines)[1]
    assert (refused_line["refused_by"], refused_line["accepted_bhtt"]) == ("E1_TEST", 0)
    assert unlisted["law_bh"] == 0
    # claimed 450,000 × 80 % = 360,000; accepted: the kept line at most its claimed
    # 160,000 (200,000 × 80 %)
    d = decision(r)
    assert (d["claimed_t_bhtt"], d["accepted_t_bhtt"]) == (D("360000"), D("160000"))


def test_the_same_claim_without_the_refusal_is_not_low_cost() -> None:
    """Without the rule's refusal the assessed total is 200,000 + 150,000 = 350,000,
    still below 351,000 by 1,000; with a 152,000 line it is 352,000: 80 %."""
    below = run(claim(service("2", 1, "200000"), service("2", 1, "150000")))
    assert (facts(below)["law_t_tongchi_bh"], facts(below)["law_muc_huong"]) == (
        D("350000"),
        100,
    )
    above = run(claim(service("2", 1, "200000"), service("2", 1, "152000")))
    assert (facts(above)["law_t_tongchi_bh"], facts(above)["law_muc_huong"]) == (
        D("352000"),
        80,
    )


# --- 4. other sources: programme-funded lines (NGUON_CTRA 2–4, D7), case (c) ----------


def test_a_programme_funded_drug_is_not_paid_by_the_fund() -> None:
    """A drug a national target programme funds (NGUON_CTRA 3): the fund's 80 % share is
    the programme's (T_NGUONKHAC), T_BHTT 0; the co-pay stays the patient's."""
    r = run(
        claim(
            drug(10, "100000", nguon_ctra="3"),
            drug(5, "200000", nguon_ctra="1"),
            muc=80,
        )
    )
    funded, fund = lines(r)
    # funded: BV 1,000,000, BH 1,000,000; provisional fund 800,000 → programme;
    # co-pay 200,000; self-pay 0
    assert shares(funded) == amounts("1000000", "1000000", 0, "200000", 0)
    assert funded["law_nguonkhac"] == D("800000")
    assert funded["pay_reason"] == "PROGRAMME_FUNDED"
    # NGUON_CTRA 1: the fund pays 5 × 200,000 × 80 % = 800,000
    assert shares(fund) == amounts("1000000", "1000000", "800000", "200000", 0)
    # claimed 800,000 + 800,000 = 1,600,000; accepted 800,000
    d = decision(r)
    assert (d["claimed_t_bhtt"], d["accepted_t_bhtt"]) == (D("1600000"), D("800000"))
    assert "PROGRAMME_FUNDED" in codes(r)


def test_arv_drugs_the_programme_co_pays_split_as_case_c() -> None:
    """Case (c) of §1.13.5: an ARV drug, BH 1,000,000 at 80 %, the programme pays the
    provisional co-pay: T_NGUONKHAC = 200,000, T_BNCCT = 0, T_BHTT = 800,000. The
    default reading (case (a)) gives exactly this: other sources offset self-pay (0)
    first, then the co-pay."""
    r = run(claim(drug(10, "100000", nguonkhac="200000", code="ARV01"), muc=80))
    (line,) = lines(r)
    assert shares(line) == amounts("1000000", "1000000", "800000", 0, 0)
    assert line["law_nguonkhac"] == D("200000")
    assert line["pay_reason"] is None


# --- 5. surgeries and procedures rank within one session (TT 35/2016 art. 4d) ---------

TEAM = "BS01;BS02"


def _surgery(price: str, start: tuple[int, int], end: tuple[int, int] | None) -> Any:
    """A surgery on 2024-08-02 from ``start`` to ``end`` (hour, minute); no end: no
    NGAY_KQ."""
    at = datetime(2024, 8, 2, *start)
    kq = datetime(2024, 8, 2, *end) if end is not None else None
    return service("8", 1, price, performers=TEAM, day=at, kq=kq)


def test_separate_operations_the_same_day_are_each_paid_at_100_percent() -> None:
    """Two surgeries by the same team, 08:00–10:00 and 14:00–15:30 the same day: two
    sessions, each the first of its session → 100 % each."""
    r = run(
        claim(
            _surgery("5000000", (8, 0), (10, 0)),
            _surgery("3000000", (14, 0), (15, 30)),
            **inpatient(datetime(2024, 8, 1, 8)),
        )
    )
    first, second = lines(r)
    assert (first["law_ratio_dv"], second["law_ratio_dv"]) == (100, 100)
    # 3,000,000 × 100 % → fund 80 % = 2,400,000
    assert shares(second) == amounts("3000000", "3000000", "2400000", "600000", 0)


def test_overlapping_operations_are_one_session() -> None:
    """08:00–10:00, 09:30–11:00 and 10:45–12:00 chain into one session: the dearest is
    first (100 %), the other surgeries by the same team 50 %."""
    r = run(
        claim(
            _surgery("3000000", (8, 0), (10, 0)),
            _surgery("5000000", (9, 30), (11, 0)),
            _surgery("2000000", (10, 45), (12, 0)),
            **inpatient(datetime(2024, 8, 1, 8)),
        )
    )
    a, b, c = lines(r)
    assert [x["law_ratio_dv"] for x in (a, b, c)] == [50, 100, 50]
    # a: 3,000,000 × 50 % = 1,500,000 → fund 1,200,000; c: 2,000,000 × 50 % =
    # 1,000,000 → fund 800,000
    assert shares(a) == amounts("1500000", "1500000", "1200000", "300000", 0)
    assert shares(c) == amounts("1000000", "1000000", "800000", "200000", 0)


def test_an_operation_just_after_the_previous_ends_is_a_new_session() -> None:
    """08:00–10:00 then 10:01–11:00: not overlapping (narrowly) → 100 % each; a line
    without NGAY_KQ spans its day and joins the session of that day."""
    r = run(
        claim(
            _surgery("5000000", (8, 0), (10, 0)),
            _surgery("3000000", (10, 1), (11, 0)),
            **inpatient(datetime(2024, 8, 1, 8)),
        )
    )
    assert [x["law_ratio_dv"] for x in lines(r)] == [100, 100]
    r = run(
        claim(
            _surgery("5000000", (8, 0), (10, 0)),
            _surgery("3000000", (14, 0), None),
            **inpatient(datetime(2024, 8, 1, 8)),
        )
    )
    assert [x["law_ratio_dv"] for x in lines(r)] == [100, 50]


def test_a_session_past_midnight_does_not_take_in_the_next_day() -> None:
    """A surgery 23:00–00:30 and a procedure the next day without NGAY_KQ: the session
    belongs to the day it starts on, so the procedure is its day's first (100 %)."""
    night = datetime(2024, 8, 2, 23, 0)
    r = run(
        claim(
            service(
                "8",
                1,
                "5000000",
                performers=TEAM,
                day=night,
                kq=night.replace(day=3, hour=0, minute=30),
            ),
            service("18", 1, "1000000", performers=TEAM, day=datetime(2024, 8, 3, 9)),
            **inpatient(datetime(2024, 8, 1, 8)),
        )
    )
    assert [x["law_ratio_dv"] for x in lines(r)] == [100, 100]


def test_the_day_reading_of_sessions_ranks_the_whole_day() -> None:
    """With the ``operation_session`` policy answered ``day`` the two separate surgeries
    rank together: 100 % and 50 % (same team)."""
    from claims.pay import pay
    from tests.claims.paybuild import build, catalogs, policy

    benefits, salaries = catalogs()
    by_day = policy().with_columns(
        pl.when(pl.col("question") == "operation_session")
        .then(pl.lit("day"))
        .otherwise(pl.col("answer"))
        .alias("answer")
    )
    batch, _ = build(
        claim(
            _surgery("5000000", (8, 0), (10, 0)),
            _surgery("3000000", (14, 0), (15, 30)),
            **inpatient(datetime(2024, 8, 1, 8)),
        )
    )
    got = pay(batch, benefits, salaries, policy=by_day).lines.sort("line_no")
    assert got["law_ratio_dv"].to_list() == [100, 50]


# --- 6. services paid at a ratio: the services catalog's tyle_tt_bh ------------------


def test_a_service_s_catalog_ratio_reaches_the_price_row() -> None:
    """The services catalog's ``tyle_tt_bh`` (a service covered at 50 %) is the line's
    catalog ratio; a row without one is paid at 100 % (the default)."""
    from tests.claims.test_price import _prices, _services, _xml2, _xml3

    services = _services(
        {
            "ma_cskcb": "01001",
            "ma_dich_vu": "S50",
            "don_gia": D(1000),
            "tyle_tt_bh": 50,
        },
        {"ma_cskcb": "01001", "ma_dich_vu": "S00", "don_gia": D(1000)},
    )
    day = datetime(2024, 8, 1, 9)
    xml3 = _xml3(
        {"ma_dich_vu": "S50", "ngay_yl": day, "don_gia_bh": D(1000)},
        {"ma_dich_vu": "S00", "ngay_yl": day, "don_gia_bh": D(1000)},
    )
    from claims.price import price_lines

    priced = price_lines(_xml2(), xml3, _prices(services=services))
    assert priced["catalog_ratio"].to_list() == [50, 100]


def test_a_service_covered_at_50_percent_is_paid_half() -> None:
    """A 2,000,000 service the catalog covers at 50 %, claimed at 100 %: BH = 2,000,000
    × 50 % = 1,000,000; fund × 80 % = 800,000, co-pay 200,000; self-pay 1,000,000."""
    r = run(claim(service("9", 1, "2000000", catalog_ratio=50), muc=80))
    (line,) = lines(r)
    assert line["law_ratio_bh"] == 50
    assert shares(line) == amounts("2000000", "1000000", "800000", "200000", "1000000")
    # claimed 2,000,000 × 80 % = 1,600,000; accepted 800,000
    assert decision(r)["accepted_t_bhtt"] == D("800000")
    assert "PAYMENT_RATIO" in codes(r)
    # a service without a catalog ratio is paid at 100 %
    (full,) = lines(run(claim(service("9", 1, "2000000", catalog_ratio=None), muc=80)))
    assert full["law_ratio_bh"] == 100


# --- 7. supplies: loose package, per-item ceiling tran_tt, T_TRANTT (§2.6, D8) --------

MARCH_2025 = {
    "vao": datetime(2025, 3, 10, 8),
    "ra": datetime(2025, 3, 15, 10),
    "loai": "03",
}


def test_loose_supplies_are_one_package_per_claim() -> None:
    """Two supplies without GOI_VTYT, 60,000,000 and 50,000,000: one package of
    110,000,000 over 105,300,000; the 4,700,000 excess is spread 60:50."""
    r = run(claim(supply(1, "60000000"), supply(1, "50000000"), muc=80, **MARCH_2025))
    a, b = lines(r)
    # A = round(4,700,000 × 60/110) = 2,563,636.36; B = 4,700,000 − A = 2,136,363.64
    assert (a["package_cut"], b["package_cut"]) == (D("2563636.36"), D("2136363.64"))
    # the fund pays 80 % of the capped 105,300,000 = 84,240,000
    assert a["law_bhtt"] + b["law_bhtt"] == D("84240000")
    assert "SUPPLIES_CEILING" in codes(r)


def test_level_1_and_5_cards_escape_the_supplies_ceiling() -> None:
    """The ``supplies_ceiling_exempt_levels`` policy (1;5): a TE1 package of
    110,000,000 is not cut; the fund pays all of it (level 1, 100 %)."""
    r = run(
        claim(
            supply(1, "60000000", goi_vtyt="G1"),
            supply(1, "50000000", goi_vtyt="G1"),
            card="TE1010123456789",
            **MARCH_2025,
        )
    )
    assert facts(r)["supplies_ceiling"] is None
    a, b = lines(r)
    assert (a["package_cut"], b["package_cut"]) == (0, 0)
    assert a["law_bhtt"] + b["law_bhtt"] == D("110000000")


def test_a_supply_above_its_catalog_ceiling_is_paid_up_to_it() -> None:
    """A stent claimed 2 × 40,000,000 with a catalog ceiling tran_tt 36,000,000 a unit:
    BH = 2 × 36,000,000 = 72,000,000; fund 80 % = 57,600,000, co-pay 14,400,000;
    self-pay 80,000,000 − 72,000,000 = 8,000,000. A second one under its ceiling is
    untouched."""
    r = run(
        claim(
            supply(2, "40000000", ma_nhom="11", ceiling="36000000"),
            supply(1, "1000000", ceiling="1000000"),
            muc=80,
            **MARCH_2025,
        )
    )
    stent, other = lines(r)
    assert shares(stent) == amounts(
        "80000000", "72000000", "57600000", "14400000", "8000000"
    )
    assert stent["pay_reason"] == "ITEM_CEILING"
    # exactly at its ceiling: 1,000,000 → fund 800,000
    assert shares(other) == amounts("1000000", "1000000", "800000", "200000", 0)
    assert other["pay_reason"] is None
    assert "ITEM_CEILING" in codes(r)


def test_a_supply_line_s_fund_share_is_at_most_its_t_trantt() -> None:
    """T_TRANTT 700,000 declared on a 1,000,000 supply at 80 %: the fund's 800,000 is
    cut to 700,000, the 100,000 excess is self-pay; T_TRANTT 800,000 cuts nothing."""
    r = run(
        claim(
            supply(1, "1000000", trantt="700000"),
            supply(1, "1000000", trantt="800000"),
            muc=80,
            **MARCH_2025,
        )
    )
    cut, exact = lines(r)
    assert shares(cut) == amounts("1000000", "1000000", "700000", "200000", "100000")
    assert cut["pay_reason"] == "ITEM_CEILING"
    assert shares(exact) == amounts("1000000", "1000000", "800000", "200000", 0)
    assert exact["pay_reason"] is None


# --- 8. beds: the transfer-day half bed-day and shared-bed ratios below 33 (§2.6, H5) --

TRANSFER_DAY = datetime(2024, 8, 2, 9)


def test_a_transfer_day_bills_half_a_bed_day_in_the_dearest_and_cheapest_department() -> (
    None
):
    """Three departments bill 0.5 on the transfer day (400,000, 300,000, 250,000 a
    bed-day): the dearest and the cheapest are paid half a bed-day, the middle one 0."""
    r = run(
        claim(
            service("15", "0.5", "400000", day=TRANSFER_DAY),
            service("15", "0.5", "300000", day=TRANSFER_DAY),
            service("15", "0.5", "250000", day=TRANSFER_DAY),
            muc=80,
            **inpatient(datetime(2024, 8, 1, 8)),
        )
    )
    dear, middle, cheap = lines(r)
    # 0.5 × 400,000 = 200,000 and 0.5 × 250,000 = 125,000: total 325,000 < 351,000,
    # low-cost → 100 %
    assert shares(dear) == amounts("200000", "200000", "200000", 0, 0)
    assert shares(cheap) == amounts("125000", "125000", "125000", 0, 0)
    # the middle department: quantity 0 by law, nothing billed or paid
    assert middle["law_qty"] == 0
    assert shares(middle) == amounts(0, 0, 0, 0, 0)
    assert middle["pay_reason"] == "BED_TRANSFER_DAY"
    assert "BED_TRANSFER_DAY" in codes(r)


def test_two_half_bed_days_are_both_paid_and_a_shared_one_at_its_ratio() -> None:
    """Two departments, 0.5 each: both paid half (300,000 → 150,000; 200,000 at 50 %
    shared → 0.5 × 200,000 × 50 % = 50,000)."""
    r = run(
        claim(
            service("15", "0.5", "300000", day=TRANSFER_DAY),
            service("15", "0.5", "200000", ratio_dv=50, day=TRANSFER_DAY),
            service("15", 1, "300000", day=datetime(2024, 8, 3, 9)),
            muc=80,
            **inpatient(datetime(2024, 8, 1, 8)),
        )
    )
    first, shared, _ = lines(r)
    # total 150,000 + 50,000 + 300,000 = 500,000 ≥ 351,000 → 80 %
    assert shares(first) == amounts("150000", "150000", "120000", "30000", 0)
    assert shared["law_ratio_dv"] == 50
    assert shares(shared) == amounts("50000", "50000", "40000", "10000", 0)
    assert (first["pay_reason"], shared["pay_reason"]) == (None, None)


def test_a_bed_ratio_below_33_is_paid_at_that_ratio_not_0() -> None:
    """A shared bed on a transfer day claimed as one bed-day at 25 % (0.5 × 50 %) or
    16 % (≈ 0.5 × 33 %): paid at the ratio claimed, never more than asked."""
    r = run(
        claim(
            service("15", 1, "400000", ratio_dv=25, day=TRANSFER_DAY),
            service("15", 1, "300000", ratio_dv=16, day=datetime(2024, 8, 3, 9)),
            service("15", 1, "300000", ratio_dv=33, day=datetime(2024, 8, 4, 9)),
            muc=80,
            **inpatient(datetime(2024, 8, 1, 8), days=4),
        )
    )
    quarter, sixteen, third = lines(r)
    assert [x["law_ratio_dv"] for x in (quarter, sixteen, third)] == [25, 16, 33]
    # 400,000 × 25 % = 100,000; 300,000 × 16 % = 48,000; 300,000 × 33 % = 99,000;
    # total 247,000 < 351,000 → low-cost 100 %
    assert [x["law_bhtt"] for x in (quarter, sixteen, third)] == list(
        amounts("100000", "48000", "99000")
    )
