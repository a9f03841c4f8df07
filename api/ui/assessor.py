"""Assessors' pages: the review queue, a claim's page, the decision form and the
second assessor's approval (four-eyes).

The queue is ``claims.pipeline.review.queue`` (money at risk first); a claim's page is
``claims.pipeline.claim_view.claim_detail`` as ``GET /claims/…`` reads it
(``api.routes.claims.detail_for``: the same masking, the same 404); a decision is
``claims.pipeline.review.decide`` and an approval ``approve``, each run on the server's
one writer thread (``state.worker.call``) as ``giamdinh review decide|approve|refuse``
runs them under the writer lock. A decision the engine refuses (no justification, a
BHXH code off the list, another assessor's lock…) is shown on the claim page with
what to change.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from api.deps import StateDep
from api.errors import Problem
from api.routes.claims import detail_for
from api.ui.render import ACTIONS, ASSESSORS, Viewer, need, number_of, page
from api.ui.session import Visitor, check_csrf
from api.worker import now
from claims.config import Settings
from claims.errors import ClaimsError
from claims.pipeline.review import (
    approve,
    contest,
    decide,
    queue,
    release,
    take,
)
from claims.review import parse_line
from claims.review.decisions import BHXH_REASONS, LineDecision
from claims.settle import months_of
from claims.store.runs import open_store

router = APIRouter(prefix="/ui", include_in_schema=False)
SHOWN = 200
"""Queue rows shown on one page (the queue is ranked: the first are what matters)."""
PERIOD = re.compile(r"^\d{4}-(\d{2}|Q[1-4])$")
LINE_FIELD = re.compile(r"^action_(XML[23])_(\d+)$")
NUMBER = re.compile(r"^\d+(\.\d+)?$")
SORTS = {
    "money": ("money_at_risk", True),
    "risk": ("risk", True),
    "due": ("due_date", False),
}
"""The queue's orders: money at risk (its rank), risk, due date (soonest first)."""
LOCKS = {"take": "Nhận xử lý", "release": "Trả lại hồ sơ"}
SAVED = {
    "take": "Đã nhận xử lý: hồ sơ được khóa cho bạn trong lúc quyết định.",
    "release": "Đã trả lại hồ sơ: giám định viên khác có thể nhận.",
    "contest": "Đã gửi khiếu nại: hồ sơ được giám định lại bởi giám định viên khác.",
}


@router.get("/queue")
def queue_page(
    request: Request,
    state: StateDep,
    who: Viewer,
    facility: str = "",
    period: str = "",
    sort: str = "money",
) -> HTMLResponse:
    """Claims waiting for an assessor, money at risk first (or by risk, or by due
    date); filters: facility (MA_CSKCB), period (YYYY-MM or YYYY-Qn)."""
    need(who, *ASSESSORS)
    facility, period = facility.strip(), period.strip()
    error = None
    months = None
    if period and not PERIOD.match(period):
        error = (
            f"Kỳ '{period}' không đúng dạng: nhập YYYY-MM (tháng) hoặc YYYY-Qn (quý)."
        )
    elif period:
        months = months_of(period)
    rows: list[dict[str, Any]] = []
    total = 0
    if error is None:
        with open_store(state.settings.store_path) as con:
            found = queue(con, state.settings, months=months, facility=facility or None)
        total = found.height
        key, descending = SORTS.get(sort, SORTS["money"])
        if total and key != "money_at_risk":  # the queue comes ranked by money
            found = found.sort(key, descending=descending, nulls_last=True)
        rows = found.head(SHOWN).to_dicts() if total else []
    return page(
        request,
        "queue.html",
        who,
        rows=rows,
        total=total,
        facility=facility,
        period=period,
        sort=sort if sort in SORTS else "money",
        error=error,
    )


@router.get("/claims/{facility}/{ma_lk}")
def claim_page(
    request: Request,
    facility: str,
    ma_lk: str,
    state: StateDep,
    who: Viewer,
    da_luu: str = "",
) -> HTMLResponse:
    """A stored claim: decision in force, lines with their reasons, rule hits, anomaly
    explanation, versions, reviews; the decision form for an assessor."""
    detail = detail_for(state, who.user, facility, ma_lk)
    return _claim(request, who, detail, saved=da_luu or None)


