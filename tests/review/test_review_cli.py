"""``giamdinh review …`` end to end on a real store (the generated day, copied)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from claims.cli.app import app
from claims.store.runs import open_store
from tests.conftest import PERIOD, GeneratedDay
from tests.factories import giamdinh

runner = CliRunner()


def test_queue_decide_show_contest_through_the_cli(
    generated_day: GeneratedDay, tmp_path: Path
) -> None:
    settings = generated_day.copy(tmp_path / "data")
    data = ["--data-dir", str(settings.data_dir)]
    listed = runner.invoke(
        app, ["review", "queue", "--period", PERIOD, "--format", "json", *data]
    )
    assert listed.exit_code == 0, listed.output
    queue = json.loads(listed.stdout)["queue"]
    top = next(r for r in queue if r["held_by"] == "rule")
    facility, claim = top["ma_cskcb"], top["ma_lk"]
    with open_store(settings.store_path, read_only=True) as con:
        line = con.sql(
            'SELECT l."table", l.stt FROM decision_lines l '
            "WHERE l.file_id = ? AND l.hoso_idx = ? ORDER BY line_no LIMIT 1",
            params=[top["file_id"], top["hoso_idx"]],
        ).fetchall()[0]
    target = f"{line[0]}:{line[1]}=reject"
    missing_user = runner.invoke(
        app, ["review", "decide", facility, claim, "--line", target,
              "--justification", "x", *data], env={"GIAMDINH_USER": ""},
    )  # fmt: skip
    assert missing_user.exit_code == 1
    assert "--as USER" in missing_user.output
    decided = runner.invoke(
        app, ["review", "decide", facility, claim, "--line", target,
              "--justification", "Không có chỉ định", "--reason-code", "S.005.649",
              *data], env={"GIAMDINH_USER": "gdv1"},
    )  # fmt: skip
    assert decided.exit_code == 0, decided.output
    assert "state decided" in decided.stdout
    again = runner.invoke(
        app, ["review", "decide", facility, claim, "--line", target,
              "--justification", "x", "--as", "gdv2", *data],
    )  # fmt: skip
    assert again.exit_code == 1
    assert "not pending review" in again.output
    shown = runner.invoke(app, ["review", "show", facility, claim, *data])
    assert shown.exit_code == 0, shown.output
    assert "S.005.649" in shown.stdout
    assert "không chấp nhận" in shown.stdout
    contested = runner.invoke(
        app, ["review", "contest", facility, claim, "--reason", "Có chỉ định", *data]
    )
    assert contested.exit_code == 0, contested.output
    relisted = runner.invoke(
        app, ["review", "queue", "--facility", facility, "--format", "json", *data]
    )
    rows = pl.DataFrame(json.loads(relisted.stdout)["queue"])
    assert rows.filter(pl.col("ma_lk") == claim)["status"].item() == "reopened"
    unknown = runner.invoke(app, ["review", "show", facility, "NOPE", *data])
    assert unknown.exit_code == 1
    assert "no claim" in unknown.output


@pytest.mark.e2e
def test_four_eyes_through_real_processes(
    generated_day: GeneratedDay, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIAMDINH_REVIEW_FOUR_EYES_AMOUNT", "0")
    settings = generated_day.copy(tmp_path / "data")
    data = ["--data-dir", str(settings.data_dir)]
    listed = giamdinh("review", "queue", "--format", "csv", "--limit", "1", *data)
    assert listed.returncode == 0, listed.stderr
    top = pl.read_csv(io.StringIO(listed.stdout), infer_schema=False).row(0, named=True)
    facility, claim = top["ma_cskcb"], top["ma_lk"]
    with open_store(settings.store_path, read_only=True) as con:
        table, stt = con.sql(
            'SELECT l."table", l.stt FROM decision_lines l '
            "WHERE l.file_id = ? AND l.hoso_idx = ? AND l.accepted_bhtt > 0 "
            "ORDER BY line_no LIMIT 1",
            params=[top["file_id"], int(top["hoso_idx"])],
        ).fetchall()[0]
    decided = giamdinh(
        "review", "decide", facility, claim, "--line", f"{table}:{stt}=reject",
        "--justification", "Không có chỉ định", "--as", "gdv1", *data,
    )  # fmt: skip
    assert decided.returncode == 0, decided.stderr
    review_id = decided.stdout.split()[1].rstrip(":")
    assert "state awaiting_approval" in decided.stdout  # any cut above 0 đồng
    own = giamdinh("review", "approve", review_id, "--as", "gdv1", *data)
    assert own.returncode == 1
    assert "cannot approve it (four-eyes rule)" in own.stderr
    other = giamdinh("review", "approve", review_id, "--as", "gdv2", *data)
    assert other.returncode == 0, other.stderr
    shown = giamdinh("review", "show", facility, claim, "--format", "json", *data)
    reviews = json.loads(shown.stdout)["reviews"]
    assert [(r["state"], r["approved_by"]) for r in reviews] == [("approved", "gdv2")]
