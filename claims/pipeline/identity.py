"""Users of the API, their roles and keys: who may do what (issue 16 item 2).

Roles (:data:`ROLES`): ``clinic`` (one facility's submissions, claims and receipts: its
MA_CSKCB is the user's ``facility``, required), ``assessor`` (the review queue and
decisions), ``finance`` (settlements, post-audits, advances), ``admin`` (users and
everything else). Only a clinic user has a facility. What each role may call is the
API's guards (``api/deps.py``); this module keeps the users.

A key is ``gd_`` + 32 random bytes (:func:`new_key`, 256 bits from ``secrets``). The
store keeps only its sha256 (:func:`key_hash`): a key is random and that long, so no
dictionary or brute force reaches it and a fast hash is enough (a slow password hash
such as scrypt protects guessable secrets; it would only cost every request time).
The key is returned once by :func:`add_user` and never again.

A user's id is its name as a slug (:func:`slug`: lower case, Vietnamese letters without
their marks, ``đ`` as ``d``, every run of other characters one ``-``, at most 40
characters): ``--name "Giám định viên 1"`` is ``giam-dinh-vien-1``. Without a name a
clinic user is ``clinic-<MA_CSKCB>`` and another ``<role>``, with ``-2``, ``-3``… when
taken; a name given whose id is taken is refused. Ids are never reused (a revoked user
keeps its id: the audit trail names it) and are what ``giamdinh review … --as USER``
records.

Adding and revoking a user each write the change and its event (``user.created``,
``user.revoked``, subject ``user:<user_id>``) in one transaction; the caller holds the
writer lock, reads the clock and names the actor.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from claims.errors import ConfigError
from claims.store.events import append_event
from claims.store.runs import sql
from claims.store.users import (
    User,
    all_users,
    insert_user,
    set_revoked,
    user_by_id,
    user_by_key_hash,
    user_ids,
)

ROLES = ("clinic", "assessor", "finance", "admin")
KEY_PREFIX = "gd_"
KEY_BYTES = 32
SLUG_LENGTH = 40
_FACILITY = re.compile(r"[0-9A-Za-z]{1,20}")


class IdentityError(ConfigError):
    """A user cannot be added or revoked as asked (the message says why and the fix)."""


def new_key() -> str:
    """A new API key: ``gd_`` and 32 random bytes, URL-safe base64 (43 characters)."""
    return KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)


def key_hash(key: str) -> str:
    """The sha256 (hex) the store keeps of ``key`` (see the module docstring)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def slug(name: str) -> str:
    """``name`` as a user id (the module docstring's rule); empty when nothing is left."""
    text = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    bare = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", "-", bare).strip("-")[:SLUG_LENGTH].strip("-")


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    sql(con, "BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        sql(con, "ROLLBACK")
        raise
    sql(con, "COMMIT")


def check_role(role: str, facility: str | None) -> str | None:
    """The facility a user of ``role`` has (None for every role but clinic).

    Raises:
        IdentityError: an unknown role, a clinic without a facility (or with one that
            is not a code), a facility for another role.
    """
    if role not in ROLES:
        msg = f"unknown role {role!r}: choose one of {', '.join(ROLES)} (--role)"
        raise IdentityError(msg)
    given = facility.strip() if facility is not None else None
    if role != "clinic":
        if given:
            msg = (
                f"a {role} user has no facility (--facility {given}): only a clinic "
                "user belongs to one; drop --facility, or use --role clinic"
            )
            raise IdentityError(msg)
        return None
    if not given:
        msg = (
            "a clinic user needs its facility: --facility MA_CSKCB (the code its "
            "files carry in MACSKCB)"
        )
        raise IdentityError(msg)
    if not _FACILITY.fullmatch(given):
        msg = (
            f"facility {given!r} is not a MA_CSKCB (letters and digits, e.g. 01002): "
            "check --facility"
        )
        raise IdentityError(msg)
    return given


def _new_id(taken: set[str], role: str, facility: str | None, name: str | None) -> str:
    if name is not None:
        user_id = slug(name)
        if not user_id:
            msg = (
                f"name {name!r} has no letter or digit to make a user id of: "
                "choose another --name"
            )
            raise IdentityError(msg)
        if user_id in taken:
            msg = (
                f"user id {user_id!r} (from --name {name!r}) is taken: choose another "
                "--name (`giamdinh users list` shows the users, revoked ones too)"
            )
            raise IdentityError(msg)
        return user_id
    base = f"clinic-{slug(facility or '')}" if role == "clinic" else role
    user_id, n = base, 1
    while user_id in taken:
        n += 1
        user_id = f"{base}-{n}"
    return user_id


def add_user(
    con: duckdb.DuckDBPyConnection,
    *,
    role: str,
    facility: str | None,
    name: str | None,
    actor: str,
    at: str,
) -> tuple[User, str]:
    """Add a user and its ``user.created`` event in one transaction; returns the user
    and its key (the only time the key is given: the store keeps its hash).

    Raises:
        IdentityError: an unknown role, a clinic without a facility, a facility for
            another role, or a name whose id is taken or empty.
    """
    kept = check_role(role, facility)
    user_id = _new_id(user_ids(con), role, kept, name)
    user = User(user_id, (name or user_id).strip(), role, kept, at, None)
    key = new_key()
    with _transaction(con):
        insert_user(con, user, key_hash=key_hash(key), created_by=actor)
        append_event(
            con, at=at, actor=actor, action="user.created", subject=f"user:{user_id}",
            after={"name": user.name, "role": role, "facility": kept},
        )  # fmt: skip
    return user, key


def authenticate(con: duckdb.DuckDBPyConnection, key: str) -> User | None:
    """The user whose key ``key`` is; None for an unknown key or a revoked user."""
    if not key.startswith(KEY_PREFIX):
        return None
    user = user_by_key_hash(con, key_hash(key))
    return user if user is not None and user.active else None


def revoke_user(
    con: duckdb.DuckDBPyConnection, user_id: str, *, actor: str, at: str
) -> User:
    """Revoke a user's key (it authenticates no more) with its ``user.revoked`` event,
    in one transaction; returns the revoked user.

    Raises:
        IdentityError: no such user, or it is revoked already.
    """
    user = user_by_id(con, user_id)
    if user is None:
        msg = f"no user {user_id!r}: `giamdinh users list` shows the user ids"
        raise IdentityError(msg)
    if not user.active:
        msg = f"user {user_id} was revoked already, at {user.revoked_at}"
        raise IdentityError(msg)
    with _transaction(con):
        set_revoked(con, user_id, at)
        append_event(
            con, at=at, actor=actor, action="user.revoked", subject=f"user:{user_id}",
            before={"revoked_at": None}, after={"revoked_at": at},
        )  # fmt: skip
    return User(user.user_id, user.name, user.role, user.facility, user.created_at, at)


def list_users(con: duckdb.DuckDBPyConnection) -> list[User]:
    """Every user, revoked ones included, in creation order."""
    return all_users(con)


__all__ = [
    "KEY_PREFIX",
    "ROLES",
    "IdentityError",
    "User",
    "add_user",
    "authenticate",
    "check_role",
    "key_hash",
    "list_users",
    "new_key",
    "revoke_user",
    "slug",
]
