"""Staff pages that only read: the audit trail (``claims.store.events``) and the
facility pictures of ``giamdinh anomalies report``.

The pictures are the files the report wrote under
``<data-dir>/reports/anomalies/<period>/<MA_CSKCB>/`` (``claims.pipeline.pictures``);
this page shows them (each picture's PNG, else its SVG) and serves the files, and says
which command draws them when a facility has none yet.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from api.deps import StateDep
from api.errors import Problem
from api.ui.render import STAFF, Viewer, need, page
from claims.anomalies.pictures import CAPTIONS
from claims.pipeline.pictures import report_folder
from claims.store.events import ACTIONS, read_events
from claims.store.runs import open_store

router = APIRouter(prefix="/ui", include_in_schema=False)
SHOWN = 300
"""Events shown on one page (the latest)."""
MONTH = re.compile(r"^\d{4}-\d{2}$")
FACILITY = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
PICTURE = re.compile(r"^[A-Za-z0-9_.-]{1,100}\.(png|svg)$")
MEDIA = {"png": "image/png", "svg": "image/svg+xml"}


@router.get("/events")
def events_page(
    request: Request,
    state: StateDep,
    who: Viewer,
    subject: str = "",
    action: str = "",
    actor: str = "",
) -> HTMLResponse:
    """The audit trail, newest first, filtered by subject, action and actor."""
    need(who, *STAFF)
    with open_store(state.settings.store_path) as con:
        events = read_events(
            con,
            subject=subject.strip() or None,
            action=action.strip() or None,
            actor=actor.strip() or None,
            limit=SHOWN,
        )
    return page(
        request,
        "events.html",
        who,
        events=list(reversed(events)),
        subject=subject,
        action=action,
        actor=actor,
        actions=ACTIONS,
        shown=SHOWN,
    )


@router.get("/pictures")
def pictures_index(request: Request, state: StateDep, who: Viewer) -> HTMLResponse:
    """The periods and facilities whose pictures were drawn."""
    need(who, *STAFF)
    root = state.settings.data_dir / "reports" / "anomalies"
    drawn: dict[str, list[str]] = {}
    if root.is_dir():
        for period in sorted(root.iterdir(), reverse=True):
            if MONTH.match(period.name) and period.is_dir():
                drawn[period.name] = sorted(
                    f.name for f in period.iterdir() if _pictures(f)
                )
    return page(request, "pictures.html", who, drawn=drawn, folder=None)


@router.get("/pictures/{period}/{facility}")
def pictures_page(
    request: Request, period: str, facility: str, state: StateDep, who: Viewer
) -> HTMLResponse:
    """One facility's pictures of one period, each with its caption."""
    need(who, *STAFF)
    folder = _folder(state, period, facility)
    names = _pictures(folder)
    shown: dict[str, str] = {}
    for name in names:
        stem = name.rsplit(".", 1)[0]
        if stem not in shown or name.endswith(".png"):
            shown[stem] = name
    return page(
        request,
        "pictures.html",
        who,
        drawn=None,
        folder=folder,
        period=period,
        facility=facility,
        shown=[(CAPTIONS.get(stem, stem), name) for stem, name in shown.items()],
        files=names,
    )


@router.get("/pictures/{period}/{facility}/{name}")
def picture_file(
    period: str, facility: str, name: str, state: StateDep, who: Viewer
) -> FileResponse:
    need(who, *STAFF)
    path = _folder(state, period, facility) / name
    kind = PICTURE.match(name)
    if kind is None or not path.is_file():
        raise Problem("NOT_FOUND", "Không có hình này.")
    return FileResponse(
        path,
        media_type=MEDIA[kind.group(1)],
        headers={
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"
        },
    )


def _folder(state: StateDep, period: str, facility: str) -> Path:
    if not (MONTH.match(period) and FACILITY.match(facility)):
        raise Problem("NOT_FOUND", "Không có hình của kỳ hoặc cơ sở này.")
    return report_folder(state.settings, period, facility)


def _pictures(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if PICTURE.match(p.name))
