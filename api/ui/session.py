"""Web UI sessions: log in once with an API key, then a cookie names the session.

A session is a random token (``secrets.token_urlsafe(32)``) kept in server memory with
its user id, its CSRF token and when it was last used; the browser holds only the
token, in an ``HttpOnly``, ``SameSite=Strict`` cookie (``Secure`` when the request
came over HTTPS: TLS is the reverse proxy's job, which passes ``X-Forwarded-Proto``).
A session unused for ``Settings.api_session_minutes`` is gone; "Đăng xuất" closes it at
once. The user is read again from the store on every request, so revoking a key
(``giamdinh users revoke``) ends its sessions too. A server restart ends every session.

Every form that changes something carries the session's CSRF token (a hidden field
``csrf``); a POST without the right one is refused with 403. The login form, before any
session, carries a token that must equal the one in its own short-lived cookie
(double submit).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request
from fastapi.responses import Response

from api.deps import ServerState, limit
from api.errors import Problem
from claims.store.runs import open_store
from claims.store.users import User, user_by_id

COOKIE = "gd_session"
LOGIN_COOKIE = "gd_login"
PATH = "/ui"


@dataclass
class Session:
    token: str
    user_id: str
    csrf: str
    last_seen: float = field(default_factory=time.monotonic)


class Sessions:
    """The open sessions of one server, in memory."""

    def __init__(
        self, idle_minutes: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.idle_seconds = idle_minutes * 60.0
        self.clock = clock
        self._open: dict[str, Session] = {}
        self._guard = threading.Lock()

    def open(self, user_id: str) -> Session:
        session = Session(
            token=secrets.token_urlsafe(32),
            user_id=user_id,
            csrf=secrets.token_urlsafe(32),
            last_seen=self.clock(),
        )
        with self._guard:
            self._forget_idle()
            self._open[session.token] = session
        return session

    def get(self, token: str | None) -> Session | None:
        """The live session of ``token`` (its idle time restarts); None when unknown
        or idle too long (it is then closed)."""
        if not token:
            return None
        now = self.clock()
        with self._guard:
            session = self._open.get(token)
            if session is None:
                return None
            if now - session.last_seen > self.idle_seconds:
                del self._open[token]
                return None
            session.last_seen = now
            return session

    def close(self, token: str | None) -> None:
        with self._guard:
            self._open.pop(token or "", None)

    def __len__(self) -> int:
        return len(self._open)

    def _forget_idle(self) -> None:
        now = self.clock()
        for token in [
            t for t, s in self._open.items() if now - s.last_seen > self.idle_seconds
        ]:
            del self._open[token]


class LoginNeeded(Exception):
    """No live session: the browser is sent to the login page."""

    def __init__(self, *, expired: bool) -> None:
        self.expired = expired
        super().__init__("login needed")


@dataclass(frozen=True)
class Visitor:
    """The user of a UI request and its session."""

    user: User
    session: Session


def sessions_of(request: Request) -> Sessions:
    found: Sessions = request.app.state.ui_sessions
    return found


def visitor(request: Request, state: ServerState) -> Visitor:
    """The logged-in user of ``request`` (``LoginNeeded`` otherwise); its request
    counts against the user's rate limit like an API request."""
    token = request.cookies.get(COOKIE)
    session = sessions_of(request).get(token)
    if session is None:
        raise LoginNeeded(expired=token is not None)
    with open_store(state.settings.store_path) as con:
        user = user_by_id(con, session.user_id)
    if user is None or not user.active:
        sessions_of(request).close(token)
        raise LoginNeeded(expired=True)
    limit(state, user)
    return Visitor(user, session)


def check_csrf(session: Session, sent: str | None) -> None:
    """403 unless ``sent`` is the session's CSRF token."""
    if not sent or not hmac.compare_digest(sent, session.csrf):
        raise Problem(
            "FORBIDDEN",
            "Biểu mẫu thiếu mã chống giả mạo (CSRF) hoặc mã đã cũ; tải lại trang "
            "rồi gửi lại.",
            status=403,
        )


def set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_cookie(response: Response, name: str) -> None:
    response.delete_cookie(name, path=PATH, httponly=True, samesite="strict")


__all__ = [
    "COOKIE",
    "LOGIN_COOKIE",
    "LoginNeeded",
    "Session",
    "Sessions",
    "Visitor",
    "check_csrf",
    "visitor",
]
