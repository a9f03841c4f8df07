"""The command line, run as a real process: exit codes, outputs, determinism."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from tests.factories import EXAMPLE, giamdinh

pytestmark = pytest.mark.e2e


def _giamdinh(*args: str) -> subprocess.CompletedProcess[str]:
    return giamdinh(*args)


def test_ingest_exit_codes_and_strict(tmp_path: Path) -> None:
    for name, strict in (("lenient", False), ("strict", True)):
        inbox = tmp_path / name
        inbox.mkdir()
        (inbox / "good.xml").write_bytes(EXAMPLE.read_bytes())
        (inbox / "bad.xml").write_bytes(b"not xml at all")
        args = ["ingest", str(inbox), "--data-dir", str(tmp_path / f"data-{name}")]
        result = _giamdinh(*args, *(["--strict"] if strict else []))
        assert result.returncode == (1 if strict else 0), result.stderr
        assert "Traceback" not in result.stderr
        assert (tmp_path / f"data-{name}" / "failed" / "bad.xml.error.json").exists()
        assert "XML1" in result.stdout  # the row counts go to stdout


def test_missing_inbox_is_a_clear_error(tmp_path: Path) -> None:
    result = _giamdinh(
        "ingest", str(tmp_path / "nope"), "--data-dir", str(tmp_path / "d")
    )
    assert result.returncode == 1
    assert "is not a folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_date_is_a_clear_error(tmp_path: Path) -> None:
    result = _giamdinh("run", "--date", "2026-13-01", "--inbox", str(tmp_path))
    assert result.returncode == 1
    assert "2026-13-01" in result.stderr


def test_generate_same_seed_same_bytes(tmp_path: Path) -> None:
    digests = []
    for n in (1, 2):
        out = tmp_path / f"out{n}"
        result = _giamdinh(
            "generate",
            "--out",
            str(out),
            "--claims",
            "200",
            "--facilities",
            "5",
            "--seed",
            "4",
        )
        assert result.returncode == 0, result.stderr
        files = sorted(out.iterdir())
        assert files
        truth = Path(str(out) + ".truth.parquet")
        digests.append(
            [hashlib.sha256(p.read_bytes()).hexdigest() for p in [*files, truth]]
        )
    assert digests[0] == digests[1]


def test_every_command_tells_errors_in_one_line() -> None:
    """The root group's boundary: an invalid setting, an OS error and an engine error
    each end as one ``error:`` line and exit 1, whatever the command."""
    from typer.testing import CliRunner

    from claims.cli.app import app
    from claims.cli.common import describe_error

    runner = CliRunner()
    bad_setting = runner.invoke(
        app,
        ["check", str(EXAMPLE)],
        env={"GIAMDINH_MAX_UNPRICED_SHARE": "7"},
    )
    assert bad_setting.exit_code == 1
    assert "a setting is invalid (max_unpriced_share" in bad_setting.output
    assert bad_setting.exception is None or isinstance(
        bad_setting.exception, SystemExit
    )

    full = describe_error(OSError(28, "No space left on device", "/data/x.parquet"))
    assert full == (
        "No space left on device (/data/x.parquet); free space on that disk and run "
        "the command again"
    )
    bug = describe_error(KeyError("x"))
    assert bug.startswith("unexpected KeyError")
    assert "GIAMDINH_DEBUG=1" in bug
