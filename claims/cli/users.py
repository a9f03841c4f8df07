"""``giamdinh users add|list|revoke`` (who may call the API, with which role) and
``giamdinh events`` (the audit trail: every state change, who, when, before and after;
not ``giamdinh audit``, the post-audit).

The user acting (``--as USER`` or ``GIAMDINH_USER``, default the operating system's
user name) is recorded in the trail. Writers wait for the store's writer lock like every
writer (a running ``giamdinh serve`` included). ``users add`` on a data folder without a
store creates it: the first admin is added before the first run.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import orjson
import polars as pl
import typer

from claims.cli.common import (
    DataDir,
    Wait,
    err,
    fail,
    notice,
    out,
    settings_for,
    waiting,
    writing,
)
from claims.cli.listing import Format, FormatOption, emit
from claims.config import Settings
from claims.errors import ClaimsError

if TYPE_CHECKING:
    import duckdb

    from claims.store.users import User

app = typer.Typer(
    help="API users: add one (its key is shown once), list them, revoke one.",
    no_args_is_help=True,
)
Actor = Annotated[
    str | None,
    typer.Option(
        "--as",
        envvar="GIAMDINH_USER",
        help="Who does it, for the audit trail (or GIAMDINH_USER; default: your "
        "login name).",
    ),
]
USER_COLUMNS = ("user_id", "name", "role", "facility", "status", "created_at",
                "revoked_at")  # fmt: skip
EVENT_COLUMNS = ("seq", "at", "actor", "action", "subject", "before", "after",
                 "event_id")  # fmt: skip


def actor_of(given: str | None) -> str:
    """The acting user: ``given`` (``--as``/``GIAMDINH_USER``), else the login name."""
    if given is not None and given.strip():
        return given.strip()
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without passwd entry)
        from claims.store.events import SYSTEM_ACTOR

        return SYSTEM_ACTOR


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@contextmanager
def _store(
    settings: Settings, command: str, *, write: bool, create: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The store (under the writer lock when ``write``; created when ``create`` and
    missing); an engine error inside is told as the command's error."""
    from claims.store.lock import writer_lock
    from claims.store.runs import open_store

    try:
        if create and not settings.store_path.is_file():
            notice(f"no store at {settings.store_path} yet: creating it")
            lock: AbstractContextManager[object] = writer_lock(
                settings.data_dir, command, wait=settings.lock_wait,
                on_wait=waiting(settings),
            )  # fmt: skip
        else:
            lock = writing(settings, command) if write else _nothing()
        with lock, open_store(settings.store_path, read_only=not write) as con:
            yield con
    except ClaimsError as exc:
        raise fail(exc) from exc


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def users_frame(users: list[User]) -> pl.DataFrame:
    """Users as a listing (never a key or its hash: the store has no key)."""
    rows = [
        (u.user_id, u.name, u.role, u.facility, "active" if u.active else "revoked",
         u.created_at, u.revoked_at)
        for u in users
    ]  # fmt: skip
    return pl.DataFrame(
        rows, schema=dict.fromkeys(USER_COLUMNS, pl.String), orient="row"
    )


@app.command("add")
def add_cmd(
    role: Annotated[
        str, typer.Option("--role", help="clinic, assessor, finance or admin.")
    ],
    facility: Annotated[
        str | None,
        typer.Option("--facility", help="A clinic's MA_CSKCB (clinic users only)."),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="A name; the user id is its slug (default: clinic-MA_CSKCB, or the "
            "role).",
        ),
    ] = None,
    user: Actor = None,
    data_dir: DataDir = None,
    wait: Wait = None,
) -> None:
    """Add an API user and print its key ONCE, as the last word of the last line: the
    store keeps only its hash, so it cannot be shown again."""
    from claims.pipeline.identity import add_user, check_role

    settings = settings_for(data_dir, None, wait=wait)
    actor = actor_of(user)
    try:  # before a store is created for a user that cannot be added
        check_role(role, facility)
    except ClaimsError as exc:
        raise fail(exc) from exc
    with _store(settings, f"users add --role {role}", write=True, create=True) as con:
        added, key = add_user(
            con, role=role, facility=facility, name=name, actor=actor, at=_now()
        )
    where = f" of facility {added.facility}" if added.facility else ""
    out.print(
        f"user {added.user_id} ({added.role}{where}) added by {actor}", soft_wrap=True
    )
    out.print(
        "its API key, shown only this once and not stored (không hiển thị lại; keep it "
        "now, a lost key is revoked and replaced):",
        soft_wrap=True,
    )
    out.print(key, soft_wrap=True, highlight=False, markup=False)


