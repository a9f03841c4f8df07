"""A stored claim's decision as a FHIR R4B ``ClaimResponse`` (what
``GET /claims/{ma_cskcb}/{ma_lk}/fhir`` answers to systems that speak FHIR).

Built from the detail of ``claims.pipeline.claim_view.claim_detail`` and validated by
the ``fhir.resources`` R4B models (R4B: the release ``fhir.resources`` ships closest to
R4). Mapping:

- ``status``: ``active`` (``cancelled`` for a withdrawal); ``use``: ``claim``;
  ``type``: ``institutional`` for a stay (inpatient), else ``professional``.
- ``outcome``: ``complete`` when the decision is final (accepted, partially accepted);
  ``partial`` while it waits for an assessor (``pending_review``: the engine is done,
  a person is not); ``error`` when the claim is rejected or every submission of it was
  refused at validation (the reasons are in ``error`` and ``processNote``).
- ``patient``: the masked card number only (``patient.reference`` of the detail:
  object code, benefit level, province; the BHXH number hidden), never a name.
- ``insurer``: Vietnam Social Security; ``requestor``: the facility (MA_CSKCB);
  ``request``: the claim, identifier ``MA_CSKCB/MA_LK``.
- ``item``: one per XML2/XML3 line in table and line order (``itemSequence`` 1…n),
  adjudicated in VND: ``submitted`` (THANH_TIEN_BV claimed), ``eligible`` (the
  insured-scope amount accepted, THANH_TIEN_BH), ``eligpercent`` (MUC_HUONG by law),
  ``copay`` (the patient's co-payment accepted, T_BNCCT), ``benefit`` (the fund's
  share accepted, T_BHTT) and, in :data:`LOCAL`, ``claimed-benefit`` (T_BHTT claimed);
  ``noteNumber`` points at the process notes naming the line.
- ``total``: the same categories over the claim (the XML1 totals: T_TONGCHI_BV
  claimed, T_TONGCHI_BH, T_BNCCT and T_BHTT accepted, T_BHTT claimed).
- ``processNote``: every reason of the decision in force, in Vietnamese as the engine
  or the assessor wrote it; ``disposition`` one sentence on the outcome.

This module imports only ``fhir.resources`` and the standard library.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.claimresponse import ClaimResponse

ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
LOCAL = "urn:giamdinh:adjudication"
"""Categories HL7's adjudication code system has no code for (``claimed-benefit``)."""
FACILITY = "urn:giamdinh:ma-cskcb"
CLAIM = "urn:giamdinh:ma-cskcb-ma-lk"
CARD = "urn:giamdinh:ma-the-bhyt-masked"
REASON = "urn:giamdinh:reason-code"
INSURER = {
    "identifier": {"system": "urn:giamdinh:insurer", "value": "BHXH-VN"},
    "display": "Bảo hiểm xã hội Việt Nam (Vietnam Social Security)",
}
CURRENCY = "VND"
OUTCOMES = {
    "accepted": "complete",
    "partially_accepted": "complete",
    "pending_review": "partial",
    "rejected": "error",
}
"""The engine's (or an assessor's) outcome → ``ClaimResponse.outcome``."""
SAID = {
    "accepted": "Hồ sơ được chấp nhận thanh toán",
    "partially_accepted": "Hồ sơ được chấp nhận một phần",
    "pending_review": "Hồ sơ chờ giám định viên xem xét (chưa thanh toán)",
    "rejected": "Hồ sơ bị từ chối thanh toán",
}
LINE_AMOUNTS = (
    (ADJUDICATION, "submitted", "claimed_bv"),
    (ADJUDICATION, "eligible", "accepted_bh"),
    (ADJUDICATION, "copay", "accepted_bncct"),
    (ADJUDICATION, "benefit", "accepted_bhtt"),
    (LOCAL, "claimed-benefit", "claimed_bhtt"),
)
"""Per line: (system, category, the detail line's amount)."""
TOTAL_AMOUNTS = (
    (ADJUDICATION, "submitted", "claimed", "t_tongchi_bv"),
    (ADJUDICATION, "eligible", "accepted", "t_tongchi_bh"),
    (ADJUDICATION, "copay", "accepted", "t_bncct"),
    (ADJUDICATION, "benefit", "accepted", "t_bhtt"),
    (LOCAL, "claimed-benefit", "claimed", "t_bhtt"),
)
"""Per total: (system, category, the decision's part, the XML1 total)."""


