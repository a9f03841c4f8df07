"""Placing inputs after their run is stored (``claims.pipeline.placement``): the sidecar
before the move, the copy across filesystems, the repair of what a crash or a full disk
left half-placed; the inbox notices (not .xml, empty); read-only commands that never
create a store."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from claims.config import Settings
from claims.intake import file_sha256
from claims.pipeline.context import Reference
from claims.pipeline.daily import RunResult, run_inbox
from claims.pipeline.placement import PARTIAL, SIDECAR, move_path, place, repair
from claims.store import known_files, open_store
from tests.factories import example_claim, giamdinh, hoso, with_key, wrapper

DAY = "2025-10-06"
"""The NGAYLAP of the factories' wrappers: the day the runs place files under."""
REFUSAL = {"code": "FILE_TRUNCATED", "file": "bad.xml", "message": "cut short"}


def _run(
    inbox: Path, settings: Settings, reference: Reference, **kwargs: Any
) -> RunResult:
    """``run_inbox`` with the session's reference (loading it again costs seconds)."""
    return run_inbox(inbox, settings=settings, reference=reference, **kwargs)


def _inbox(folder: Path) -> Path:
    """An inbox of one readable file (two claims) and one refused file."""
    folder.mkdir(parents=True)
    claim = example_claim()
    (folder / "good.xml").write_bytes(
        wrapper([hoso(with_key(claim, f"P{i}")) for i in range(2)])
    )
    (folder / "broken.xml").write_bytes(b"<GIAMDINHHS><THONGTINDONVI>")
    return folder


def _source(tmp_path: Path, name: str = "bad.xml", data: bytes = b"<not-xml") -> Path:
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    (inbox / name).write_bytes(data)
    return inbox / name


def _leftovers(root: Path) -> list[Path]:
    return sorted(root.rglob(f"*{PARTIAL}"))


# ---- place and write_sidecar


def test_the_sidecar_is_written_before_its_file_moves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    source = _source(tmp_path)
    digest = file_sha256(source)
    monkeypatch.setenv("GIAMDINH_FAIL_AT", "move")
    with pytest.raises(OSError, match="No space left") as failed:
        place(settings, [(source, digest, REFUSAL)], DAY)
    assert failed.value.errno == errno.ENOSPC
    sidecar = settings.failed_dir / f"bad.xml{SIDECAR}"
    # the move failed: the sidecar is already there, the file still in the inbox
    assert json.loads(sidecar.read_text(encoding="utf-8")) == REFUSAL
    assert source.read_bytes() == b"<not-xml"
    assert not (settings.failed_dir / "bad.xml").exists()
    monkeypatch.delenv("GIAMDINH_FAIL_AT")
    assert place(settings, [(source, digest, REFUSAL)], DAY) == []
    assert not source.exists()
    assert (settings.failed_dir / "bad.xml").read_bytes() == b"<not-xml"
    assert json.loads(sidecar.read_text(encoding="utf-8")) == REFUSAL
    assert _leftovers(tmp_path) == []


def test_a_failed_sidecar_write_leaves_nothing_and_moves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    source = _source(tmp_path)
    monkeypatch.setenv("GIAMDINH_FAIL_AT", "sidecar")
    with pytest.raises(OSError, match="No space left"):
        place(settings, [(source, file_sha256(source), REFUSAL)], DAY)
    assert source.exists()
    assert sorted(settings.failed_dir.iterdir()) == []
    assert _leftovers(tmp_path) == []


def test_a_file_already_placed_before_a_crash_is_only_removed_from_the_inbox(
    tmp_path: Path,
) -> None:
    """A copy that completed (target renamed) before the source was unlinked."""
    settings = Settings(data_dir=tmp_path / "data")
    source = _source(tmp_path)
    settings.failed_dir.mkdir(parents=True)
    shutil.copyfile(source, settings.failed_dir / "bad.xml")
    notices = place(settings, [(source, file_sha256(source), REFUSAL)], DAY)
    assert notices == [
        f"bad.xml: already in {settings.failed_dir}, removed from the inbox"
    ]
    assert not source.exists()
    sidecar = settings.failed_dir / f"bad.xml{SIDECAR}"
    assert json.loads(sidecar.read_text(encoding="utf-8")) == REFUSAL


