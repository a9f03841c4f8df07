"""``giamdinh users add|list|revoke`` and ``giamdinh events`` on a real store: the key
printed once authenticates, revoking stops it, the trail shows both."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from claims.cli.app import app
from claims.pipeline.identity import authenticate
from claims.store.runs import open_store
from tests.factories import giamdinh

runner = CliRunner()


def _key(output: str) -> str:
    """The last word of the last line."""
    return output.strip().splitlines()[-1].split()[-1]


def test_a_key_printed_once_authenticates_until_revoked(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    added = runner.invoke(app, ["users", "add", "--role", "admin", *data],
                          env={"GIAMDINH_USER": "root"})  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "not stored" in added.stdout
    admin_key = _key(added.stdout)
    clinic = runner.invoke(
        app, ["users", "add", "--role", "clinic", "--facility", "01002",
              "--name", "Bệnh viện 01002", "--as", "admin", *data],
    )  # fmt: skip
    assert clinic.exit_code == 0, clinic.output
    clinic_key = _key(clinic.stdout)
    assert admin_key != clinic_key
    store = tmp_path / "data" / "giamdinh.duckdb"
    with open_store(store) as con:
        found = authenticate(con, clinic_key)
    assert found is not None
    assert (found.user_id, found.role, found.facility) == (
        "benh-vien-01002", "clinic", "01002",
    )  # fmt: skip
    assert clinic_key.encode() not in store.read_bytes()
    listed = runner.invoke(app, ["users", "list", "--format", "json", *data])
    assert listed.exit_code == 0, listed.output
    users = json.loads(listed.stdout)["users"]
    assert [(u["user_id"], u["status"]) for u in users] == [
        ("admin", "active"), ("benh-vien-01002", "active"),
    ]  # fmt: skip
    assert clinic_key not in listed.stdout
    revoked = runner.invoke(
        app, ["users", "revoke", "benh-vien-01002", "--as", "admin", *data]
    )
    assert revoked.exit_code == 0, revoked.output
    with open_store(store) as con:
        assert authenticate(con, clinic_key) is None
        assert authenticate(con, admin_key) is not None
    trail = runner.invoke(app, ["events", "--format", "json", *data])
    assert trail.exit_code == 0, trail.output
    rows = json.loads(trail.stdout)["events"]
    assert [(e["seq"], e["action"], e["actor"], e["subject"]) for e in rows] == [
        (1, "user.created", "root", "user:admin"),
        (2, "user.created", "admin", "user:benh-vien-01002"),
        (3, "user.revoked", "admin", "user:benh-vien-01002"),
    ]
    assert json.loads(rows[1]["after"]) == {
        "facility": "01002", "name": "Bệnh viện 01002", "role": "clinic",
    }  # fmt: skip
    only = runner.invoke(
        app, ["events", "--subject", "user:admin", "--format", "csv", *data]
    )
    assert only.stdout.splitlines()[1].startswith("1,")
    assert len(only.stdout.splitlines()) == 2


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--role", "clinic"], "--facility MA_CSKCB"),
        (["--role", "assessor", "--facility", "01002"], "drop --facility"),
        (["--role", "boss"], "unknown role 'boss'"),
    ],
)
def test_a_bad_user_is_refused_with_the_fix_and_nothing_written(
    tmp_path: Path, args: list[str], said: str
) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    refused = runner.invoke(app, ["users", "add", *args, "--as", "root", *data])
    assert refused.exit_code == 1
    assert said in " ".join(refused.output.split())
    assert not (tmp_path / "data").exists()  # no store made for nothing
    runner.invoke(app, ["users", "add", "--role", "admin", "--as", "root", *data])
    again = runner.invoke(app, ["users", "add", *args, "--as", "root", *data])
    assert again.exit_code == 1
    listed = runner.invoke(app, ["users", "list", "--format", "json", *data])
    assert [u["user_id"] for u in json.loads(listed.stdout)["users"]] == ["admin"]
    trail = runner.invoke(app, ["events", "--format", "json", *data])
    assert [e["subject"] for e in json.loads(trail.stdout)["events"]] == ["user:admin"]


def test_revoking_an_unknown_user_and_reading_no_store_say_what_to_do(
    tmp_path: Path,
) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    nothing = runner.invoke(app, ["events", *data])
    assert nothing.exit_code == 1
    assert "no store at" in nothing.output
    runner.invoke(app, ["users", "add", "--role", "admin", "--as", "root", *data])
    unknown = runner.invoke(app, ["users", "revoke", "nobody", "--as", "root", *data])
    assert unknown.exit_code == 1
    assert "giamdinh users list" in unknown.output
    bad = runner.invoke(app, ["events", "--action", "user.deleted", *data])
    assert bad.exit_code == 1
    assert "user.created" in bad.output


@pytest.mark.e2e
def test_the_real_command_prints_the_key_as_the_last_word(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    done = giamdinh("users", "add", "--role", "finance", "--as", "root", *data)
    assert done.returncode == 0, done.stderr
    key = _key(done.stdout)
    with open_store(tmp_path / "data" / "giamdinh.duckdb") as con:
        user = authenticate(con, key)
    assert user is not None
    assert user.role == "finance"
    table = giamdinh("events", *data)
    assert "user.created" in table.stdout
    assert "user:finance" in table.stdout
