"""A clinic's pages: its submissions, an upload form, each submission's receipt.

The upload is ``POST /submissions`` itself (``api.routes.submissions.submit``): the
same checks (wrapper, facility, size), the same spool, the same worker; this page only
adds the session's CSRF check and shows the answer. A submission still being assessed
is polled by htmx every :data:`POLL_SECONDS` until its receipt is there.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from api.deps import StateDep, visible
from api.errors import Problem
from api.routes.submissions import stored_receipt, submit
from api.ui.render import Viewer, need, page
from api.ui.session import check_csrf

router = APIRouter(prefix="/ui", include_in_schema=False)
POLL_SECONDS = 2
SHOWN = 200
"""Submissions listed on the page, newest first."""


@router.get("/clinic")
def submissions_page(
    request: Request, state: StateDep, who: Viewer, facility: str | None = None
) -> HTMLResponse:
    """A clinic's submissions (staff: every facility's, or ``facility``'s)."""
    need(who, "clinic", "assessor", "finance", "admin")
    if who.user.role == "clinic":
        facility = who.user.facility
    entries = list(reversed(state.spool.entries(facility=facility or None)))[:SHOWN]
    return page(
        request,
        "clinic.html",
        who,
        entries=entries,
        facility=facility,
        may_upload=who.user.role == "clinic",
        limit_mb=state.settings.api_max_upload_bytes // (1024 * 1024),
    )


@router.post("/clinic/upload")
async def upload(request: Request, state: StateDep, who: Viewer) -> Response:
    """Send a file from the form: the answer of ``POST /submissions``, shown."""
    need(who, "clinic")
    form = await request.form(max_files=1, max_fields=4)
    try:
        sent = form.get("csrf")
        check_csrf(who.session, sent if isinstance(sent, str) else None)
        if not isinstance(form.get("file"), UploadFile):
            raise Problem("INVALID_REQUEST", "Chọn một tệp XML để gửi.")
        answer = await submit(request, state, who.user)
    finally:
        await form.close()
    entry = json.loads(bytes(answer.body))
    again = "1" if answer.status_code == 200 else "0"
    return RedirectResponse(
        f"/ui/clinic/submissions/{entry['id']}?gui_lai={again}", status_code=303
    )


@router.get("/clinic/submissions/{sub_id}")
def submission_page(
    request: Request, sub_id: str, state: StateDep, who: Viewer, gui_lai: int = 0
) -> HTMLResponse:
    """One submission: its status and, once assessed, its receipt claim by claim."""
    found = _submission(state, who, sub_id)
    return page(
        request,
        "submission.html",
        who,
        sent_again=bool(gui_lai),
        poll_seconds=POLL_SECONDS,
        **found,
    )


@router.get("/clinic/submissions/{sub_id}/status")
def submission_status(
    request: Request, sub_id: str, state: StateDep, who: Viewer
) -> HTMLResponse:
    """The receipt part of :func:`submission_page` (what htmx polls)."""
    found = _submission(state, who, sub_id)
    return page(
        request, "submission_status.html", who, poll_seconds=POLL_SECONDS, **found
    )


def _submission(state: StateDep, who: Viewer, sub_id: str) -> dict[str, Any]:
    entry = state.spool.get(sub_id)
    if entry is None or not visible(who.user, entry.facility):
        raise Problem("NOT_FOUND", "Không tìm thấy lần gửi này.")
    receipt = None
    if entry.status in ("assessed", "failed"):
        receipt = stored_receipt(state, entry.sha256)
    return {"entry": entry, "receipt": receipt}