@app.command("list")
def list_cmd(data_dir: DataDir = None, fmt: FormatOption = Format.table) -> None:
    """Every API user, revoked ones included (no key: the store holds none)."""
    from claims.pipeline.identity import list_users

    settings = settings_for(data_dir, None)
    with _store(settings, "users list", write=False) as con:
        users = list_users(con)
    if not users and fmt is Format.table:
        err.print("no API user yet: `giamdinh users add --role admin` adds the first")
        return
    frame = users_frame(users)
    emit(
        out,
        [(f"users: {frame.height}" if fmt is Format.table else "users", frame)],
        fmt,
    )


@app.command("revoke")
def revoke_cmd(
    user_id: Annotated[
        str, typer.Argument(help="The user id (`giamdinh users list`).")
    ],
    user: Actor = None,
    data_dir: DataDir = None,
    wait: Wait = None,
) -> None:
    """Revoke a user's API key: it stops working at once (the user stays listed)."""
    from claims.pipeline.identity import revoke_user

    settings = settings_for(data_dir, None, wait=wait)
    actor = actor_of(user)
    with _store(settings, f"users revoke {user_id}", write=True) as con:
        revoked = revoke_user(con, user_id, actor=actor, at=_now())
    out.print(f"user {revoked.user_id} revoked by {actor} at {revoked.revoked_at}: its "
              "key no longer works")  # fmt: skip


def events_frame(events: list[dict[str, object]]) -> pl.DataFrame:
    """Events as a listing, ``before`` and ``after`` as compact JSON text."""
    rows = [
        tuple(
            None if e[c] is None
            else orjson.dumps(e[c], option=orjson.OPT_SORT_KEYS).decode()
            if c in ("before", "after") else e[c]
            for c in EVENT_COLUMNS
        )
        for e in events
    ]  # fmt: skip
    schema = {c: pl.Int64 if c == "seq" else pl.String for c in EVENT_COLUMNS}
    return pl.DataFrame(rows, schema=schema, orient="row")


def events(
    subject: Annotated[
        str | None,
        typer.Option("--subject", help="e.g. claim:01002/LK1, user:ID, settlement:ID."),
    ] = None,
    action: Annotated[
        str | None,
        typer.Option("--action", help="e.g. review.decided, user.created."),
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="A user id.")] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="ISO time or day (UTC): events at or after it."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", help="The latest N events only.", min=1)
    ] = None,
    data_dir: DataDir = None,
    fmt: FormatOption = Format.table,
) -> None:
    """The audit trail, oldest first: every state change (submissions, reviews,
    settlements, post-audit postings, users) with who, when, before and after."""
    from claims.store.events import ACTIONS, read_events

    if action is not None and action not in ACTIONS:
        msg = f"unknown action {action!r}: the actions are {', '.join(ACTIONS)}"
        raise fail(ClaimsError(msg))
    settings = settings_for(data_dir, None)
    with _store(settings, "events", write=False) as con:
        found = read_events(con, subject=subject, action=action, actor=actor,
                            since=since, limit=limit)  # fmt: skip
    if not found and fmt is Format.table:
        err.print("no event matches")
        return
    frame = events_frame(found)
    title = f"events: {frame.height:,}" if fmt is Format.table else "events"
    emit(out, [(title, frame)], fmt)
