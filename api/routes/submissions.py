"""A clinic sends its claim files and follows them: ``/submissions``, ``/self-check``.

``POST /submissions`` keeps the file (``api.spool``) and answers at once, 202; the
server's worker assesses it with the daily pipeline. The same bytes sent again answer
200 with the first submission. A body is a GIAMDINHHS XML document
(``application/xml`` or ``text/xml``) or a multipart form whose ``file`` field holds
one. A file the wrapper check refuses (not XML, not UTF-8, a DTD, truncated, another
root) is answered 422 and nothing is kept; a file of another facility 403.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from api.deps import Anyone, Clinic, ServerState, StateDep, not_found, visible
from api.errors import Problem
from api.worker import now
from claims.intake import (
    FileFailure,
    facilities_of,
    failure_receipt,
    scan_submission,
)
from claims.pipeline.selfcheck import check_files
from claims.store.runs import has_table, open_store, sql
from claims.store.settlements import HOLD_CODE, file_outcomes

router = APIRouter(tags=["clinic"])
XML_TYPES = ("application/xml", "text/xml")
_CHUNK = 1 << 20


async def receive_body(request: Request, target: Path) -> tuple[str, str]:
    """Write the request's XML to ``target``: its sha256 and the file name sent."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    digest = hashlib.sha256()
    if kind in XML_TYPES:
        with target.open("wb") as out:
            async for chunk in request.stream():
                digest.update(chunk)
                out.write(chunk)
        return digest.hexdigest(), "submission.xml"
    if kind == "multipart/form-data":
        async with request.form(max_files=1, max_fields=4) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise Problem(
                    "INVALID_REQUEST", "Biểu mẫu phải có trường 'file' chứa tệp XML."
                )
            with target.open("wb") as out:
                while chunk := await upload.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            name = Path(upload.filename or "").name or "submission.xml"
        return digest.hexdigest(), name
    raise Problem("UNSUPPORTED_MEDIA_TYPE")


def refuse_unreadable(state: ServerState, path: Path) -> str | None:
    """422 for a file whose wrapper cannot be read; else its sender (MACSKCB)."""
    scan = scan_submission(path, max_bytes=state.settings.api_max_upload_bytes)
    if scan.problem is not None:
        told = failure_receipt(
            FileFailure(scan.file_id, path.name, scan.size, *scan.problem), run_id=""
        )
        raise Problem(
            "FILE_REFUSED",
            f"Tệp không đọc được theo chuẩn QĐ 130/4750 ({told['code']}). "
            + told["huong_dan"],
            reason_code=told["code"],
            ma_ket_qua=told["ma_ket_qua"],
            message=told["thong_diep"],
        )
    senders = facilities_of(path, scan)
    return next(iter(senders)) if len(senders) == 1 else None


@router.post(
    "/submissions",
    status_code=202,
    responses={200: {"description": "the same bytes were received before"}},
)
async def submit(request: Request, state: StateDep, user: Clinic) -> JSONResponse:
    """Send a GIAMDINHHS file of the key's facility for assessment."""
    upload = state.spool.upload_path()
    try:
        sha256, filename = await receive_body(request, upload)
        sender = await run_in_threadpool(refuse_unreadable, state, upload)
        if sender is None:
            raise Problem(
                "FILE_REFUSED", "Tệp thiếu MACSKCB (mã cơ sở gửi) trong THONGTINDONVI."
            )
        if sender != user.facility:
            raise Problem("FACILITY_MISMATCH")
        entry, created = state.spool.receive(
            upload,
            sha256=sha256,
            facility=sender,
            user_id=user.user_id,
            filename=filename,
            at=now(),
        )
    finally:
        upload.unlink(missing_ok=True)
    if created:
        state.worker.kick()
    return JSONResponse(
        entry.public(),
        status_code=202 if created else 200,
        headers={"Location": f"/submissions/{entry.id}"},
    )


@router.get("/submissions")
def list_submissions(
    state: StateDep,
    user: Anyone,
    facility: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Submissions, newest first: a clinic's own; staff's of every facility or one."""
    if user.role == "clinic":
        facility = user.facility
    entries = state.spool.entries(facility=facility)
    return {"submissions": [e.public() for e in reversed(entries)][:limit]}


@router.get("/submissions/{sub_id}")
def get_submission(sub_id: str, state: StateDep, user: Anyone) -> dict[str, Any]:
    """A submission's status and, once assessed, its receipt."""
    entry = state.spool.get(sub_id)
    if entry is None or not visible(user, entry.facility):
        raise not_found()
    shown = entry.public()
    if entry.status in ("assessed", "failed"):
        receipt = stored_receipt(state, entry.sha256)
        if receipt is not None:
            shown["receipt"] = receipt
    return shown


def stored_receipt(state: ServerState, sha256: str) -> dict[str, Any] | None:
    """The receipt the run stored for a file, each claim with its ``status`` now: the
    outcome settlement reads (``pending_review`` for a claim held by its anomaly risk,
    ``held_for_review`` true; an assessor's decision once made, with its
    ``review_id``), ``rejected`` for a claim that was not received. ``outcome`` stays
    what the run decided."""
    with open_store(state.settings.store_path) as con:
        if not has_table(con, "submissions"):
            return None
        rows = sql(con, "SELECT receipt FROM submissions WHERE file_id = ?", [sha256])
        now = file_outcomes(con, sha256, state.settings.review_risk_threshold)
    if not rows:
        return None
    receipt: dict[str, Any] = json.loads(str(rows[0][0]))
    by_claim = {row["hoso_idx"]: row for row in now}
    receipt["claims"] = [
        _claim_now(claim, by_claim.get(claim["stt"] - 1))
        for claim in receipt.get("claims", [])
    ]
    return receipt


def _claim_now(claim: dict[str, Any], now: dict[str, Any] | None) -> dict[str, Any]:
    if claim.get("trang_thai") == "rejected" or now is None:
        return {**claim, "status": claim.get("trang_thai"), "held_for_review": False}
    codes = list(now["reason_codes"] or [])
    return {
        **claim,
        "status": now["outcome"],
        "held_for_review": HOLD_CODE in codes,
        "reason_codes_now": codes,
        "review_id": now.get("review_id"),
    }


@router.post("/self-check")
async def self_check(request: Request, state: StateDep, user: Anyone) -> dict[str, Any]:
    """Assess a file with the published packs without storing anything: the same
    JSON objects as ``giamdinh check --format jsonl`` (one per claim)."""
    folder = state.spool.upload_path()
    folder.mkdir()
    path = folder / "self-check.xml"
    try:
        _, filename = await receive_body(request, path)
        sender = await run_in_threadpool(refuse_unreadable, state, path)
        if user.role == "clinic" and sender != user.facility:
            raise Problem("FACILITY_MISMATCH")
        named = folder / filename
        path.rename(named)
        objects, readable = await run_in_threadpool(
            check_files, [named], state.reference, None, state.settings
        )
    finally:
        for leftover in folder.iterdir():
            leftover.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            folder.rmdir()
    return {"readable": readable, "claims": objects}
