"""``giamdinh rules coverage``: one row per check of reference §4.3, each naming what exists."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from claims.cli.app import app
from claims.cli.coverage import TESTS_ROOT
from rules.coverage import COVERAGE_PATH, coverage, markdown
from rules.packs import PACKS_ROOT

ROOT = Path(__file__).resolve().parents[2]
GROUP_SIZES = {
    "A": 8,
    "B": 8,
    "C": 14,
    "D": 9,
    "E": 12,
    "F": 18,
    "G": 5,
    "H": 9,
    "I": 6,
    "J": 9,
}
"""How many checks each group of reference §4.3 lists (A1–A8 … J1–J9)."""


def test_every_reference_id_has_a_row_and_every_row_checks_out() -> None:
    found = coverage(COVERAGE_PATH, PACKS_ROOT, TESTS_ROOT)
    expected = [
        f"{g}{n}" for g, size in GROUP_SIZES.items() for n in range(1, size + 1)
    ]
    assert [r.id for r in found.rows] == expected
    assert all(r.title for r in found.rows)
    assert found.problems == ()
    # every pack rule id names a check, so each one lands in a row
    rules = {p.ref for r in found.rows for p in r.places if p.kind == "rule"}
    assert {"A6_BIRTH_AFTER_ADMISSION", "E5_DRUG_RATIO", "F14_UNITS_PER_DAY"} <= rules


def test_the_docs_table_is_the_commands_output() -> None:
    found = coverage(COVERAGE_PATH, PACKS_ROOT, TESTS_ROOT)
    written = (ROOT / "docs" / "checks.md").read_text(encoding="utf-8")
    assert written == markdown(found), (
        "docs/checks.md is out of date: run giamdinh rules coverage --out docs/checks.md"
    )


def _packs(tmp_path: Path, rules: list[dict[str, object]]) -> Path:
    root = tmp_path / "packs"
    frag = root / "p" / "checks"
    frag.mkdir(parents=True)
    cases = [
        {"rule": rules[0]["id"], "expect": True, "row": {}},
        {"rule": rules[0]["id"], "expect": False, "row": {}},
    ]
    body = {"reason_codes": {}, "rules": rules, "cases": cases}
    (frag / "x.yaml").write_text(yaml.safe_dump(body), encoding="utf-8")
    return root


def test_unknown_codes_features_and_unmapped_rules_are_problems(tmp_path: Path) -> None:
    checks = tmp_path / "coverage.yaml"
    checks.write_text(
        yaml.safe_dump(
            {
                "checks": {
                    "C10": {"title": "XML4 vs XML3 dates"},
                    "D1": {"title": "Line amounts", "payment": ["NO_SUCH_CODE"]},
                    "D2": {"title": "Other sources", "validation": ["DATE_ORDER"]},
                    "J7": {"title": "Visits", "anomaly": ["no_such_feature"]},
                    "J8": {"title": "Cost outliers"},
                }
            }
        ),
        encoding="utf-8",
    )
    rule = {"id": "C10_X", "action": "review"}
    root = _packs(tmp_path, [rule, {"id": "Z1_STRAY", "action": "info"}])
    found = coverage(checks, root, TESTS_ROOT)
    assert sorted(found.problems) == sorted(
        [
            "D1: payment names NO_SUCH_CODE, no such reason code",
            "J7: anomaly names no_such_feature, no such feature column",
            "J8: no implementation, and neither not_checkable nor open",
            "rule Z1_STRAY: its prefix names no §4.3 id",
        ]
    )
    c10 = found.rows[0]
    assert [(p.kind, p.ref, p.action) for p in c10.places] == [
        ("rule", "C10_X", "review")
    ]
    assert c10.places[0].test == "cases (1 hit, 1 miss) in p/checks/x.yaml"
    d2 = found.rows[2].places[0]
    assert d2.test is not None
    assert d2.test.startswith("tests/")


def test_a_rule_without_a_hit_and_a_miss_has_no_test(tmp_path: Path) -> None:
    checks = tmp_path / "coverage.yaml"
    checks.write_text(
        yaml.safe_dump({"checks": {"C10": {"title": "t"}}}), encoding="utf-8"
    )
    root = _packs(tmp_path, [{"id": "C10_X", "action": "review"}])
    body = yaml.safe_load((root / "p" / "checks" / "x.yaml").read_text())
    body["cases"] = body["cases"][:1]
    (root / "p" / "checks" / "x.yaml").write_text(yaml.safe_dump(body))
    assert coverage(checks, root, TESTS_ROOT).rows[0].places[0].test is None


def test_the_command_prints_json_and_writes_markdown(tmp_path: Path) -> None:
    runner = CliRunner()
    shown = runner.invoke(app, ["rules", "coverage", "--format", "json"])
    assert shown.exit_code == 0, shown.output
    records = json.loads(shown.stdout)
    assert len(records) == sum(GROUP_SIZES.values())
    b1 = next(r for r in records if r["id"] == "B1")
    assert b1["status"] == "not checkable"
    assert b1["places"] == []
    out = tmp_path / "checks.md"
    written = runner.invoke(app, ["rules", "coverage", "--out", str(out)])
    assert written.exit_code == 0, written.output
    assert out.read_text(encoding="utf-8").count("\n| ") == len(records) + 1
