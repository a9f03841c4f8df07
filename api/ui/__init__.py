"""The web UI for clinics, assessors and finance, server-rendered under ``/ui``.

Pages are Jinja2 templates (``api/ui/templates``, Vietnamese labels) with a little
htmx; every asset (htmx, Swagger UI) is served from the package under ``/static`` (no
CDN: deployments may be offline). :func:`install` adds the UI, the static files and
Swagger UI at ``/docs`` to the app. Sessions and CSRF: ``api.ui.session``; who sees
what: ``api.ui.render``. The pages call the same functions as the JSON routes (the
upload is ``api.routes.submissions.submit`` itself) and write only through the
server's one writer (``state.worker.call``).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.errors import Problem
from api.ui import assessor, auth, clinic, finance, trail
from api.ui.render import page
from api.ui.session import LoginNeeded, Sessions
from claims.config import Settings
from claims.errors import ClaimsError

STATIC = Path(__file__).parent.parent / "static"
SWAGGER = "/static/swagger-ui"
Handler = Callable[[Request, Exception], Response | Awaitable[Response]]


def install(app: FastAPI, settings: Settings) -> None:
    """Add the UI, ``/static`` and ``/docs`` to ``app`` (built with ``docs_url=None``)."""
    app.state.ui_sessions = Sessions(settings.api_session_minutes)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (auth, clinic, assessor, finance, trail):
        app.include_router(module.router)
    app.add_exception_handler(LoginNeeded, _login_needed)
    kinds = (Problem, StarletteHTTPException, RequestValidationError, ClaimsError)
    for kind in (*kinds, Exception):  # Exception: an unexpected error, 500
        previous = app.exception_handlers.get(kind)
        if previous is not None:
            app.add_exception_handler(kind, _as_html(previous))

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
        )


def _login_needed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginNeeded)
    target = "/ui/login?het_han=1" if exc.expired else "/ui/login"
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _as_html(previous: Handler) -> Handler:
    """``previous`` (a problem+json handler of ``api.errors``) for the API, and the
    same problem as an HTML page on a UI page."""

    async def handle(request: Request, exc: Exception) -> Response:
        answer = previous(request, exc)
        if inspect.isawaitable(answer):
            answer = await answer
        if not request.url.path.startswith("/ui") or not isinstance(
            answer, JSONResponse
        ):
            return answer
        problem = json.loads(bytes(answer.body))
        shown = page(
            request, "error.html", None, status_code=answer.status_code, problem=problem
        )
        for name in ("retry-after", "www-authenticate"):
            if name in answer.headers:
                shown.headers[name] = answer.headers[name]
        return shown

    return handle


__all__ = ["install"]
