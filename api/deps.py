"""What routes depend on: the server's state, the caller (by API key) and its role.

A request carries ``Authorization: Bearer KEY``; the key is looked up hashed in the
store (``claims.pipeline.identity.authenticate``) on every request, so a revoked key
stops working at once. Each key has a request budget per minute (``RateLimiter``). A
clinic's key sees only its own facility: :func:`visible` is what every route asks
before it shows a facility's thing, and a thing of another facility is answered
exactly as one that does not exist (404).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from api.errors import Problem
from api.spool import Spool
from api.worker import Worker
from claims.config import Settings
from claims.pipeline.context import Reference
from claims.pipeline.identity import authenticate
from claims.store.runs import open_store
from claims.store.users import User

ROLES_ALL = ("clinic", "assessor", "finance", "admin")


class RateLimiter:
    """At most ``per_minute`` requests per key in any 60 seconds (sliding window)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: dict[str, deque[float]] = {}
        self._guard = threading.Lock()

    def wait_for(self, key: str, now: float | None = None) -> float:
        """0 when the request may go on (and is counted), else seconds to wait."""
        now = time.monotonic() if now is None else now
        with self._guard:
            seen = self._seen.setdefault(key, deque())
            while seen and seen[0] <= now - 60.0:
                seen.popleft()
            if len(seen) >= self.per_minute:
                return 60.0 - (now - seen[0])
            seen.append(now)
            return 0.0


@dataclass
class ServerState:
    settings: Settings
    reference: Reference
    worker: Worker
    spool: Spool
    limiter: RateLimiter


def server(request: Request) -> ServerState:
    state: ServerState = request.app.state.giamdinh
    return state


StateDep = Annotated[ServerState, Depends(server)]


def user_of_key(state: ServerState, key: str) -> User | None:
    with open_store(state.settings.store_path) as con:
        return authenticate(con, key)


def current_user(
    state: StateDep, authorization: Annotated[str | None, Header()] = None
) -> User:
    """The caller of a request, by its bearer key (401 without a valid one)."""
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Problem("UNAUTHENTICATED", headers={"WWW-Authenticate": "Bearer"})
    user = user_of_key(state, key.strip())
    if user is None:
        raise Problem("UNAUTHENTICATED", headers={"WWW-Authenticate": "Bearer"})
    limit(state, user)
    return user


def limit(state: ServerState, user: User) -> None:
    """429 when ``user`` used up its requests of the last minute."""
    wait = state.limiter.wait_for(user.user_id)
    if wait > 0:
        seconds = max(1, int(wait + 0.999))
        raise Problem(
            "RATE_LIMITED", headers={"Retry-After": str(seconds)}, retry_after=seconds
        )


UserDep = Annotated[User, Depends(current_user)]


def role(*roles: str) -> Callable[[User], User]:
    """A dependency: the caller, who must have one of ``roles`` (403 otherwise)."""

    def check(user: UserDep) -> User:
        if user.role not in roles:
            raise Problem("FORBIDDEN")
        return user

    return check


Clinic = Annotated[User, Depends(role("clinic"))]
Assessor = Annotated[User, Depends(role("assessor", "admin"))]
Finance = Annotated[User, Depends(role("finance", "admin"))]
Staff = Annotated[User, Depends(role("assessor", "finance", "admin"))]
Anyone = UserDep


def visible(user: User, facility: str | None) -> bool:
    """Whether ``user`` may see a thing of ``facility``: a clinic only its own."""
    return user.role != "clinic" or (facility is not None and facility == user.facility)


def not_found() -> Problem:
    return Problem("NOT_FOUND")
