"""API users and the audit trail on a real DuckDB store: keys are kept hashed, revoked
keys stop working, clinic users have exactly one facility, events are appended in order
and never changed."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import duckdb
import pytest

from claims.errors import ConfigError
from claims.pipeline import identity
from claims.store.events import append_event, read_events
from claims.store.runs import open_store

T0 = "2026-11-02T08:00:00.000000+00:00"
T1 = "2026-11-02T09:00:00.000000+00:00"
T2 = "2026-11-03T10:00:00.000000+00:00"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "giamdinh.duckdb"


def _dump(path: Path) -> str:
    """Every value of every table of the store, as one text."""
    with open_store(path) as con:
        tables = [r[0] for r in con.sql("SHOW TABLES").fetchall()]
        return "\n".join(
            str(con.sql(f'SELECT * FROM "{t}"').fetchall()) for t in tables
        )


def test_a_key_is_stored_only_as_its_hash_and_authenticates_its_user(
    store: Path,
) -> None:
    with open_store(store) as con:
        user, key = identity.add_user(
            con, role="clinic", facility="01002", name=None, actor="admin1", at=T0
        )
        assert identity.authenticate(con, key) == user
        assert identity.authenticate(con, key + "x") is None
        assert identity.authenticate(con, "not-a-key") is None
    assert key.startswith("gd_")
    assert len(key) >= 40
    assert user.user_id == "clinic-01002"
    assert user.facility == "01002"
    text = _dump(store)
    assert key not in text
    assert key[3:] not in text
    assert hashlib.sha256(key.encode()).hexdigest() in text
    assert identity.key_hash(key) == hashlib.sha256(key.encode()).hexdigest()


def test_keys_differ_and_a_revoked_user_no_longer_authenticates(store: Path) -> None:
    with open_store(store) as con:
        first, key1 = identity.add_user(
            con, role="assessor", facility=None, name="Giám định viên Đỗ 1",
            actor="admin1", at=T0,
        )  # fmt: skip
        second, key2 = identity.add_user(
            con, role="assessor", facility=None, name=None, actor="admin1", at=T1
        )
        assert key1 != key2
        assert first.user_id == "giam-dinh-vien-do-1"
        assert first.name == "Giám định viên Đỗ 1"
        assert second.user_id == "assessor"
        revoked = identity.revoke_user(con, first.user_id, actor="admin1", at=T2)
        assert revoked.revoked_at == T2
        assert not revoked.active
        assert identity.authenticate(con, key1) is None
        assert identity.authenticate(con, key2) == second
        listed = identity.list_users(con)
    assert [u.user_id for u in listed] == [first.user_id, second.user_id]
    assert [u.revoked_at for u in listed] == [T2, None]


@pytest.mark.parametrize(
    ("role", "facility", "name", "said"),
    [
        ("clinic", None, None, "--facility MA_CSKCB"),
        ("clinic", "  ", None, "--facility MA_CSKCB"),
        ("clinic", "01 002", None, "'01 002' is not a MA_CSKCB"),
        ("assessor", "01002", None, "drop --facility"),
        ("finance", "01002", None, "a finance user has no facility"),
        ("doctor", None, None, "unknown role 'doctor'"),
        ("admin", None, "!!!", "choose another --name"),
    ],
)
def test_bad_users_are_refused_naming_the_value_and_the_fix(
    store: Path, role: str, facility: str | None, name: str | None, said: str
) -> None:
    with open_store(store) as con:
        with pytest.raises(ConfigError, match=said):
            identity.add_user(
                con, role=role, facility=facility, name=name, actor="a", at=T0
            )
        assert identity.list_users(con) == []
        assert read_events(con) == []


def test_ids_are_unique_a_name_taken_is_refused_a_default_gets_a_suffix(
    store: Path,
) -> None:
    with open_store(store) as con:
        one, _ = identity.add_user(
            con, role="clinic", facility="01002", name=None, actor="a", at=T0
        )
        two, _ = identity.add_user(
            con, role="clinic", facility="01002", name=None, actor="a", at=T1
        )
        assert (one.user_id, two.user_id) == ("clinic-01002", "clinic-01002-2")
        identity.revoke_user(con, one.user_id, actor="a", at=T2)
        with pytest.raises(ConfigError, match=r"'clinic-01002' .* is taken"):
            identity.add_user(
                con, role="clinic", facility="01003", name="Clinic 01002",
                actor="a", at=T2,
            )  # fmt: skip
        with pytest.raises(ConfigError, match="no user 'nobody'"):
            identity.revoke_user(con, "nobody", actor="a", at=T2)
        with pytest.raises(ConfigError, match=re.escape("revoked already, at " + T2)):
            identity.revoke_user(con, one.user_id, actor="a", at=T2)
        assert len(identity.list_users(con)) == 2


def test_user_events_record_who_when_and_the_change_never_the_key(
    store: Path,
) -> None:
    with open_store(store) as con:
        user, key = identity.add_user(
            con, role="finance", facility=None, name="Kế toán", actor="admin1", at=T0
        )
        identity.revoke_user(con, user.user_id, actor="admin2", at=T1)
        events = read_events(con, subject=f"user:{user.user_id}")
    assert [(e["seq"], e["action"], e["actor"], e["at"]) for e in events] == [
        (1, "user.created", "admin1", T0),
        (2, "user.revoked", "admin2", T1),
    ]
    assert events[0]["before"] is None
    assert events[0]["after"] == {
        "name": "Kế toán",
        "role": "finance",
        "facility": None,
    }
    assert events[1]["before"] == {"revoked_at": None}
    assert events[1]["after"] == {"revoked_at": T1}
    assert key not in _dump(store)


def test_a_failed_write_leaves_neither_the_user_nor_its_event(store: Path) -> None:
    with open_store(store) as con:
        con.execute("CREATE VIEW events AS SELECT 1::BIGINT AS seq")
        # the event cannot be appended (a view): the user's row must roll back too
        with pytest.raises(duckdb.Error):
            identity.add_user(
                con, role="admin", facility=None, name="a", actor="x", at=T0
            )
        assert identity.list_users(con) == []
        con.execute("DROP VIEW events")
        user, _key = identity.add_user(
            con, role="admin", facility=None, name="a", actor="x", at=T1
        )
        assert identity.list_users(con) == [user]
        assert [e["seq"] for e in read_events(con)] == [1]


def test_events_are_appended_in_order_filtered_and_never_updated(store: Path) -> None:
    with open_store(store) as con:
        assert read_events(con, subject="claim:01002/X") == []
        ids = [
            append_event(
                con, at=f"2026-11-0{n}T08:00:00", actor=f"u{n % 2}",
                action="review.decided" if n % 2 else "review.taken",
                subject=f"claim:01002/LK{n % 3}", before={"n": n - 1},
                after={"n": n, "amount": "12.50"},
            )
            for n in range(1, 8)
        ]  # fmt: skip
        first = read_events(con)
        assert [e["event_id"] for e in first] == ids
        assert [e["seq"] for e in first] == list(range(1, 8))
        assert len(set(ids)) == 7
        assert [e["seq"] for e in read_events(con, actor="u1")] == [1, 3, 5, 7]
        assert [e["seq"] for e in read_events(con, action="review.taken")] == [2, 4, 6]
        assert [e["seq"] for e in read_events(con, subject="claim:01002/LK1")] == [
            1,
            4,
            7,
        ]
        assert [e["seq"] for e in read_events(con, since="2026-11-05")] == [5, 6, 7]
        assert [e["seq"] for e in read_events(con, limit=2)] == [6, 7]
        assert read_events(con, subject="claim:01002/LK2", actor="u0") == [
            e for e in first if e["seq"] == 2
        ]
        later = append_event(
            con, at="2026-11-01T00:00:00", actor="u9", action="user.created",
            subject="user:u9",
        )  # fmt: skip
        again = read_events(con)
        assert again[:7] == first  # nothing written before changed
        assert again[7]["event_id"] == later
        assert again[7]["seq"] == 8
        with pytest.raises(ValueError, match=r"unknown event action 'review\.deleted'"):
            append_event(con, at=T0, actor="u", action="review.deleted", subject="s")
        with pytest.raises(duckdb.ConstraintException):
            con.execute("INSERT INTO events SELECT * FROM events WHERE seq = 1")
