"""``api.fhir.claim_response`` on the generated day's claims: the resource parses back
with the ``fhir.resources`` R4B models (as a dict and as JSON text), its totals and
items equal the detail's amounts, its outcome follows the decision, the patient is
named only by the masked card, and a reviewed or refused claim says so."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
from fhir.resources.R4B.claimresponse import ClaimResponse

from api.fhir import ADJUDICATION, LOCAL, claim_response, claim_response_json
from claims.config import Settings
from claims.pipeline import review as rv
from claims.pipeline.claim_view import claim_detail
from claims.review import parse_line
from claims.store.runs import open_store
from tests.conftest import PERIOD, GeneratedDay

AT = "2026-11-02T08:00:00.000000+00:00"
OUTCOMES = {
    "accepted": "complete",
    "partially_accepted": "complete",
    "pending_review": "partial",
    "rejected": "error",
}


def _detail(settings: Settings, facility: str, ma_lk: str, **kw: Any) -> Any:
    with open_store(settings.store_path) as con:
        return claim_detail(con, settings, facility=facility, ma_lk=ma_lk, **kw)


def _amount(entries: list[Any], system: str, code: str) -> Decimal:
    (found,) = [
        e for e in entries if e.category.coding[0].code == code
        and e.category.coding[0].system == system
    ]  # fmt: skip
    assert found.amount.currency == "VND"
    return Decimal(str(found.amount.value))


def _parsed(detail: dict[str, Any]) -> Any:
    """The response, parsed back from its dict and from its JSON text (equal)."""
    body = claim_response(detail)
    parsed = ClaimResponse.model_validate(body)
    again = ClaimResponse.model_validate_json(claim_response_json(detail))
    assert again.model_dump() == parsed.model_dump()
    assert json.loads(json.dumps(body, default=str))["resourceType"] == "ClaimResponse"
    return parsed


def test_each_outcome_validates_and_its_totals_equal_the_detail(
    generated_day: GeneratedDay,
) -> None:
    chosen = generated_day.sql(
        "SELECT d.ma_cskcb, d.ma_lk, d.outcome FROM decisions d "
        "JOIN claims c USING (file_id, hoso_idx) WHERE c.is_current "
        "QUALIFY row_number() OVER (PARTITION BY d.outcome "
        "ORDER BY d.ma_cskcb, d.ma_lk) = 1"
    )
    assert set(chosen["outcome"]) >= {"accepted", "partially_accepted", "rejected"}
    for facility, ma_lk, _ in chosen.rows():
        detail = _detail(generated_day.settings, facility, ma_lk)
        decision = detail["decision"]
        response = _parsed(detail)
        assert response.outcome == OUTCOMES[decision["outcome"]]
        assert response.status == "active"
        assert response.use == "claim"
        kind = "institutional" if decision["inpatient"] else "professional"
        assert response.type.coding[0].code == kind
        assert response.request.identifier.value == f"{facility}/{ma_lk}"
        assert response.requestor.identifier.value == facility
        totals = response.total
        for system, code, part, total in (
            (ADJUDICATION, "submitted", "claimed", "t_tongchi_bv"),
            (ADJUDICATION, "eligible", "accepted", "t_tongchi_bh"),
            (ADJUDICATION, "copay", "accepted", "t_bncct"),
            (ADJUDICATION, "benefit", "accepted", "t_bhtt"),
            (LOCAL, "claimed-benefit", "claimed", "t_bhtt"),
        ):
            assert _amount(totals, system, code) == Decimal(decision[part][total])
        items = response.item or []
        assert [i.itemSequence for i in items] == list(
            range(1, len(detail["lines"]) + 1)
        )
        benefit = sum(
            (_amount(i.adjudication, ADJUDICATION, "benefit") for i in items),
            Decimal(0),
        )
        assert benefit == _amount(totals, ADJUDICATION, "benefit")
        for item, line in zip(items, detail["lines"], strict=True):
            assert _amount(item.adjudication, ADJUDICATION, "submitted") == Decimal(
                line["claimed_bv"]
            )
        notes = response.processNote or []
        assert len(notes) == len(detail["reasons"])
        for reason, note in zip(detail["reasons"], notes, strict=True):
            assert reason["message"] in note.text
        if decision["outcome"] == "rejected":
            codes = {e.code.coding[0].code for e in response.error}
            assert codes == {r["code"] for r in detail["reasons"]}


def test_the_patient_is_only_the_masked_card(generated_day: GeneratedDay) -> None:
    who = generated_day.sql(
        "SELECT ma_cskcb, ma_lk, ho_ten, ma_the_bhyt FROM claims WHERE is_current "
        "ORDER BY ma_cskcb, ma_lk LIMIT 1"
    ).row(0, named=True)
    detail = _detail(
        generated_day.settings, who["ma_cskcb"], who["ma_lk"], unmasked=True
    )
    assert detail["patient"]["ma_the_bhyt"] == who["ma_the_bhyt"]
    body = claim_response_json(detail)
    assert who["ma_the_bhyt"] not in body
    assert who["ho_ten"] not in body
    response = ClaimResponse.model_validate_json(body)
    assert response.patient.identifier.value == detail["patient"]["reference"]
    assert response.patient.identifier.value.endswith("*" * 10)


def test_a_reviewed_claim_is_the_assessors_decision(
    generated_day: GeneratedDay, tmp_path: Path
) -> None:
    settings = generated_day.copy(tmp_path / "data")
    with open_store(settings.store_path) as con:
        queue = rv.queue(con, settings, months=[PERIOD])
        row = queue.filter(pl.col("held_by") == "rule").row(0, named=True)
        lines = rv.stored.engine_version(con, row["ma_cskcb"], row["ma_lk"]).lines
        line = lines.filter(pl.col("accepted_bhtt") > 10).row(0, named=True)
        rv.decide(
            con, settings, row["ma_cskcb"], row["ma_lk"],
            [parse_line(f"{line['table']}:{line['stt']}=reject")],
            assessor="gdv1", justification="Không có chỉ định",
            reason_code=None, decided_at=AT,
        )  # fmt: skip
    detail = _detail(settings, row["ma_cskcb"], row["ma_lk"])
    response = _parsed(detail)
    assert response.outcome in {"complete", "error"}
    assert response.created.isoformat().startswith("2026-11-02T08:00:00")
    assert "giám định viên" in response.disposition
    benefit = _amount(response.total, ADJUDICATION, "benefit")
    assert benefit == Decimal(detail["decision"]["accepted"]["t_bhtt"])
    rejected = [x for x in detail["lines"] if (x["table"], x["stt"]) == (
        line["table"], line["stt"])]  # fmt: skip
    (seq,) = [i for i, x in enumerate(detail["lines"], 1) if x is rejected[0]]
    item = response.item[seq - 1]
    assert _amount(item.adjudication, ADJUDICATION, "benefit") == 0
    said = [n.text for n in response.processNote if n.number in item.noteNumber]
    assert any("REVIEW_REJECTED" in t or "gdv1" in t for t in said)


def test_a_claim_refused_at_validation_is_an_error(
    generated_day: GeneratedDay,
) -> None:
    row = generated_day.sql(
        "SELECT s.ma_cskcb, s.ma_lk FROM claim_status s WHERE s.status = 'rejected' "
        "AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.ma_cskcb = s.ma_cskcb "
        "AND c.ma_lk = s.ma_lk) ORDER BY 1, 2 LIMIT 1"
    ).row(0, named=True)
    detail = _detail(generated_day.settings, row["ma_cskcb"], row["ma_lk"])
    response = _parsed(detail)
    assert response.outcome == "error"
    assert response.item is None
    assert response.total is None
    codes = {e.code.coding[0].code for e in response.error}
    assert codes == {r["reason_code"] for r in detail["refused"][0]["reasons"]}
    assert "gửi lại" in response.disposition
