"""``giamdinh claims show`` and ``rules explain`` read a stored claim as an assessor
does: every version, the current decision and its amounts, every reason, the versions
and run it was decided with, refused submissions, the other claims of a duplicate."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from claims.assess import load_packs
from claims.cli.app import app
from claims.config import Settings
from claims.pipeline.daily import run_inbox
from claims.pipeline.explain import explain_claim
from tests.conftest import GeneratedDay
from tests.factories import example_claim, hoso, with_key, wrapper


def _show(*args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(app, ["claims", "show", *args])
    assert result.exit_code == code, result.output
    if code == 0:
        return json.loads(result.stdout)
    return " ".join(result.output.split())  # the console wraps at its width


def _run(settings: Settings, folder: Path, files: dict[str, bytes]) -> None:
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    run_inbox(folder, settings=settings)


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Claim R1 stored twice (the second supersedes), then sent once more with a bad
    NGAY_VAO (refused at validation); R2 and R3, one patient's two claims the same day."""
    root = tmp_path_factory.mktemp("versions")
    settings = Settings(data_dir=root / "data")
    claim = with_key(example_claim(), "R1")
    twins = [hoso(with_key(example_claim(), k)) for k in ("R2", "R3")]
    _run(settings, root / "in1", {"r.xml": wrapper([hoso(claim), *twins])})
    claim["XML1"][0]["GHI_CHU"] = "gửi lại sau khi sửa"
    _run(settings, root / "in2", {"r2.xml": wrapper([hoso(claim)])})
    claim["XML1"][0]["NGAY_VAO"] = "2025-10-01"
    _run(settings, root / "in3", {"r3.xml": wrapper([hoso(claim)])})
    return settings


def _facility() -> str:
    facility = example_claim()["XML1"][0].get("MA_CSKCB")
    return facility or "01030"


def test_every_version_and_the_refused_submission(versions: Settings) -> None:
    facility = _facility()
    where = ("--data-dir", str(versions.data_dir))
    body = _show("--facility", facility, "--claim", "R1", *where, "--format", "json")
    assert [v["version"] for v in body["versions"]] == [2, 1]
    assert [v["is_current"] for v in body["versions"]] == [True, False]
    assert [v["file"] for v in body["versions"]] == ["r2.xml", "r.xml"]
    current = body["current"]
    assert current["version"] == 2
    assert current["outcome"] in {
        "accepted", "partially_accepted", "pending_review", "rejected",
    }  # fmt: skip
    assert current["versions"]["pack"].startswith("vn-bhyt@")
    assert "drugs" in current["versions"]["catalogs"]
    assert len(current["run_id"]) == 16
    (refused,) = body["refused"]
    assert refused["file"] == "r3.xml"
    assert {r["reason_code"] for r in refused["reasons"]} == {"BAD_DATETIME"}
    assert all(r["reason_code"] != "LINE_OF_REJECTED_CLAIM" for r in refused["reasons"])


def test_the_current_decision_is_the_stored_one(generated_day: GeneratedDay) -> None:
    stored = generated_day.sql(
        "SELECT d.* FROM decisions d WHERE outcome = 'partially_accepted' "
        "ORDER BY ma_lk LIMIT 1"
    ).row(0, named=True)
    reasons = generated_day.sql(
        "SELECT code, stt FROM decision_reasons "
        f"WHERE file_id = '{stored['file_id']}' AND hoso_idx = {stored['hoso_idx']}"
    )
    body = _show(
        "--facility", stored["ma_cskcb"], "--claim", stored["ma_lk"],
        "--data-dir", str(generated_day.settings.data_dir), "--format", "json",
    )  # fmt: skip
    current = body["current"]
    assert current["outcome"] == "partially_accepted"
    assert current["run_id"] == stored["run_id"] == generated_day.result.run_id
    assert current["accepted"]["t_bhtt"] == str(stored["accepted_t_bhtt"])
    assert current["claimed"]["t_bhtt"] == str(stored["claimed_t_bhtt"])
    assert current["rejected_amount"] == str(stored["rejected_amount"])
    assert current["versions"]["pack"] == stored["pack"]
    assert current["versions"]["catalogs"] == json.loads(stored["catalogs"])
    got = sorted((r["code"], r["stt"] or 0) for r in current["reasons"])
    want = sorted((c, s or 0) for c, s in reasons.iter_rows())
    assert got == want
    assert got
    for reason in current["reasons"]:
        assert reason["message"]
        assert reason["level"] in {"claim", "line"}
        assert isinstance(reason["values"], dict)  # the check contract's shape
        assert set(reason) >= {"code", "bhxh_code", "stt", "item_code", "field"}