def claim_response(detail: dict[str, Any]) -> dict[str, Any]:
    """The ``ClaimResponse`` of a claim detail as a JSON-ready dict, validated by the
    R4B model; amounts are exact ``Decimal``s (write them as JSON numbers, or send
    :func:`claim_response_json`).

    Raises:
        pydantic.ValidationError: the resource built is not valid R4B (a bug here).
    """
    text = ClaimResponse.model_validate(_resource(detail)).model_dump_json()
    parsed: dict[str, Any] = json.loads(text, parse_float=Decimal)
    return parsed


def claim_response_json(detail: dict[str, Any]) -> str:
    """:func:`claim_response` as JSON text (``application/fhir+json``)."""
    return ClaimResponse.model_validate(_resource(detail)).model_dump_json()


def _resource(detail: dict[str, Any]) -> dict[str, Any]:
    facility, ma_lk = detail["ma_cskcb"], detail["ma_lk"]
    decision = detail.get("decision")
    current = detail.get("current") or {}
    notes, by_line = _notes(detail)
    resource: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "id": _id(f"{facility}.{ma_lk}.{current.get('version', 0)}"),
        "identifier": [{"system": CLAIM, "value": f"{facility}/{ma_lk}"}],
        "status": "cancelled" if current.get("withdrawn") else "active",
        "type": _concept(CLAIM_TYPE, _claim_type(decision, current)),
        "use": "claim",
        "patient": _patient(detail),
        "created": _created(detail),
        "insurer": INSURER,
        "requestor": {"identifier": {"system": FACILITY, "value": facility}},
        "request": {"identifier": {"system": CLAIM, "value": f"{facility}/{ma_lk}"}},
    }
    if decision is None:
        resource |= {
            "outcome": "error",
            "disposition": "Hồ sơ bị từ chối tiếp nhận do lỗi dữ liệu; sửa và gửi lại",
        }
    else:
        outcome = decision["outcome"]
        resource |= {
            "outcome": OUTCOMES.get(outcome, "partial"),
            "disposition": _disposition(decision),
            "total": [
                {
                    "category": _concept(system, code),
                    "amount": _money(decision[part][total]),
                }
                for system, code, part, total in TOTAL_AMOUNTS
            ],
        }
        items = _items(detail["lines"], by_line, decision)
        if items:
            resource["item"] = items
    if notes:
        resource["processNote"] = notes
    errors = _errors(detail, decision)
    if errors:
        resource["error"] = errors
    return resource


def _items(
    lines: list[dict[str, Any]],
    by_line: dict[tuple[str, int], list[int]],
    decision: dict[str, Any],
) -> list[dict[str, Any]]:
    """One item per line: its adjudications, and the notes naming it."""
    items = []
    for sequence, line in enumerate(lines, start=1):
        adjudication: list[dict[str, Any]] = [
            {"category": _concept(system, code), "amount": _money(line[field])}
            for system, code, field in LINE_AMOUNTS
            if line.get(field) is not None
        ]
        percent = line.get("law_muc_huong") or decision.get("law_muc_huong")
        if percent is not None:
            adjudication.insert(
                2,
                {
                    "category": _concept(ADJUDICATION, "eligpercent"),
                    "value": Decimal(percent),
                },
            )
        item: dict[str, Any] = {"itemSequence": sequence, "adjudication": adjudication}
        noted = by_line.get((line["table"], line["line_no"]))
        if noted:
            item["noteNumber"] = noted
        items.append(item)
    return items


def _notes(
    detail: dict[str, Any],
) -> tuple[list[dict[str, Any]], dict[tuple[str, int], list[int]]]:
    """The process notes (one per reason, or per refusal cause) and, per line
    ``(table, line_no)``, the numbers of the notes naming it."""
    notes: list[dict[str, Any]] = []
    by_line: dict[tuple[str, int], list[int]] = {}
    for number, reason in enumerate(_said(detail), start=1):
        notes.append({"number": number, "type": "display", "text": reason[0]})
        if reason[1] is not None:
            by_line.setdefault(reason[1], []).append(number)
    return notes, by_line