def _claim(
    request: Request,
    who: Visitor,
    detail: dict[str, Any],
    *,
    saved: str | None = None,
    error: str | None = None,
    sent: dict[str, str] | None = None,
) -> HTMLResponse:
    decision = detail.get("decision") or {}
    reviews = detail.get("reviews") or []
    waiting = [r for r in reviews if r.get("state") == "awaiting_approval"]
    assessor = who.user.role in ASSESSORS
    return page(
        request,
        "claim.html",
        who,
        status_code=422 if error else 200,
        c=detail,
        decision=decision,
        claim_reasons=[r for r in detail["reasons"] if r.get("line_no") is None],
        reason_text={
            r["code"]: r.get("message") or ""
            for r in detail["reasons"]
            if r.get("code")
        },
        may_decide=assessor
        and decision.get("outcome") == "pending_review"
        and not waiting,
        awaiting=[r for r in waiting if assessor and r["assessor"] != who.user.user_id],
        may_contest=who.user.role == "clinic" and decision.get("source") == "review",
        actions=ACTIONS,
        bhxh=BHXH_REASONS,
        saved=SAVED.get(saved, f"Đã ghi: review {saved}.") if saved else None,
        error=error,
        sent=sent or {},
    )


@router.post("/claims/{facility}/{ma_lk}/decide")
async def decide_claim(
    request: Request, facility: str, ma_lk: str, state: StateDep, who: Viewer
) -> Response:
    """Record the form's per-line decisions (``claims.pipeline.review.decide``)."""
    need(who, *ASSESSORS)
    form = await request.form(max_files=0, max_fields=2000)
    check_csrf(who.session, _text(form, "csrf"))
    detail = detail_for(state, who.user, facility, ma_lk)
    sent = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf"}
    try:
        chosen = _chosen(form)
        result = state.worker.call(
            _decide,
            state.settings,
            facility,
            ma_lk,
            chosen,
            assessor=who.user.user_id,
            justification=_text(form, "justification"),
            reason_code=_text(form, "reason_code") or None,
            command=f"ui review decide {facility} {ma_lk}",
        )
    except ClaimsError as exc:
        return _claim(
            request,
            who,
            detail,
            error=f"Chưa ghi được quyết định: {exc}",
            sent=sent,
        )
    return RedirectResponse(
        f"/ui/claims/{facility}/{ma_lk}?da_luu={result}", status_code=303
    )


def _chosen(form: FormData) -> list[LineDecision]:
    """The lines the form decides (``TABLE:STT=ACTION[:VALUE]`` as the CLI's
    ``--line``); at least one."""
    chosen = []
    for name, action in form.items():
        found = LINE_FIELD.match(name)
        if found is None or not isinstance(action, str) or not action:
            continue
        if action not in ACTIONS:
            msg = f"hành động '{action}' không có; chọn một trong {', '.join(ACTIONS)}"
            raise ClaimsError(msg)
        table, stt = found.groups()
        value = number_of(_text(form, f"value_{table}_{stt}") or "")
        if action in ("reduce", "qty") and not NUMBER.match(value):
            what = "số tiền được trả" if action == "reduce" else "số lượng được trả"
            msg = (
                f"dòng {table} STT {stt}: '{ACTIONS[action]}' cần {what}, viết như "
                "120.000 hoặc 0,5 (đã nhập: "
                f"'{_text(form, f'value_{table}_{stt}') or ''}')"
            )
            raise ClaimsError(msg)
        text = f"{table}:{stt}={action}" + (
            f":{value}" if action in ("reduce", "qty") else ""
        )
        chosen.append(parse_line(text))
    if not chosen:
        msg = "chọn quyết định cho ít nhất một dòng (chấp nhận, từ chối, giảm, sửa SL)"
        raise ClaimsError(msg)
    if not (_text(form, "justification") or "").strip():
        msg = "nhập căn cứ, lý do giám định (bắt buộc: cơ sở KCB đọc được lý do này)"
        raise ClaimsError(msg)
    return chosen


def _decide(
    settings: Settings,
    facility: str,
    ma_lk: str,
    chosen: list[LineDecision],
    *,
    assessor: str,
    justification: str | None,
    reason_code: str | None,
) -> str:
    with open_store(settings.store_path) as con:
        reviewed = decide(
            con,
            settings,
            facility,
            ma_lk,
            chosen,
            assessor=assessor,
            justification=justification,
            reason_code=reason_code,
            decided_at=now(),
        )
    return reviewed.review_id


