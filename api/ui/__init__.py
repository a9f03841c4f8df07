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

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.errors import Problem, problem_response
from api.ui import assessor, auth, clinic, finance, trail
from api.ui.render import page
from api.ui.session import LoginNeeded, Sessions
from claims.config import Settings

STATIC = Path(__file__).parent.parent / "static"
SWAGGER = "/static/swagger-ui"


def install(app: FastAPI, settings: Settings) -> None:
    """Add the UI, ``/static`` and ``/docs`` to ``app`` (built with ``docs_url=None``)."""
    app.state.ui_sessions = Sessions(settings.api_session_minutes)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (auth, clinic, assessor, finance, trail):
        app.include_router(module.router)
    app.add_exception_handler(LoginNeeded, _login_needed)
    app.add_exception_handler(Problem, _problem)

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


def _problem(request: Request, exc: Exception) -> Response:
    """A problem on a UI page is an HTML page saying it; elsewhere problem+json."""
    assert isinstance(exc, Problem)
    if not request.url.path.startswith("/ui"):
        return problem_response(exc)
    shown: Response = page(
        request,
        "error.html",
        None,
        status_code=exc.status,
        problem=exc,
    )
    shown.headers.update(exc.headers)
    return shown


__all__ = ["install"]