def test_another_file_of_the_same_name_is_kept_beside_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    folder = settings.processed_dir / DAY
    folder.mkdir(parents=True)
    (folder / "a.xml").write_bytes(b"earlier bytes")
    source = _source(tmp_path, "a.xml", b"later bytes")
    digest = file_sha256(source)
    assert place(settings, [(source, digest, None)], DAY) == []
    assert (folder / "a.xml").read_bytes() == b"earlier bytes"
    assert (folder / f"{digest[:8]}-a.xml").read_bytes() == b"later bytes"
    assert not source.exists()


# ---- move_path across filesystems


def _rename_fails_once(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, Path]]:
    """Make the first ``Path.rename`` fail with EXDEV (another filesystem)."""
    calls: list[tuple[Path, Path]] = []
    real = Path.rename

    def rename(self: Path, target: Any) -> Path:
        calls.append((self, Path(target)))
        if len(calls) == 1:
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), str(self))
        return real(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    return calls


def test_a_move_across_filesystems_copies_then_removes_the_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _source(tmp_path, "a.xml", b"x" * 100_000)
    target = tmp_path / "processed" / "a.xml"
    target.parent.mkdir()
    calls = _rename_fails_once(monkeypatch)
    move_path(source, target)
    assert target.read_bytes() == b"x" * 100_000
    assert not source.exists()
    # the copy went to a hidden partial name first, renamed into place once complete
    partial = target.with_name(f".a.xml{PARTIAL}")
    assert calls == [(source, target), (partial, target)]
    assert _leftovers(tmp_path) == []


def test_a_bulk_folder_moves_across_filesystems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "inbox" / "bulk"
    (source / "sub").mkdir(parents=True)
    (source / "xml1.parquet").write_bytes(b"one")
    (source / "sub" / "xml2.parquet").write_bytes(b"two")
    target = tmp_path / "processed" / "bulk"
    target.parent.mkdir()
    _rename_fails_once(monkeypatch)
    move_path(source, target)
    assert not source.exists()
    assert (target / "xml1.parquet").read_bytes() == b"one"
    assert (target / "sub" / "xml2.parquet").read_bytes() == b"two"
    assert _leftovers(tmp_path) == []


def test_a_copy_that_fails_removes_its_partial_and_keeps_the_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _source(tmp_path, "a.xml", b"payload")
    target = tmp_path / "processed" / "a.xml"
    target.parent.mkdir()
    _rename_fails_once(monkeypatch)

    def copy_until_full(src: Path, dst: Path, **_: Any) -> None:
        Path(dst).write_bytes(b"pay")  # part of it, then the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))

    monkeypatch.setattr(shutil, "copyfile", copy_until_full)
    with pytest.raises(OSError, match="No space left") as failed:
        move_path(source, target)
    assert failed.value.errno == errno.ENOSPC
    assert source.read_bytes() == b"payload"
    assert not target.exists()
    assert _leftovers(tmp_path) == []


# ---- repair


def test_repair_removes_partial_copies_and_says_so(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    day = settings.processed_dir / DAY
    day.mkdir(parents=True)
    settings.failed_dir.mkdir()
    copy = day / f".a.xml{PARTIAL}"
    copy.write_bytes(b"half")
    sidecar = settings.failed_dir / f".b.xml{SIDECAR}{PARTIAL}"
    sidecar.write_text("{", encoding="utf-8")
    kept = day / "c.xml"
    kept.write_bytes(b"whole")
    notices = repair(settings, {})
    assert sorted(notices) == sorted(
        [f"removed the partial copy {copy}", f"removed the partial copy {sidecar}"]
    )
    assert _leftovers(tmp_path) == []
    assert kept.read_bytes() == b"whole"
    assert repair(settings, {}) == []  # nothing left to repair


def test_repair_writes_a_missing_sidecar_from_the_stored_receipt(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    settings.failed_dir.mkdir(parents=True)
    refused = settings.failed_dir / "bad.xml"
    refused.write_bytes(b"<cut")
    stray = settings.failed_dir / "stray.xml"
    stray.write_bytes(b"<unknown")
    receipt = {"status": "failed", "reason": "FILE_TRUNCATED", "file": "bad.xml"}
    known = {file_sha256(refused): ("failed", json.dumps(receipt))}
    notices = repair(settings, known)
    assert notices == [
        f"wrote the missing sidecar of {refused}",
        f"{stray} has no sidecar and the store has no refusal for it; "
        "put it back in an inbox to have it read",
    ]
    written = settings.failed_dir / f"bad.xml{SIDECAR}"
    assert json.loads(written.read_text(encoding="utf-8")) == receipt
    assert not (settings.failed_dir / f"stray.xml{SIDECAR}").exists()
    assert stray.exists()  # never deleted: it is somebody's file


def test_a_rerun_writes_the_sidecar_a_crash_left_missing(
    tmp_path: Path, reference: Reference
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    inbox = _inbox(tmp_path / "inbox")
    first = _run(inbox, settings, reference)
    assert first.run_id is not None
    sidecar = settings.failed_dir / f"broken.xml{SIDECAR}"
    original = json.loads(sidecar.read_text(encoding="utf-8"))
    assert original["run_id"] == first.run_id
    sidecar.unlink()  # lost, as when a disk failed between the move and a sync
    (settings.processed_dir / DAY / f".x.xml{PARTIAL}").write_bytes(b"half")
    second = _run(inbox, settings, reference)
    assert second.run_id is None
    assert f"wrote the missing sidecar of {settings.failed_dir / 'broken.xml'}" in (
        second.notices
    )
    assert any("removed the partial copy" in n for n in second.notices)
    assert json.loads(sidecar.read_text(encoding="utf-8")) == original
    assert _leftovers(tmp_path) == []
    with open_store(settings.store_path, read_only=True) as con:
        status, receipt = known_files(con)[
            file_sha256(settings.failed_dir / "broken.xml")
        ]
    assert status == "failed"
    assert json.loads(receipt) == original


# ---- what the inbox holds


def test_a_file_not_ending_in_xml_is_left_in_the_inbox_with_a_notice(
    tmp_path: Path, reference: Reference
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    inbox = _inbox(tmp_path / "inbox")
    (inbox / "notes.txt").write_text("for the clerk", encoding="utf-8")
    (inbox / "good.xml.bak").write_bytes((inbox / "good.xml").read_bytes())
    result = _run(inbox, settings, reference)
    assert result.run_id is not None
    for name in ("good.xml.bak", "notes.txt"):
        notice = f"{name} left in the inbox: not a .xml file nor a bulk folder"
        assert notice in result.notices
    assert sorted(p.name for p in inbox.iterdir()) == ["good.xml.bak", "notes.txt"]
    assert sorted(result.files["file"]) == ["broken.xml", "good.xml"]
    assert (settings.processed_dir / DAY / "good.xml").exists()


@pytest.mark.parametrize("extra", [None, "readme.md"])
def test_an_empty_inbox_says_it_is_empty(
    tmp_path: Path, reference: Reference, extra: str | None
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    if extra:
        (inbox / extra).write_text("not a claim file", encoding="utf-8")
    result = _run(inbox, settings, reference)
    assert result.run_id is None
    assert result.files.height == 0
    assert "the inbox is empty: no .xml file or bulk folder to read" in result.notices
    if extra:
        assert f"{extra} left in the inbox: not a .xml file nor a bulk folder" in (
            result.notices
        )
    assert not settings.runs_dir.exists() or not any(settings.runs_dir.iterdir())


# ---- read-only commands


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.e2e
def test_explain_under_a_misspelled_data_dir_creates_nothing(tmp_path: Path) -> None:
    before = _tree(tmp_path)
    missing = tmp_path / "giamdinh-dta"
    result = giamdinh(
        "rules", "explain", "--facility", "01030", "--claim", "X1",
        "--data-dir", str(missing),
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    text = " ".join(result.stderr.split())
    assert "error:" in text
    assert f"no store at {missing / 'giamdinh.duckdb'}" in text
    assert "--data-dir" in text
    assert "Traceback" not in result.stderr
    assert not missing.exists()
    assert _tree(tmp_path) == before


def test_opening_a_missing_store_read_only_refuses_and_creates_nothing(
    tmp_path: Path,
) -> None:
    from claims.errors import ConfigError

    path = tmp_path / "nowhere" / "giamdinh.duckdb"
    with (
        pytest.raises(ConfigError, match="no store at"),
        open_store(path, read_only=True),
    ):
        pytest.fail("opened a store that does not exist")
    assert not path.parent.exists()