@router.post("/claims/{facility}/{ma_lk}/lock/{verb}")
async def lock_claim(
    request: Request,
    facility: str,
    ma_lk: str,
    verb: str,
    state: StateDep,
    who: Viewer,
) -> Response:
    """``take``: lock the claim to the assessor for ``Settings.review_lock_minutes``
    while they decide it; ``release``: give it back (``giamdinh review take|release``)."""
    need(who, *ASSESSORS)
    if verb not in LOCKS:
        raise Problem("NOT_FOUND", "Không có thao tác này.")
    form = await request.form(max_files=0, max_fields=4)
    check_csrf(who.session, _text(form, "csrf"))
    detail = detail_for(state, who.user, facility, ma_lk)
    try:
        state.worker.call(
            _lock,
            state.settings,
            facility,
            ma_lk,
            verb,
            assessor=who.user.user_id,
            command=f"ui review {verb} {facility} {ma_lk}",
        )
    except ClaimsError as exc:
        return _claim(request, who, detail, error=f"{LOCKS[verb]} không được: {exc}")
    return RedirectResponse(
        f"/ui/claims/{facility}/{ma_lk}?da_luu={verb}", status_code=303
    )


def _lock(
    settings: Settings, facility: str, ma_lk: str, verb: str, *, assessor: str
) -> None:
    moment = datetime.now(UTC)
    at = moment.isoformat(timespec="microseconds")
    with open_store(settings.store_path) as con:
        if verb == "take":
            until = moment + timedelta(minutes=settings.review_lock_minutes)
            take(
                con,
                settings,
                facility,
                ma_lk,
                assessor=assessor,
                at=at,
                expires_at=until.isoformat(timespec="microseconds"),
            )
        else:
            release(con, facility, ma_lk, assessor=assessor, at=at)


@router.post("/claims/{facility}/{ma_lk}/contest")
async def contest_claim(
    request: Request, facility: str, ma_lk: str, state: StateDep, who: Viewer
) -> Response:
    """The clinic contests the assessor's decision in force: the claim goes back to
    the queue for another assessor (``claims.pipeline.review.contest``)."""
    need(who, "clinic")
    form = await request.form(max_files=0, max_fields=4)
    check_csrf(who.session, _text(form, "csrf"))
    detail = detail_for(state, who.user, facility, ma_lk)
    try:
        if not (_text(form, "reason") or "").strip():
            msg = "nhập lý do khiếu nại (bắt buộc)"
            raise ClaimsError(msg)
        state.worker.call(
            _contest,
            state.settings,
            facility,
            ma_lk,
            reason=_text(form, "reason") or "",
            by=who.user.user_id,
            command=f"ui review contest {facility} {ma_lk}",
        )
    except ClaimsError as exc:
        return _claim(request, who, detail, error=f"Chưa gửi được khiếu nại: {exc}")
    return RedirectResponse(
        f"/ui/claims/{facility}/{ma_lk}?da_luu=contest", status_code=303
    )


def _contest(
    settings: Settings, facility: str, ma_lk: str, *, reason: str, by: str
) -> str:
    with open_store(settings.store_path) as con:
        return contest(con, facility, ma_lk, reason=reason, by=by, at=now())


@router.post("/reviews/{review_id}/approve")
async def approve_review(
    request: Request, review_id: str, state: StateDep, who: Viewer
) -> Response:
    """A second assessor approves (or, with a reason, refuses) a review awaiting
    approval (``claims.pipeline.review.approve``)."""
    need(who, *ASSESSORS)
    form = await request.form(max_files=0, max_fields=10)
    check_csrf(who.session, _text(form, "csrf"))
    facility, ma_lk = _text(form, "facility") or "", _text(form, "ma_lk") or ""
    refuse = (
        _text(form, "refuse_reason") if _text(form, "verdict") == "refuse" else None
    )
    try:
        state.worker.call(
            _approve,
            state.settings,
            review_id,
            approver=who.user.user_id,
            refuse=refuse if refuse is None else refuse.strip(),
            command=f"ui review approve {review_id}",
        )
    except ClaimsError as exc:
        detail = detail_for(state, who.user, facility, ma_lk)
        return _claim(request, who, detail, error=f"Chưa phê duyệt được: {exc}")
    return RedirectResponse(
        f"/ui/claims/{facility}/{ma_lk}?da_luu={review_id}", status_code=303
    )


def _approve(
    settings: Settings, review_id: str, *, approver: str, refuse: str | None
) -> dict[str, Any]:
    with open_store(settings.store_path) as con:
        return approve(
            con, settings, review_id, approver=approver, at=now(), refuse=refuse
        )


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None
