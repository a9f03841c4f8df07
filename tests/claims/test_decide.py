"""The decide stage on literal frames: a payment, an assessment and rule hits written
out by hand, so that every accepted amount, outcome and reason can be read off the
inputs."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import polars as pl
import pytest

from claims.assess import ASSESSMENT_SCHEMA
from claims.decide import (
    DECISION_LINE_SCHEMA,
    DECISION_SCHEMA,
    REASON_SCHEMA,
    Decisions,
    decide,
)
from claims.pay import PAY_CLAIM_SCHEMA, PAY_LINE_SCHEMA, Payment
from claims.validate import QUARANTINE_SCHEMA
from rules.evaluate import HIT_SCHEMA

D = Decimal
FILE = "f" * 64
CATALOGS = {"benefits": "2009-07-01#abc", "base_salary": "2024-07-01#def"}


def _line(hoso: int, no: int, **given: Any) -> dict[str, Any]:
    """A drug line of 100,000 đồng at 80 %, the clinic's figures equal to the law's;
    ``given`` overrides any column (``bhtt=`` sets claimed and law T_BHTT)."""
    amounts = {
        "bv": D("100000.00"),
        "bh": D("100000.00"),
        "nguonkhac": D("0.00"),
        "bhtt": D("80000.00"),
        "bncct": D("20000.00"),
        "bntt": D("0.00"),
    }
    for name in list(amounts):
        if name in given:
            amounts[name] = given.pop(name)
    row: dict[str, Any] = {
        "file_id": FILE,
        "hoso_idx": hoso,
        "table": "XML2",
        "line_no": no,
        "stt": no,
        "ma_nhom": "4",
        "code": f"40.{hoso}{no:02d}",
        "pham_vi": "1",
        "price_reason": None,
        "package_cut": D("0.00"),
        "law_budget": D("0.00"),
        "claimed_muc_huong": D("80"),
        "law_muc_huong": D("80"),
        **{f"{side}_qty": D("1") for side in ("claimed", "law")},
        **{f"{side}_price": D("100000") for side in ("claimed", "law")},
        "claimed_price_bv": D("100000"),
        **{f"{s}_ratio_{r}": 100 for s in ("claimed", "law") for r in ("dv", "bh")},
        **{f"{side}_{a}": v for side in ("claimed", "law") for a, v in amounts.items()},
    }
    return row | given


def _facts(hoso: int, **given: Any) -> dict[str, Any]:
    """An outpatient on-route claim of a level-4 card (80 %)."""
    row = {
        "file_id": FILE,
        "hoso_idx": hoso,
        "inpatient": False,
        "object_code": "DN",
        "benefit_level": 4,
        "level_percent": D("80"),
        "route_code": "1.1",
        "route_class": "on_route",
        "on_route": True,
        "route_rate": D("100"),
        "base_salary": D("2340000.00"),
        "low_cost_limit": D("351000.00"),
        "low_cost": False,
        "primary_care": False,
        "exempt_from": None,
        "law_muc_huong": D("80"),
        "supplies_ceiling": D("105300000.00"),
        "eligibility_reason": None,
        "law_t_tongchi_bh": D("0.00"),
    }
    return row | given


def _xml1(hoso: int, t_bhtt: Decimal, **given: Any) -> dict[str, Any]:
    row = {
        "file_id": FILE,
        "hoso_idx": hoso,
        "ma_cskcb": "01001",
        "ma_lk": f"LK{hoso}",
        "nam_qt": 2026,
        "thang_qt": 10,
        "t_tongchi_bv": None,
        "t_tongchi_bh": None,
        "t_bhtt": t_bhtt,
        "t_bncct": None,
        "t_bntt": None,
        "t_nguonkhac": None,
    }
    return row | given


def _assessed(hoso: int, outcome: str = "accepted") -> dict[str, Any]:
    return {
        "file_id": FILE,
        "hoso_idx": hoso,
        "ma_cskcb": "01001",
        "ma_lk": f"LK{hoso}",
        "pack": "vn-bhyt@2025.01.0#x",
        "outcome": outcome,
        "reason_codes": [],
        "rules_fired": 0,
        "rules_not_evaluable": 0,
    }


def _hit(
    hoso: int, rule: str, code: str, action: str, line_no: int | None = None
) -> dict[str, Any]:
    return {
        "file_id": FILE,
        "hoso_idx": hoso,
        "table": "XML2" if line_no is not None else "XML1",
        "line_no": line_no,
        "rule_id": rule,
        "pack": "vn-bhyt@2025.01.0#x",
        "action": action,
        "reason_code": code,
        "outcome": "fired",
        "adjust_to": None,
    }


def _frame(rows: list[dict[str, Any]], schema: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schema, orient="row")


def _decide(
    lines: list[dict[str, Any]],
    facts: list[dict[str, Any]],
    xml1: list[dict[str, Any]],
    *,
    assessed: list[dict[str, Any]] | None = None,
    hits: list[dict[str, Any]] | None = None,
    quarantine: pl.DataFrame | None = None,
) -> Decisions:
    payment = Payment(_frame(lines, PAY_LINE_SCHEMA), _frame(facts, PAY_CLAIM_SCHEMA))
    xml1_schema = {
        "file_id": pl.String,
        "hoso_idx": pl.UInt32,
        "ma_cskcb": pl.String,
        "ma_lk": pl.String,
        "nam_qt": pl.Int64,
        "thang_qt": pl.Int64,
        **dict.fromkeys(
            ("t_tongchi_bv", "t_tongchi_bh", "t_bhtt", "t_bncct", "t_bntt"),
            pl.Decimal(38, 2),
        ),
        "t_nguonkhac": pl.Decimal(38, 2),
    }
    claims = [r["hoso_idx"] for r in xml1]
    return decide(
        _frame(xml1, xml1_schema),
        _frame(assessed or [_assessed(h) for h in claims], ASSESSMENT_SCHEMA),
        _frame(hits or [], HIT_SCHEMA),
        payment,
        run_id="run-1",
        catalogs=CATALOGS,
        quarantine=quarantine,
    )


def _claim(decided: Decisions, hoso: int = 0) -> dict[str, Any]:
    (row,) = decided.claims.filter(pl.col("hoso_idx") == hoso).iter_rows(named=True)
    return row


def _lines(decided: Decisions, hoso: int = 0) -> list[dict[str, Any]]:
    part = decided.lines.filter(pl.col("hoso_idx") == hoso).sort("line_no")
    return list(part.iter_rows(named=True))


def test_a_line_refused_by_a_reject_rule_is_accepted_at_zero_and_named() -> None:
    decided = _decide(
        [_line(0, 1), _line(0, 2)],
        [_facts(0)],
        [_xml1(0, D("160000.00"))],
        hits=[_hit(0, "E1_DRUG_NOT_IN_CATALOG", "DRUG_NOT_IN_CATALOG", "reject", 2)],
    )
    kept, refused = _lines(decided)
    assert kept["refused_by"] is None
    assert kept["accepted_bhtt"] == D("80000.00")
    assert refused["refused_by"] == "DRUG_NOT_IN_CATALOG"
    assert all(refused[f"accepted_{a}"] == 0 for a in ("bv", "bh", "bhtt", "bncct"))
    assert refused["rejected_amount"] == D("80000.00")
    claim = _claim(decided)
    assert claim["outcome"] == "partially_accepted"
    assert claim["accepted_t_bhtt"] == D("80000.00")
    assert claim["rejected_amount"] == D("80000.00")
    assert claim["reason_codes"] == ["DRUG_NOT_IN_CATALOG"]
    (reason,) = decided.reasons.iter_rows(named=True)
    assert (reason["level"], reason["table"], reason["line_no"], reason["stt"]) == (
        "line",
        "XML2",
        2,
        2,
    )
    assert reason["source"] == "E1_DRUG_NOT_IN_CATALOG"
    assert reason["run_id"] == "run-1"


def test_accepted_never_exceeds_claimed_per_line_and_claim() -> None:
    """Claim 0: the law allows more on a line than was claimed (the claimed amount is
    paid, UNDERCLAIMED). Claim 1: its lines sum above its claimed XML1 T_BHTT (the
    excess is cut over its lines, CLAIM_TOTAL_CAP)."""
    generous = _line(0, 1, claimed_bhtt=D("60000.00"), claimed_bncct=D("40000.00"))
    decided = _decide(
        [generous, _line(1, 1), _line(1, 2)],
        [_facts(0), _facts(1)],
        [_xml1(0, D("60000.00")), _xml1(1, D("150000.00"))],
    )
    (line,) = _lines(decided, 0)
    assert line["law_bhtt"] == D("80000.00")
    assert line["accepted_bhtt"] == D("60000.00")
    under = _claim(decided, 0)
    assert under["accepted_t_bhtt"] == D("60000.00")
    assert "UNDERCLAIMED" in under["reason_codes"]
    assert under["outcome"] == "accepted"
    capped = _claim(decided, 1)
    assert capped["accepted_t_bhtt"] == D("150000.00")
    assert capped["rejected_amount"] == D("0.00")
    assert "CLAIM_TOTAL_CAP" in capped["reason_codes"]
    cut = [r["accepted_bhtt"] for r in _lines(decided, 1)]
    assert sum(cut) == D("150000.00")
    assert all(c <= D("80000.00") for c in cut)
    for claim in decided.claims.iter_rows(named=True):
        assert claim["accepted_t_bhtt"] <= claim["claimed_t_bhtt"]
        assert claim["rejected_amount"] == (
            claim["claimed_t_bhtt"] - claim["accepted_t_bhtt"]
        )
    lines = decided.lines
    assert (lines["accepted_bhtt"] <= lines["claimed_bhtt"]).all()
    assert (lines["accepted_bhtt"] >= 0).all()


@pytest.mark.parametrize(
    ("facts", "assessment", "code", "refused_by"),
    [
        ({}, "rejected", "H1_CLAIM_REJECTED", "CLAIM_REJECTED"),
        ({"route_class": "withdrawal"}, "accepted", "CLAIM_WITHDRAWN", None),
        (
            {"eligibility_reason": "CARD_NOT_COVERING_STAY"},
            "accepted",
            "CARD_NOT_COVERING_STAY",
            None,
        ),
    ],
)
def test_a_refused_claim_is_rejected_with_every_line_at_zero(
    facts: dict[str, Any], assessment: str, code: str, refused_by: str | None
) -> None:
    hits = (
        [_hit(0, "H1", "H1_CLAIM_REJECTED", "reject")]
        if assessment != "accepted"
        else []
    )
    decided = _decide(
        [_line(0, 1), _line(0, 2)],
        [_facts(0, **facts)],
        [_xml1(0, D("160000.00"))],
        assessed=[_assessed(0, assessment)],
        hits=hits,
    )
    claim = _claim(decided)
    assert claim["outcome"] == "rejected"
    assert claim["accepted_t_bhtt"] == 0
    assert claim["rejected_amount"] == D("160000.00")
    assert code in claim["reason_codes"]
    assert claim["withdrawn"] == (facts.get("route_class") == "withdrawal")
    for line in _lines(decided):
        assert line["accepted_bhtt"] == 0
        assert line["refused_by"] == (refused_by or code)


def test_a_line_not_in_the_catalog_is_refused_and_a_review_keeps_amounts() -> None:
    missing = _line(0, 2, price_reason="NOT_IN_CATALOG")
    decided = _decide(
        [_line(0, 1), missing, _line(1, 1)],
        [_facts(0), _facts(1)],
        [_xml1(0, D("160000.00")), _xml1(1, D("80000.00"))],
        assessed=[_assessed(0), _assessed(1, "pending_review")],
        hits=[_hit(1, "J2_OVERLAPPING_STAY", "OVERLAPPING_STAY", "review")],
    )
    assert _lines(decided, 0)[1]["refused_by"] == "NOT_IN_CATALOG"
    assert _claim(decided, 0)["outcome"] == "partially_accepted"
    review = _claim(decided, 1)
    assert review["outcome"] == "pending_review"
    assert review["accepted_t_bhtt"] == D("80000.00")  # provisional, not cut
    assert review["reason_codes"] == ["OVERLAPPING_STAY"]


def test_a_cut_within_one_dong_keeps_the_claim_accepted() -> None:
    """Clinic rounding: claimed 0.60 đồng more than the law on one line."""
    line = _line(0, 1, claimed_bhtt=D("80000.60"), claimed_bncct=D("19999.40"))
    decided = _decide([line], [_facts(0)], [_xml1(0, D("80000.60"))])
    claim = _claim(decided)
    assert claim["accepted_t_bhtt"] == D("80000.00")
    assert claim["rejected_amount"] == D("0.60")
    assert claim["outcome"] == "accepted"
    over = _line(0, 1, claimed_bhtt=D("80001.01"), claimed_bncct=D("19998.99"))
    cut = _claim(_decide([over], [_facts(0)], [_xml1(0, D("80001.01"))]))
    assert cut["outcome"] == "partially_accepted"


def test_a_quarantined_line_stays_in_its_claim_as_a_validation_reason() -> None:
    entry = {
        "file_id": FILE,
        "hoso_idx": 0,
        "ma_lk": "LK0",
        "table": "XML2",
        "line_no": 3,
        "field": "stt",
        "reason_code": "LINE_DUPLICATE_KEY",
        "message": "STT trùng",
        "raw_value": "2",
    }
    quarantine = _frame([entry], QUARANTINE_SCHEMA)
    decided = _decide(
        [_line(0, 1), _line(0, 2)],
        [_facts(0)],
        [_xml1(0, D("160000.00"))],
        quarantine=quarantine,
    )
    claim = _claim(decided)
    assert claim["reason_codes"] == ["LINE_DUPLICATE_KEY"]
    (reason,) = decided.reasons.iter_rows(named=True)
    assert (reason["source"], reason["line_no"]) == ("validation", 3)
    # the stored lines are paid in full: the quarantined line was never stored
    assert claim["accepted_t_bhtt"] == D("160000.00")


def test_the_decisions_have_their_declared_schemas_and_versions() -> None:
    decided = _decide(
        [_line(0, 1)],
        [_facts(0)],
        [_xml1(0, D("80000.00"))],
        hits=[_hit(0, "E1", "DRUG_NOT_IN_CATALOG", "reject", 1)],
    )
    assert decided.claims.schema == pl.Schema(DECISION_SCHEMA)
    assert decided.lines.schema == pl.Schema(DECISION_LINE_SCHEMA)
    assert decided.reasons.schema == pl.Schema(REASON_SCHEMA)
    claim = _claim(decided)
    assert json.loads(claim["catalogs"]) == CATALOGS
    assert claim["period"] == "2026-10"
    assert claim["run_id"] == "run-1"
    assert claim["outcome"] == "rejected"  # nothing of a non-zero claim accepted