def test_a_claim_not_stored_is_named_with_the_fix(versions: Settings) -> None:
    where = ("--data-dir", str(versions.data_dir))
    said = _show("--facility", "99999", "--claim", "NOPE", *where, code=1)
    assert "NOPE" in said
    assert "99999" in said
    assert "--facility" in said
    assert "--claim" in said
    elsewhere = _show("--facility", "99999", "--claim", "R1", *where, code=1)
    assert f"stored for facility {_facility()}" in elsewhere
    missing = _show(
        "--facility", "1", "--claim", "R1", "--data-dir", "/nonexistent/x", code=1
    )
    assert "no store at /nonexistent/x" in missing
    assert not Path("/nonexistent/x").exists()


def test_explain_names_the_other_claim_and_shows_payment(versions: Settings) -> None:
    found = explain_claim(versions, load_packs(), _facility(), "R2")
    # R1 (its current version) and R3: the same card, admitted the same day
    related = found.related.filter(pl.col("relation") == "same_day")
    assert sorted(related.select("ma_cskcb", "ma_lk").rows()) == [
        (_facility(), "R1"),
        (_facility(), "R3"),
    ]
    fired = found.rules.filter(pl.col("rule_id").str.starts_with("J1_"))
    assert fired["fired"].sum() > 0
    assert set(found.reasons["code"]) >= {"DUPLICATE_VISIT_SAME_DAY"}
    result = CliRunner().invoke(
        app,
        [
            "rules", "explain", "--facility", _facility(), "--claim", "R2",
            "--data-dir", str(versions.data_dir), "--format", "json",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    shown = {(r["relation"], r["ma_lk"]) for r in body["related_claims"]}
    assert shown == {("same_day", "R1"), ("same_day", "R3")}
    assert {d["decision"] for d in body["decisions"]} == {"stored", "now"}
    totals = {a["total"] for a in body["amounts"]}
    assert {"T_BHTT", "T_TONGCHI_BH"} <= totals
    assert any(r["code"] == "DUPLICATE_VISIT_SAME_DAY" for r in body["reasons"])


def _giamdinh(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``giamdinh ARGS`` as a real process in ``cwd``, with no data folder set."""
    env = {k: v for k, v in os.environ.items() if k != "GIAMDINH_DATA_DIR"}
    return subprocess.run(
        [sys.executable, "-c", "from claims.cli.app import app; app()", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**env, "COLUMNS": "120"},
    )


def _readme_next_example() -> list[list[str]]:
    """The commands the README gives after the demo, as written."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    after = readme.split("Then, from the same folder", 1)[1]
    block = after.split("```bash", 1)[1].split("```", 1)[0]
    return [shlex.split(line) for line in block.strip().splitlines()]


@pytest.mark.e2e
def test_the_readme_next_example_finds_the_demo_store(tmp_path: Path) -> None:
    demo = _giamdinh(tmp_path, "demo", "--claims", "1000")
    assert demo.returncode == 0, demo.stderr
    assert (tmp_path / "giamdinh-data" / "giamdinh.duckdb").is_file()
    commands = _readme_next_example()
    assert [c[:3] for c in commands] == [
        ["giamdinh", "claims", "show"],
        ["giamdinh", "rules", "explain"],
    ]
    for command in commands:
        done = _giamdinh(tmp_path, *command[1:])
        assert done.returncode == 0, (command, done.stderr)
        assert command[command.index("--claim") + 1] in done.stdout
    # the claim the demo names next is shown by the command it prints, as printed
    suggested = [
        shlex.split(line.strip())
        for line in demo.stderr.splitlines()
        if line.strip().startswith("giamdinh claims show")
    ]
    assert len(suggested) == 1
    shown = _giamdinh(tmp_path, *suggested[0][1:], "--format", "json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["current"]["outcome"] != "accepted"


@pytest.mark.e2e
def test_the_demo_never_overwrites_other_data(tmp_path: Path) -> None:
    data = tmp_path / "giamdinh-data"
    data.mkdir()
    (data / "giamdinh.duckdb").write_bytes(b"a store the demo did not make")
    refused = _giamdinh(tmp_path, "demo", "--claims", "50")
    assert refused.returncode == 1
    assert "holds other data" in refused.stderr
    assert (data / "giamdinh.duckdb").read_bytes() == b"a store the demo did not make"