def _said(detail: dict[str, Any]) -> list[tuple[str, tuple[str, int] | None]]:
    """Each reason's text and the line it names (None: the claim)."""
    said: list[tuple[str, tuple[str, int] | None]] = []
    for r in detail.get("reasons") or []:
        where = ""
        line = None
        if r.get("table") and r.get("line_no") is not None:
            line = (r["table"], r["line_no"])
            code = f" ({r['item_code']})" if r.get("item_code") else ""
            where = f"{r['table']} STT {r.get('stt')}{code}: "
        bhxh = f" [{r['bhxh_code']}]" if r.get("bhxh_code") else ""
        said.append((f"{r['code']}{bhxh}: {where}{r['message']}", line))
    if detail.get("decision") is None:
        for cause in _latest_refusal(detail):
            field = f" {cause['field']}" if cause.get("field") else ""
            line = cause.get("line_no")
            where = f"{cause['table']} dòng {line}: " if line is not None else ""
            text = f"{cause['reason_code']}{field}: {where}{cause['message']}"
            said.append((text, None))
    return said


def _latest_refusal(detail: dict[str, Any]) -> list[dict[str, Any]]:
    """The causes of the newest refused submission (the detail lists them newest
    first)."""
    refused = detail.get("refused") or []
    return list(refused[0].get("reasons") or []) if refused else []


def _errors(
    detail: dict[str, Any], decision: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """For a rejected or refused claim, one error per reason code (on its first
    line where the reason names one)."""
    if decision is not None and decision["outcome"] != "rejected":
        return []
    codes: dict[str, int | None] = {}
    if decision is not None:
        lines = {
            (x["table"], x["line_no"]): i for i, x in enumerate(detail["lines"], 1)
        }
        for r in detail.get("reasons") or []:
            at = lines.get((r.get("table"), r.get("line_no")))
            codes.setdefault(r["code"], at)
    else:
        for cause in _latest_refusal(detail):
            codes.setdefault(cause["reason_code"], None)
    errors = []
    for code, at in codes.items():
        error: dict[str, Any] = {"code": _concept(REASON, code)}
        if at is not None:
            error["itemSequence"] = at
        errors.append(error)
    return errors


def _patient(detail: dict[str, Any]) -> dict[str, Any]:
    patient = detail.get("patient") or {}
    card = patient.get("reference")
    if not card:
        return {"display": "Không xác định (hồ sơ chưa được tiếp nhận)"}
    return {"identifier": {"system": CARD, "value": card}}


def _created(detail: dict[str, Any]) -> str:
    """When the decision in force was made: the review's time, else the run's day."""
    decision = detail.get("decision") or {}
    if decision.get("review_id"):
        for review in detail.get("reviews") or []:
            if review["review_id"] == decision["review_id"]:
                return str(review["approved_at"] or review["decided_at"])
    current = detail.get("current") or {}
    if current.get("run_date"):
        return str(current["run_date"])
    refused = detail.get("refused") or [{}]
    return str(refused[0].get("run_date") or "1970-01-01")


def _claim_type(decision: dict[str, Any] | None, current: dict[str, Any]) -> str:
    inpatient = (decision or current).get("inpatient")
    return "institutional" if inpatient else "professional"


def _disposition(decision: dict[str, Any]) -> str:
    outcome = decision["outcome"]
    said = SAID.get(outcome, outcome)
    claimed = decision["claimed"]["t_bhtt"]
    accepted = decision["accepted"]["t_bhtt"]
    who = " (giám định viên)" if decision.get("source") == "review" else ""
    if outcome == "pending_review":
        return (
            f"{said}{who}: đề nghị {claimed}, tạm tính chấp nhận {accepted} đồng "
            "(T_BHTT), chưa có hiệu lực thanh toán."
        )
    return (
        f"{said}{who}: đề nghị {claimed}, chấp nhận {accepted}, không chấp nhận "
        f"{decision['rejected_amount']} đồng (T_BHTT)."
    )


def _concept(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _money(text: str | None) -> dict[str, Any]:
    return {"value": Decimal(text or "0"), "currency": CURRENCY}


def _id(text: str) -> str:
    """A FHIR id (``[A-Za-z0-9.-]{1,64}``) from ``text``."""
    return re.sub(r"[^A-Za-z0-9.-]", "-", text)[:64] or "claim"


__all__ = ["claim_response", "claim_response_json"]
