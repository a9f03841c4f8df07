"""Logging in with an API key, logging out, and each role's first page."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import StateDep, user_of_key
from api.ui.render import Viewer, page
from api.ui.session import (
    COOKIE,
    LOGIN_COOKIE,
    check_csrf,
    clear_cookie,
    sessions_of,
    set_cookie,
)

router = APIRouter(prefix="/ui", include_in_schema=False)
HOME = {
    "clinic": "/ui/clinic",
    "assessor": "/ui/queue",
    "finance": "/ui/settlements",
    "admin": "/ui/queue",
}


@router.get("")
@router.get("/")
def home(who: Viewer) -> RedirectResponse:
    return RedirectResponse(HOME.get(who.user.role, "/ui/login"), status_code=303)


@router.get("/login")
def login_form(request: Request, het_han: int = 0, thoat: int = 0) -> Response:
    token = secrets.token_urlsafe(32)
    note = (
        "Phiên làm việc đã hết hạn hoặc đã đóng; đăng nhập lại."
        if het_han
        else "Bạn đã đăng xuất."
        if thoat
        else None
    )
    response = page(request, "login.html", None, login_csrf=token, note=note)
    set_cookie(request, response, LOGIN_COOKIE, token)
    return response


@router.post("/login")
def login(
    request: Request,
    state: StateDep,
    key: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Open a session for the user of ``key``; the form's token must be the one of
    its own cookie (a page of another site cannot log a browser in)."""
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not csrf or not expected or not hmac.compare_digest(csrf, expected):
        return _again(request, "Biểu mẫu đăng nhập đã cũ; tải lại trang.", 403)
    user = user_of_key(state, key.strip()) if key.strip() else None
    if user is None:
        return _again(
            request, "Khóa API không đúng hoặc đã bị thu hồi; kiểm tra lại khóa.", 401
        )
    session = sessions_of(request).open(user.user_id)
    response = RedirectResponse(HOME.get(user.role, "/ui/login"), status_code=303)
    set_cookie(request, response, COOKIE, session.token)
    clear_cookie(response, LOGIN_COOKIE)
    return response


def _again(request: Request, error: str, status_code: int) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = page(
        request,
        "login.html",
        None,
        status_code=status_code,
        login_csrf=token,
        error=error,
    )
    set_cookie(request, response, LOGIN_COOKIE, token)
    return response


@router.post("/logout")
def logout(
    request: Request, who: Viewer, csrf: Annotated[str, Form(max_length=200)] = ""
) -> RedirectResponse:
    check_csrf(who.session, csrf)
    sessions_of(request).close(who.session.token)
    response = RedirectResponse("/ui/login?thoat=1", status_code=303)
    clear_cookie(response, COOKIE)
    return response
