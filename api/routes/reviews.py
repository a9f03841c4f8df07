"""The assessors' routes over the review module (``claims.pipeline.review``): the
queue, taking and releasing a claim, a decision per line, four-eyes approval. Every
write runs on the server's writer thread (``api.worker``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from api.deps import Assessor, StateDep
from api.models import ApprovalIn, DecisionIn
from api.routes.claims import Facility, MaLk, detail_for
from api.worker import now
from claims.pipeline import review as reviews
from claims.store.runs import open_store

router = APIRouter(prefix="/review", tags=["assessor"])
Month = Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]


@router.get("/queue")
def get_queue(
    state: StateDep,
    user: Assessor,
    month: Month = None,
    facility: Annotated[str | None, Query(max_length=20)] = None,
    sort: Literal["money", "risk", "due"] = "money",
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> dict[str, Any]:
    """Claims waiting for an assessor, money at risk first (or by risk, by due date),
    each with its reasons, priority and due date."""
    with open_store(state.settings.store_path) as con:
        frame = reviews.queue(
            con, state.settings, months=[month] if month else None, facility=facility
        )
    key = {"money": "money_at_risk", "risk": "risk", "due": "due_date"}[sort]
    if frame.height and key != "money_at_risk":
        frame = frame.sort(key, descending=key == "risk", nulls_last=True)
    rows = frame.head(limit).to_dicts()
    return {"total": frame.height, "claims": [_plain(r) for r in rows]}


@router.post("/{ma_cskcb}/{ma_lk}/take")
def take(
    ma_cskcb: Facility, ma_lk: MaLk, state: StateDep, user: Assessor
) -> dict[str, Any]:
    """Lock the claim to the caller for ``Settings.review_lock_minutes``."""
    detail_for(state, user, ma_cskcb, ma_lk)
    at = datetime.now(UTC)
    until = at + timedelta(minutes=state.settings.review_lock_minutes)
    state.worker.call(
        _take, state, ma_cskcb, ma_lk, user.user_id, at, until, command="review"
    )
    return {"taken_by": user.user_id, "until": until.isoformat()}


def _take(
    state: StateDep, facility: str, claim: str, who: str, at: datetime, until: datetime
) -> None:
    with open_store(state.settings.store_path) as con:
        reviews.take(
            con,
            state.settings,
            facility,
            claim,
            assessor=who,
            at=at.isoformat(timespec="microseconds"),
            expires_at=until.isoformat(timespec="microseconds"),
        )


@router.post("/{ma_cskcb}/{ma_lk}/release")
def release(
    ma_cskcb: Facility, ma_lk: MaLk, state: StateDep, user: Assessor
) -> dict[str, Any]:
    detail_for(state, user, ma_cskcb, ma_lk)
    state.worker.call(_release, state, ma_cskcb, ma_lk, user.user_id, command="review")
    return {"released": True}


def _release(state: StateDep, facility: str, claim: str, who: str) -> None:
    with open_store(state.settings.store_path) as con:
        reviews.release(con, facility, claim, assessor=who, at=now())


@router.post("/{ma_cskcb}/{ma_lk}/decision")
def decide(
    ma_cskcb: Facility,
    ma_lk: MaLk,
    body: DecisionIn,
    state: StateDep,
    user: Assessor,
) -> dict[str, Any]:
    """Decide a claim open for review, line by line, with a justification; a cut
    above ``Settings.review_four_eyes_amount`` waits for a second assessor."""
    detail_for(state, user, ma_cskcb, ma_lk)
    return state.worker.call(
        _decide, state, ma_cskcb, ma_lk, body, user.user_id, command="review"
    )


def _decide(
    state: StateDep, facility: str, claim: str, body: DecisionIn, who: str
) -> dict[str, Any]:
    with open_store(state.settings.store_path) as con:
        done = reviews.decide(
            con,
            state.settings,
            facility,
            claim,
            [line.decision() for line in body.lines],
            assessor=who,
            justification=body.justification,
            reason_code=body.reason_code,
            decided_at=now(),
        )
    return {"review_id": done.review_id, "state": done.state}


@router.post("/approvals/{review_id}")
def approve(
    review_id: str, body: ApprovalIn, state: StateDep, user: Assessor
) -> dict[str, Any]:
    """A second assessor approves (or, with ``refuse``, refuses) a review."""
    return state.worker.call(
        _approve, state, review_id, user.user_id, body.refuse, command="review"
    )


def _approve(
    state: StateDep, review_id: str, who: str, refuse: str | None
) -> dict[str, Any]:
    with open_store(state.settings.store_path) as con:
        return _plain(
            reviews.approve(
                con, state.settings, review_id, approver=who, at=now(), refuse=refuse
            )
        )


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """Money and dates as strings (JSON has no decimal)."""
    return {
        k: v
        if v is None or isinstance(v, bool | int | float | str | list | dict)
        else str(v)
        for k, v in row.items()
    }
