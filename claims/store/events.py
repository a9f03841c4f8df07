"""The audit trail: one append-only row per state change, who did it, when, to what,
and the state before and after.

Table ``events`` (created by its first row): ``event_id`` (``content_id("event", …)``),
``seq`` (1, 2, … in the order rows were appended: the trail's order), ``at`` (ISO 8601
UTC text; the caller reads the clock), ``actor`` (a user id, or :data:`SYSTEM_ACTOR`),
``action`` (one of :data:`ACTIONS`), ``subject`` (what changed, ``kind:id``: see
:data:`SUBJECTS`), ``before`` and ``after`` (JSON text or null). Rows are never updated
or deleted.

:func:`append_event` opens no transaction: inside the caller's transaction the event
commits or rolls back with the change it records; outside one it commits alone. The
caller holds the writer lock (one writer per store), so ``seq`` = the largest one + 1 is
unique; a unique index on ``seq`` refuses a writer that bypassed the lock.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

from claims.ids import content_id
from claims.store.runs import has_table, sql

TABLE = "events"
SYSTEM_ACTOR = "system"
"""The actor of a change no user is named for (a function called without one)."""
ACTIONS = (
    "submission.received",
    "submission.assessed",
    "submission.failed",
    "review.taken",
    "review.released",
    "review.decided",
    "review.approved",
    "review.refused",
    "review.contested",
    "settlement.posted",
    "audit.posted",
    "advance.recorded",
    "advance.reversed",
    "user.created",
    "user.revoked",
)
"""Every action the trail records."""
SUBJECTS = {
    "submission": "submission:<submission id>",
    "review": "claim:<MA_CSKCB>/<MA_LK> (the review id is in ``after``)",
    "settlement": "settlement:<settlement id>",
    "audit": "audit:<audit id>",
    "advance": "advance:<advance id>",
    "user": "user:<user id>",
}
"""The subject of each action's family: a claim's whole review history is one subject."""
COLUMNS = ("event_id", "seq", "at", "actor", "action", "subject", "before", "after")
_CREATE = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    event_id TEXT NOT NULL, seq BIGINT NOT NULL, "at" TEXT NOT NULL,
    actor TEXT NOT NULL, action TEXT NOT NULL, subject TEXT NOT NULL,
    before TEXT, after TEXT)"""


def as_json(value: Any) -> str | None:
    """``value`` as the JSON text a ``before`` or ``after`` holds (None: null); amounts
    and dates as text, keys sorted."""
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def append_event(
    con: duckdb.DuckDBPyConnection,
    *,
    at: str,
    actor: str,
    action: str,
    subject: str,
    before: Any = None,
    after: Any = None,
) -> str:
    """Append one event (``before`` and ``after``: anything JSON can hold, None for
    null); returns its id.

    Raises:
        ValueError: ``action`` is not one of :data:`ACTIONS` (a programming error).
    """
    if action not in ACTIONS:
        msg = f"unknown event action {action!r}; the actions are {', '.join(ACTIONS)}"
        raise ValueError(msg)
    sql(con, _CREATE)
    sql(con, f"CREATE UNIQUE INDEX IF NOT EXISTS events_seq_unique ON {TABLE} (seq)")
    seq = int(str(sql(con, f"SELECT coalesce(max(seq), 0) + 1 FROM {TABLE}")[0][0]))
    event_id = content_id(
        "event", action=action, actor=actor, at=at, seq=seq, subject=subject
    )
    sql(
        con,
        f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [event_id, seq, at, actor, action, subject, as_json(before), as_json(after)],
    )
    return event_id


def read_events(
    con: duckdb.DuckDBPyConnection,
    *,
    subject: str | None = None,
    action: str | None = None,
    actor: str | None = None,
    since: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The events matching every filter given, in trail order (``seq``); ``before`` and
    ``after`` parsed from JSON. ``since``: events at or after this ISO time (compared as
    text, so ``2026-11-02`` means from that day on); ``limit``: the latest ``limit`` of
    them. A store without events gives none."""
    if not has_table(con, TABLE):
        return []
    conditions: list[str] = []
    params: list[object] = []
    for clause, value in (
        ("subject = ?", subject),
        ("action = ?", action),
        ("actor = ?", actor),
        ('"at" >= ?', since),
    ):
        if value is not None:
            conditions.append(clause)
            params.append(value)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    query = f"SELECT {', '.join(_quoted(c) for c in COLUMNS)} FROM {TABLE} {where}"
    if limit is not None:
        query = f"SELECT * FROM ({query} ORDER BY seq DESC LIMIT {int(limit)})"
    rows = sql(con, f"{query} ORDER BY seq", params)
    events = [dict(zip(COLUMNS, row, strict=True)) for row in rows]
    for event in events:
        for side in ("before", "after"):
            text = event[side]
            event[side] = None if text is None else json.loads(str(text))
    return events


def _quoted(column: str) -> str:
    return f'"{column}"'


__all__ = [
    "ACTIONS",
    "COLUMNS",
    "SUBJECTS",
    "SYSTEM_ACTOR",
    "append_event",
    "as_json",
    "read_events",
]
