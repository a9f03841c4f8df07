"""``giamdinh rules``: check, test, explain and shadow, run as real processes on a real store."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
import yaml

from rules.packs import PACKS_ROOT
from tests.conftest import GeneratedDay
from tests.factories import giamdinh

pytestmark = pytest.mark.e2e


def _giamdinh(*args: str) -> subprocess.CompletedProcess[str]:
    return giamdinh("rules", *args)


@pytest.fixture(scope="module")
def store(generated_day: GeneratedDay) -> Path:
    """The generated day's data folder (explain and shadow only read it)."""
    return generated_day.settings.data_dir


def test_check_lists_every_version_and_test_runs_the_cases() -> None:
    checked = _giamdinh("check")
    assert checked.returncode == 0, checked.stderr
    versions = sorted(
        p.name for p in (PACKS_ROOT / "vn-bhyt").iterdir() if p.name != "checks"
    )
    assert len(versions) >= 6
    assert checked.stdout.count("vn-bhyt@") == len(versions)
    tested = _giamdinh("test", "vn-bhyt@2025.01.0")
    assert tested.returncode == 0, tested.stdout
    assert "ok vn-bhyt@2025.01.0" in tested.stdout
    assert "0 failed" in tested.stdout


def test_a_rule_naming_an_unknown_column_stops_check(tmp_path: Path) -> None:
    root = tmp_path / "packs"
    shutil.copytree(PACKS_ROOT, root)
    draft = root / "vn-bhyt" / "2026.12.0"
    draft.mkdir()
    text = (root / "vn-bhyt" / "2026.07.0" / "pack.yaml").read_text()
    text = text.replace("version: 2026.07.0", "version: 2026.12.0")
    text = text.replace("status: released", "status: draft")
    text = text.replace(
        "expr: visits_30d >= max_visits", "expr: visit_30d >= max_visits"
    )
    (draft / "pack.yaml").write_text(text)
    done = _giamdinh("check", "--packs", str(root))
    assert done.returncode == 1
    assert "vn-bhyt@2026.12.0" in done.stderr
    assert "J7_FREQUENT_VISITS" in done.stderr
    assert "visits_30d" in done.stderr  # the suggestion
    assert "Traceback" not in done.stderr


def test_explain_shows_the_rule_that_fired_on_a_stored_claim(store: Path) -> None:
    with duckdb.connect(str(store / "giamdinh.duckdb"), read_only=True) as con:
        facility, claim = con.sql(
            "SELECT a.ma_cskcb, a.ma_lk FROM rule_hits h JOIN assessments a "
            "USING (file_id, hoso_idx) WHERE h.outcome = 'fired' AND h.line_no IS NULL "
            "ORDER BY a.ma_lk LIMIT 1"
        ).fetchall()[0]
        rule = con.sql(
            "SELECT h.rule_id FROM rule_hits h JOIN assessments a USING (file_id, hoso_idx) "
            f"WHERE a.ma_lk = '{claim}' AND h.line_no IS NULL LIMIT 1"
        ).fetchall()[0][0]
    done = _giamdinh(
        "explain", "--facility", facility, "--claim", claim, "--data-dir", str(store)
    )
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if rule in x)
    assert "fired" in line
    # the stored decision beside the one the stages give now: same run, same outcome
    stored = next(
        x for x in done.stdout.splitlines() if x.strip("│ ").startswith("stored")
    )
    now = next(x for x in done.stdout.splitlines() if x.strip("│ ").startswith("now"))
    assert stored.split("│")[2:5] == now.split("│")[2:5]
    # the stored row is the stored decision: its run and pack versions
    with duckdb.connect(str(store / "giamdinh.duckdb"), read_only=True) as con:
        run_id, pack = con.sql(
            "SELECT d.run_id, d.pack FROM decisions d JOIN claims c "
            "USING (file_id, hoso_idx) WHERE c.ma_cskcb = ? AND c.ma_lk = ?",
            params=[facility, claim],
        ).fetchall()[0]
    assert stored.split("│")[2].strip() == run_id
    assert pack in stored
    assert "catalog versions: the same as the stored decision's" in done.stdout
    missing = _giamdinh(
        "explain", "--facility", facility, "--claim", "NOPE", "--data-dir", str(store)
    )
    assert missing.returncode == 1
    assert "no current claim 'NOPE'" in missing.stderr


def test_shadow_reports_what_a_draft_would_change(store: Path, tmp_path: Path) -> None:
    root = tmp_path / "packs"
    shutil.copytree(PACKS_ROOT, root)
    draft = root / "vn-bhyt" / "2026.12.0"
    draft.mkdir()
    base = yaml.safe_load((root / "vn-bhyt" / "2026.07.0" / "pack.yaml").read_text())
    quota = next(r for r in base["rules"] if r["id"] == "H3_EXAM_QUOTA")
    quota["params"]["max_exams"] = 0  # every exam becomes a review: outcomes change
    body = {
        "id": "vn-bhyt",
        "version": "2026.12.0",
        "corrects": "2026.07.1",  # the version in force, fragments included
        "status": "draft",
        "remove": ["H3_EXAM_QUOTA"],
        "reason_codes": {},
        "rules": [quota],
    }
    (draft / "pack.yaml").write_text(yaml.safe_dump(body, allow_unicode=True))
    done = _giamdinh(
        "shadow",
        "vn-bhyt@2026.12.0",
        "--since",
        "2026-10-01",
        "--data-dir",
        str(store),
        "--packs",
        str(root),
    )
    assert done.returncode == 0, done.stderr
    assert "change outcome or payable T_BHTT under vn-bhyt@2026.12.0" in done.stdout
    assert "H3_EXAM_QUOTA" in done.stdout
    assert " 0 change outcome" not in done.stdout
    # shadow goes through decide: claims sent to review are not paid yet: money moves
    assert "(payable T_BHTT moves by -" in done.stdout
