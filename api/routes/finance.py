"""Finance's routes: settlements of a period (start, status, files), the ledger diff
between two settlements, the post-audit, advances, and the audit trail of state
changes. Every write runs on the server's writer thread (``api.worker``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from api.deps import Finance, Staff, StateDep, not_found
from api.models import AdvanceIn, AuditIn, SettlementIn
from api.worker import now
from claims.pipeline import settlement as settlements
from claims.pipeline.advances import add_advance, cancel_advance, list_advances
from claims.store.events import read_events
from claims.store.runs import open_store

router = APIRouter(tags=["finance"])
_MEDIA = {
    ".csv": "text/csv; charset=utf-8",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".parquet": "application/vnd.apache.parquet",
}


@router.post("/settlements", status_code=201)
def start(body: SettlementIn, state: StateDep, user: Finance) -> dict[str, Any]:
    """Settle a month or a quarter (every facility, or one) and post it to the ledger:
    the settlement with its totals and files."""
    started = state.worker.call(
        settlements.start_settlement,
        state.settings,
        period=body.period,
        kind=body.kind,
        facility=body.facility,
        actor=user.user_id,
        at=now(),
        command="settle",
    )
    return _linked(started)


@router.get("/settlements")
def list_all(state: StateDep, user: Finance) -> dict[str, Any]:
    return {
        "settlements": [
            _linked(s) for s in settlements.list_settlements(state.settings)
        ]
    }


@router.get("/settlements/{settlement_id}")
def status(settlement_id: str, state: StateDep, user: Finance) -> dict[str, Any]:
    found = settlements.settlement_status(state.settings, settlement_id)
    if found is None:
        raise not_found()
    return _linked(found)


def _linked(settlement: dict[str, Any]) -> dict[str, Any]:
    """A settlement with its files as download addresses (not server paths)."""
    base = f"/settlements/{settlement['id']}/files"
    return {**settlement, "files": {n: f"{base}/{n}" for n in settlement["files"]}}


@router.post("/audits", status_code=201)
def audit(body: AuditIn, state: StateDep, user: Finance) -> dict[str, Any]:
    """Post-audit a settled period with a pack version (``ID@VERSION``); with
    ``post`` its recoveries and underpayments go to the ledger."""
    found = state.worker.call(
        settlements.start_audit,
        state.settings,
        period=body.period,
        pack=body.pack,
        facility=body.facility,
        post=body.post,
        actor=user.user_id,
        at=now(),
        command="audit",
    )
    return {**found, "files": sorted(found["files"])}


@router.get("/advances")
def advances(
    state: StateDep,
    user: Finance,
    facility: Annotated[str | None, Query(max_length=20)] = None,
    period: Annotated[str | None, Query(max_length=7)] = None,
) -> dict[str, Any]:
    """Advances paid to facilities and each facility's standing."""
    return list_advances(state.settings, facility=facility, period=period)


@router.post("/advances", status_code=201)
def add(body: AdvanceIn, state: StateDep, user: Finance) -> dict[str, Any]:
    """Record an advance (tạm ứng) to a facility for a period."""
    return state.worker.call(
        add_advance,
        state.settings,
        facility=body.facility,
        period=body.period,
        amount=body.amount,
        actor=user.user_id,
        at=now(),
        command="advance",
    )


@router.post("/advances/{advance_id}/cancel")
def cancel(advance_id: str, state: StateDep, user: Finance) -> dict[str, Any]:
    """Reverse an advance; the settled periods it overlaps must be settled again."""
    return state.worker.call(
        cancel_advance,
        state.settings,
        advance_id,
        actor=user.user_id,
        at=now(),
        command="advance",
    )


@router.get("/settlements/{settlement_id}/files/{name:path}")
def download(
    settlement_id: str, name: str, state: StateDep, user: Finance
) -> FileResponse:
    """One report file of a settlement (the C79a/C80a forms as Excel, CSV, Parquet)."""
    path = settlements.settlement_files(state.settings, settlement_id).get(name)
    if path is None:
        raise not_found()
    return FileResponse(path, media_type=_MEDIA[path.suffix], filename=path.name)


@router.get("/settlements/{a}/diff/{b}")
def diff(a: str, b: str, state: StateDep, user: Finance) -> dict[str, Any]:
    """What changed from settlement ``a`` to ``b``, per facility, claim, cost group."""
    for settlement_id in (a, b):
        if settlements.find_settlement(state.settings, settlement_id) is None:
            raise not_found()
    return {"changes": settlements.ledger_diff(state.settings, a, b)}


@router.get("/events")
def events(
    state: StateDep,
    user: Staff,
    subject: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=50)] = None,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    since: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> dict[str, Any]:
    """The audit trail: every state change with who, when, what, before and after."""
    with open_store(state.settings.store_path) as con:
        rows = read_events(
            con, subject=subject, action=action, actor=actor, since=since, limit=limit
        )
    return {"events": rows}
