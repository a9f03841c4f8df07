"""Finance's pages: the settlements, starting one, its totals, a claim's lines in it,
and its report files (Excel workbooks, CSV) to download.

A settlement is ``claims.pipeline.settlement.start_settlement`` run on the server's one
writer thread (``state.worker.call``), as ``giamdinh settle`` runs it under the writer
lock; the pages read what it wrote (``list_settlements``, ``settlement_status``,
``settlement_files``). A claim's part of a settlement is read from its ``claims.csv``
(one row per claim and cost group).
"""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from api.deps import StateDep
from api.errors import Problem
from api.ui.render import FINANCE, Viewer, need, page
from api.ui.session import Visitor, check_csrf
from api.worker import now
from claims.errors import ClaimsError
from claims.pipeline.settlement import (
    list_settlements,
    settlement_files,
    settlement_status,
    start_settlement,
)

router = APIRouter(prefix="/ui", include_in_schema=False)
QUARTER = re.compile(r"^\d{4}-Q[1-4]$")
FACILITY_COLUMNS = (
    "ma_cskcb", "claims", "requested", "accepted", "rejected", "pending_claims",
    "pending_amount", "advances", "due", "carried_forward",
)  # fmt: skip
CLAIM_COLUMNS = (
    "ma_cskcb", "ma_lk", "treatment", "cost_group", "claimed_bhtt", "accepted_bhtt",
    "rejected_amount", "pending_amount",
)  # fmt: skip
MEDIA = {
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".csv": "text/csv; charset=utf-8",
    ".parquet": "application/vnd.apache.parquet",
}


@router.get("/settlements")
def settlements_page(request: Request, state: StateDep, who: Viewer) -> HTMLResponse:
    need(who, *FINANCE)
    return _list(request, who, state)


def _list(
    request: Request,
    who: Visitor,
    state: StateDep,
    *,
    error: str | None = None,
    period: str = "",
) -> HTMLResponse:
    found = list(reversed(list_settlements(state.settings)))
    return page(
        request,
        "settlements.html",
        who,
        status_code=422 if error else 200,
        settlements=found,
        error=error,
        period=period,
    )


@router.post("/settlements")
async def start(request: Request, state: StateDep, who: Viewer) -> Response:
    """Settle and post a period (month ``YYYY-MM`` or quarter ``YYYY-Qn``)."""
    need(who, *FINANCE)
    form = await request.form(max_files=0, max_fields=10)
    check_csrf(who.session, _text(form, "csrf"))
    period = (_text(form, "period") or "").strip()
    facility = (_text(form, "facility") or "").strip() or None
    try:
        done = state.worker.call(
            start_settlement,
            state.settings,
            period=period,
            kind="quarter" if QUARTER.match(period) else "month",
            facility=facility,
            actor=who.user.user_id,
            at=now(),
            command=f"ui settle {period}",
        )
    except ClaimsError as exc:
        return _list(
            request, who, state, error=f"Chưa quyết toán được: {exc}", period=period
        )
    return RedirectResponse(f"/ui/settlements/{done['id']}", status_code=303)


@router.get("/settlements/{settlement_id}")
def settlement_page(
    request: Request, settlement_id: str, state: StateDep, who: Viewer, ma_lk: str = ""
) -> HTMLResponse:
    """A settlement: its totals per facility, its files and, with ``ma_lk``, that
    claim's rows (per cost group)."""
    need(who, *FINANCE)
    found = settlement_status(state.settings, settlement_id)
    if found is None:
        raise Problem("NOT_FOUND", "Không có đợt quyết toán này.")
    files = settlement_files(state.settings, settlement_id)
    claim_rows: list[dict[str, str]] = []
    if ma_lk.strip() and "claims.csv" in files:
        claim_rows = _rows(files["claims.csv"], ma_lk=ma_lk.strip())
    accepted = sum((Decimal(r["accepted_bhtt"] or "0") for r in claim_rows), Decimal(0))
    return page(
        request,
        "settlement.html",
        who,
        s=found,
        facilities=_rows(files["facilities.csv"]) if "facilities.csv" in files else [],
        facility_columns=FACILITY_COLUMNS,
        claim_columns=CLAIM_COLUMNS,
        files=sorted(n for n in files if not n.endswith(".parquet")),
        ma_lk=ma_lk.strip(),
        claim_rows=claim_rows,
        claim_accepted=accepted,
    )


@router.get("/settlements/{settlement_id}/files/{name:path}")
def settlement_file(
    settlement_id: str, name: str, state: StateDep, who: Viewer
) -> FileResponse:
    """One report file of a settlement, as a download."""
    need(who, *FINANCE)
    path = settlement_files(state.settings, settlement_id).get(name)
    if path is None:
        raise Problem("NOT_FOUND", "Không có tệp này trong đợt quyết toán.")
    return FileResponse(
        path,
        media_type=MEDIA.get(path.suffix, "application/octet-stream"),
        filename=f"{settlement_id}-{name.replace('/', '-')}",
    )


def _rows(path: Path, *, ma_lk: str | None = None) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            row
            for row in csv.DictReader(handle)
            if ma_lk is None or row.get("ma_lk") == ma_lk
        ]


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None
