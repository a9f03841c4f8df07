"""API users in the store: who may call the API, with which role, for which facility.

Table ``users`` (created by the first user): ``user_id`` (unique), ``name``, ``role``,
``facility`` (a clinic's MA_CSKCB, else null), ``key_hash`` (unique: the sha256 of the
user's API key; the key itself is never stored), ``created_at``, ``created_by``,
``revoked_at`` (null while the key works). A user is never deleted: revoking sets
``revoked_at`` once, and the user's id stays taken (the audit trail names it). The
rules (roles, facilities, ids) are ``claims.pipeline.identity``'s; this module reads and
writes, in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from claims.store.runs import has_table, sql

TABLE = "users"
_CREATE = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    user_id TEXT NOT NULL PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,
    facility TEXT, key_hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL,
    created_by TEXT NOT NULL, revoked_at TEXT)"""
_FIELDS = "user_id, name, role, facility, created_at, revoked_at"


@dataclass(frozen=True)
class User:
    """A user as the API and the CLI see it (never its key or the key's hash)."""

    user_id: str
    name: str
    role: str
    facility: str | None
    created_at: str
    revoked_at: str | None

    @property
    def active(self) -> bool:
        """Whether the user's key still works (not revoked)."""
        return self.revoked_at is None


def _user(row: tuple[object, ...]) -> User:
    user_id, name, role, facility, created_at, revoked_at = row
    return User(
        str(user_id),
        str(name),
        str(role),
        None if facility is None else str(facility),
        str(created_at),
        None if revoked_at is None else str(revoked_at),
    )


def insert_user(
    con: duckdb.DuckDBPyConnection, user: User, *, key_hash: str, created_by: str
) -> None:
    """Append ``user`` with the hash of its key (the table is created if needed)."""
    sql(con, _CREATE)
    sql(
        con,
        f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [user.user_id, user.name, user.role, user.facility, key_hash,
         user.created_at, created_by, user.revoked_at],
    )  # fmt: skip


def set_revoked(con: duckdb.DuckDBPyConnection, user_id: str, at: str) -> None:
    """Mark ``user_id`` revoked at ``at`` (a user already revoked keeps its time)."""
    sql(
        con,
        f"UPDATE {TABLE} SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
        [at, user_id],
    )


def user_by_id(con: duckdb.DuckDBPyConnection, user_id: str) -> User | None:
    """The user ``user_id`` (revoked or not); None when unknown."""
    if not has_table(con, TABLE):
        return None
    rows = sql(con, f"SELECT {_FIELDS} FROM {TABLE} WHERE user_id = ?", [user_id])
    return _user(rows[0]) if rows else None


def user_by_key_hash(con: duckdb.DuckDBPyConnection, key_hash: str) -> User | None:
    """The user whose key hashes to ``key_hash`` (revoked or not); None when none."""
    if not has_table(con, TABLE):
        return None
    rows = sql(con, f"SELECT {_FIELDS} FROM {TABLE} WHERE key_hash = ?", [key_hash])
    return _user(rows[0]) if rows else None


def all_users(con: duckdb.DuckDBPyConnection) -> list[User]:
    """Every user, in creation order (then id); empty when there is none."""
    if not has_table(con, TABLE):
        return []
    rows = sql(con, f"SELECT {_FIELDS} FROM {TABLE} ORDER BY created_at, user_id")
    return [_user(row) for row in rows]


def user_ids(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Every user id taken (revoked users included)."""
    if not has_table(con, TABLE):
        return set()
    return {str(row[0]) for row in sql(con, f"SELECT user_id FROM {TABLE}")}


__all__ = [
    "User",
    "all_users",
    "insert_user",
    "set_revoked",
    "user_by_id",
    "user_by_key_hash",
    "user_ids",
]
