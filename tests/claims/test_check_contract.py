"""The ``check`` contract (version 2, README "The ``check`` contract"): over every fixture
of ``tests/fixtures/`` and over a generated day with faults, every object has exactly
the documented keys, types and shapes; ``check`` decides every claim as a daily run into
a scratch data folder does; exit codes 0, 1 (``--strict``) and 2; folders of files."""

from __future__ import annotations

import json
import re
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from claims.cli.app import app
from claims.config import Settings
from claims.errors import ReasonCode
from claims.messages import PLACEHOLDER
from claims.pipeline.context import Reference
from claims.pipeline.daily import run_inbox
from claims.pipeline.selfcheck import (
    CONTRACT,
    MONEY_FIELDS,
    REASON_KEYS,
    check_files,
)
from tests.conftest import GeneratedDay

FIXTURES_ROOT = Path(__file__).parent.parent / "fixtures"
FIXTURES = sorted(FIXTURES_ROOT.rglob("*.xml"))
CLAIM_KEYS = {
    "contract",
    "file",
    "hoso_idx",
    "stt",
    "ma_cskcb",
    "ma_lk",
    "outcome",
    "claimed",
    "accepted",
    "rejected_amount",
    "reasons",
    "versions",
    "risk",
}
ERROR_KEYS = {"contract", "file", "error"}
OUTCOMES = {"rejected", "pending_review", "partially_accepted", "accepted"}
MONEY = re.compile(r"^-?\d+\.\d{2}$")
ENGINE_CODES = {c.value for c in ReasonCode}
Checked = list[dict[str, Any]]


def assert_contract(obj: dict[str, Any]) -> None:
    """One object of ``check --format jsonl``: a claim or an unreadable file."""
    assert obj["contract"] == CONTRACT, obj
    assert isinstance(obj["file"], str), obj
    assert obj["file"], obj
    if "error" in obj:
        assert set(obj) == ERROR_KEYS, obj
        error = obj["error"]
        assert set(error) == {"code", "message"}, obj
        assert error["code"] in ENGINE_CODES, obj
        _text(error["message"])
        return
    assert set(obj) == CLAIM_KEYS, obj
    assert isinstance(obj["hoso_idx"], int), obj
    assert obj["hoso_idx"] >= 0, obj
    assert obj["stt"] == obj["hoso_idx"] + 1, obj
    for key in ("ma_cskcb", "ma_lk"):
        assert obj[key] is None or isinstance(obj[key], str), obj
    assert obj["outcome"] in OUTCOMES, obj
    claimed, accepted = obj["claimed"], obj["accepted"]
    assert set(accepted) == set(MONEY_FIELDS), obj
    assert all(MONEY.match(v) for v in accepted.values()), obj
    if claimed is not None:
        assert set(claimed) == set(MONEY_FIELDS), obj
        assert all(v is None or MONEY.match(v) for v in claimed.values()), obj
    rejected = obj["rejected_amount"]
    assert rejected is None or MONEY.match(rejected), obj
    if claimed is not None and claimed["t_bhtt"] is not None:
        left = Decimal(claimed["t_bhtt"]) - Decimal(accepted["t_bhtt"])
        assert Decimal(rejected) == max(left, Decimal(0)), obj
    assert isinstance(obj["reasons"], list), obj
    for reason in obj["reasons"]:
        assert_reason(reason)
    versions = obj["versions"]
    assert set(versions) == {"pack", "catalogs"}, obj
    assert versions["pack"] is None or versions["pack"].startswith("vn-bhyt@"), obj
    assert versions["catalogs"], obj
    assert all(isinstance(v, str) for v in versions["catalogs"].values()), obj
    assert_risk(obj["risk"])


def assert_risk(risk: dict[str, Any] | None) -> None:
    """The information-only anomaly score: null, or a 0–1 score with its reasons."""
    if risk is None:
        return
    assert set(risk) == {"score", "statistic", "features", "explanation"}, risk
    assert 0.0 <= risk["score"] <= 1.0, risk
    assert risk["statistic"] >= 0.0, risk
    assert all(isinstance(f, str) for f in risk["features"]), risk
    _text(risk["explanation"])
    assert "so với nhóm" in risk["explanation"], risk


def assert_reason(reason: dict[str, Any]) -> None:
    """A reason names its code, the line (table, STT, item) and the values compared."""
    assert tuple(reason) == REASON_KEYS, reason
    assert isinstance(reason["code"], str), reason
    assert reason["code"], reason
    assert reason["bhxh_code"] is None or re.match(
        r"^S\.\d{3}\.\d{3}$", reason["bhxh_code"]
    )
    assert reason["level"] in ("claim", "line"), reason
    assert isinstance(reason["table"], str), reason
    if reason["level"] == "claim":
        assert reason["table"] == "XML1", reason
        assert reason["stt"] is None, reason
        assert reason["item_code"] is None, reason
    else:
        assert reason["table"] != "XML1", reason
        assert reason["stt"] is None or isinstance(reason["stt"], int), reason
    assert reason["item_code"] is None or isinstance(reason["item_code"], str)
    assert reason["field"] is None or isinstance(reason["field"], str), reason
    values = reason["values"]
    assert isinstance(values, dict), reason
    assert all(isinstance(k, str) for k in values), reason
    assert all(v is None or isinstance(v, str) for v in values.values()), reason
    _text(reason["message"])


def _text(message: object) -> None:
    assert isinstance(message, str), message
    assert message.strip(), message
    assert not PLACEHOLDER.search(message), f"a placeholder left in {message!r}"


@pytest.fixture(scope="module")
def fixture_check(reference: Reference) -> tuple[Checked, bool]:
    names = [p.name for p in FIXTURES]
    assert len(set(names)) == len(names), "fixture names must be unique"
    return check_files(FIXTURES, reference)


@pytest.fixture(scope="module")
def fixture_run(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The daily run of every fixture, into a scratch data folder."""
    root = tmp_path_factory.mktemp("fixture-run")
    inbox = root / "inbox"
    inbox.mkdir()
    for path in FIXTURES:
        shutil.copy(path, inbox / path.name)
    settings = Settings(data_dir=root / "data")
    run_inbox(inbox, settings=settings, move_files=False)
    return settings


def _by_file(rows: Checked, name: str) -> Checked:
    return [r for r in rows if r["file"] == name]


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_fixture_answers_in_the_contract(
    path: Path, fixture_check: tuple[Checked, bool]
) -> None:
    rows = _by_file(fixture_check[0], path.name)
    assert rows, f"{path.name} gave no object"
    for obj in rows:
        assert_contract(obj)
    if "error" in rows[0]:
        assert len(rows) == 1, "an unreadable file is one object"
    else:
        assert [r["hoso_idx"] for r in rows] == list(range(len(rows)))


def test_the_fixtures_hold_both_shapes(fixture_check: tuple[Checked, bool]) -> None:
    rows, all_read = fixture_check
    assert not all_read
    errors = [r for r in rows if "error" in r]
    claims = [r for r in rows if "error" not in r]
    assert len(errors) >= 15
    assert len(claims) >= 20
    refused = [r for r in claims if r["outcome"] == "rejected"]
    assert refused, "the hoso fixtures hold claims refused at validation"
    assert any(r["claimed"] is None for r in refused), "a claim without XML1"
    assert any(r["reasons"] and r["reasons"][0]["values"] for r in refused)


def _decisions(settings: Settings) -> dict[tuple[str, int], dict[str, Any]]:
    import duckdb

    with duckdb.connect(str(settings.store_path), read_only=True) as con:
        decided = con.sql(
            "SELECT s.name, d.* FROM decisions d JOIN submissions s USING (file_id)"
        ).pl()
        status = con.sql(
            "SELECT s.name, c.hoso_idx, c.status FROM claim_status c "
            "JOIN submissions s USING (file_id)"
        ).pl()
        failed = con.sql("SELECT name FROM submissions WHERE status = 'failed'").pl()
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for row in status.iter_rows(named=True):
        out[(row["name"], row["hoso_idx"])] = {"status": row["status"]}
    for row in decided.iter_rows(named=True):
        out[(row["name"], row["hoso_idx"])] |= {
            "outcome": row["outcome"],
            "accepted": {f: f"{row[f'accepted_{f}']:.2f}" for f in MONEY_FIELDS},
        }
    for name in failed["name"]:
        out[(name, -1)] = {"status": "failed"}
    return out


def assert_same_decisions(
    rows: Checked, run: dict[tuple[str, int], dict[str, Any]]
) -> int:
    """``check``'s objects against the daily run's decisions; returns claims compared."""
    seen = 0
    for obj in rows:
        if "error" in obj:
            assert run.get((obj["file"], -1)) == {"status": "failed"}, obj["file"]
            continue
        stored = run[(obj["file"], obj["hoso_idx"])]
        if stored["status"] == "rejected":
            assert obj["outcome"] == "rejected", obj
            assert set(obj["accepted"].values()) == {"0.00"}, obj
            continue
        assert (obj["outcome"], obj["accepted"]) == (
            stored["outcome"],
            stored["accepted"],
        ), (obj["file"], obj["hoso_idx"])
        seen += 1
    claims = sum(1 for key in run if key[1] >= 0)
    assert claims == sum(1 for obj in rows if "error" not in obj)
    return seen


def test_check_and_a_daily_run_decide_the_fixtures_alike(
    fixture_check: tuple[Checked, bool], fixture_run: Settings
) -> None:
    assert assert_same_decisions(fixture_check[0], _decisions(fixture_run)) >= 5


def test_a_generated_day_with_faults_answers_in_the_contract(
    generated_day: GeneratedDay, reference: Reference
) -> None:
    rows, all_read = check_files(list(generated_day.files), reference)
    assert all_read
    for obj in rows:
        assert_contract(obj)
    outcomes = {r["outcome"] for r in rows}
    assert outcomes == OUTCOMES, outcomes
    reasons = [x for r in rows for x in r["reasons"]]
    lines = [x for x in reasons if x["level"] == "line"]
    assert lines
    assert all(x["stt"] is not None for x in lines)
    assert sum(x["item_code"] is not None for x in lines) > 0.9 * len(lines)
    assert any(x["bhxh_code"] for x in reasons), "packs map some codes to BHXH's"
    assert sum(bool(x["values"]) for x in reasons) > 0.9 * len(reasons)
    assert assert_same_decisions(rows, _decisions(generated_day.settings)) > 400
    # the information-only risk: most claims scored among the checked ones, the
    # riskiest named by their features; it holds nothing (the outcomes above are the
    # daily run's)
    risks = [r["risk"] for r in rows if r["risk"] is not None]
    assert len(risks) > 0.9 * len(rows)
    riskiest = max(risks, key=lambda r: (r["score"], r["statistic"]))
    assert riskiest["score"] > 0.95
    assert riskiest["features"]
    assert min(r["score"] for r in risks) == 0.0


runner = CliRunner()


def _cli(*args: str) -> tuple[int, Checked]:
    result = runner.invoke(app, ["check", *args, "--format", "jsonl"])
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.exit_code, rows


GOOD = FIXTURES_ROOT / "good" / "one-claim.xml"
EMPTY = FIXTURES_ROOT / "bad" / "empty.xml"
REFUSED = FIXTURES_ROOT / "hoso" / "no_xml1.xml"


def test_exit_0_when_every_wrapper_is_read() -> None:
    code, rows = _cli(str(GOOD))
    assert code == 0
    assert rows
    assert all("error" not in r for r in rows)


def test_exit_2_for_an_unreadable_file_with_its_error_object() -> None:
    code, rows = _cli(str(GOOD), str(EMPTY))
    assert code == 2
    assert rows[-1] == {
        "contract": CONTRACT,
        "file": "empty.xml",
        "error": {"code": "FILE_EMPTY", "message": rows[-1]["error"]["message"]},
    }


def test_a_missing_path_is_an_error_object_and_exit_2(tmp_path: Path) -> None:
    code, rows = _cli(str(GOOD), str(tmp_path / "nope.xml"))
    assert code == 2
    assert rows[-1]["file"] == "nope.xml"
    assert rows[-1]["error"]["code"] == "FILE_UNREADABLE"
    assert "không tồn tại" in rows[-1]["error"]["message"]
    assert len(rows) >= 2, "the readable file is still checked"


def test_strict_exits_1_on_a_rejected_claim_and_2_still_wins() -> None:
    code, rows = _cli(str(REFUSED), "--strict")
    assert any(r.get("outcome") == "rejected" for r in rows)
    assert code == 1
    assert _cli(str(REFUSED))[0] == 0
    assert _cli(str(REFUSED), str(EMPTY), "--strict")[0] == 2
    # the example claim's doctors are in no built-in catalog: the registry checks of
    # the corrections reject its lines; the corrected version, pinned, only cuts it
    assert _cli(str(GOOD), "--strict")[0] == 1
    assert _cli(str(GOOD), "--strict", "--pack", "vn-bhyt@2025.01.0")[0] == 0


def test_a_folder_of_xml_files_is_read_as_its_files(tmp_path: Path) -> None:
    folder = tmp_path / "day"
    folder.mkdir()
    for path in (GOOD, REFUSED):
        shutil.copy(path, folder / path.name)
    (folder / "notes.txt").write_text("not a claim")
    code, rows = _cli(str(folder))
    assert code == 0
    assert [r["file"] for r in rows] == sorted(
        [GOOD.name] * len(_cli(str(GOOD))[1])
        + [REFUSED.name] * len(_cli(str(REFUSED))[1])
    )


def test_a_bulk_folder_is_still_a_bulk_load(tmp_path: Path) -> None:
    bulk = tmp_path / "bulk"
    bulk.mkdir()
    pl.DataFrame({"ma_lk": ["X"]}).write_csv(bulk / "xml1.csv")
    code, rows = _cli(str(bulk))
    assert rows
    assert rows[0]["file"] == "bulk", rows
    assert code in (0, 2)


def test_a_rule_not_evaluable_is_a_reason_naming_the_rule(reference: Reference) -> None:
    """A claim a rule could not be evaluated on goes to review with a reason saying
    which rule and what it read (the null included)."""
    from claims.decide.named import fired_rules
    from claims.schema import LINE_KEYS, REASON_VALUES
    from rules.evaluate import HIT_SCHEMA

    pack = reference.packs[-1]
    rule = next(r for r in pack.rules if r.spec.level == "claim")
    keys = {"file_id": "f", "hoso_idx": 0, "table": "XML1", "line_no": None}
    hits = pl.DataFrame(
        [
            {
                **keys,
                "rule_id": rule.spec.id,
                "pack": pack.label,
                "action": rule.spec.action,
                "reason_code": rule.spec.reason_code,
                "outcome": outcome,
                "adjust_to": None,
            }
            for outcome in ("not_evaluable",)
        ],
        schema=HIT_SCHEMA,
    )
    values = pl.DataFrame(
        [
            {
                **keys,
                "rule_id": rule.spec.id,
                "pack": pack.label,
                "stt": None,
                "item_code": None,
                "values": [{"name": "t_bhtt", "value": None}],
            }
        ],
        schema={
            **{k: HIT_SCHEMA[k] for k in keys},
            "rule_id": pl.String(),
            "pack": pl.String(),
            "stt": pl.Int64(),
            "item_code": pl.String(),
            "values": REASON_VALUES,
        },
    )
    lines = pl.DataFrame(
        schema={
            **{k: HIT_SCHEMA[k] for k in LINE_KEYS},
            "stt": pl.Int64(),
            "code": pl.String(),
        }
    )
    found = fired_rules(hits, lines, [pack], values).row(0, named=True)
    assert found["reason_code"] == "RULE_NOT_EVALUABLE"
    assert found["bhxh_code"] is None
    assert rule.spec.id in found["message"]
    assert "t_bhtt ∅" in found["message"]
    _text(found["message"])


def test_the_table_shows_a_claim_without_xml1_and_an_unreadable_file() -> None:
    """The table keeps codes whole at a narrow width (ids and codes never wrap)."""
    result = runner.invoke(
        app, ["check", str(REFUSED), str(EMPTY)], env={"COLUMNS": "60"}
    )
    assert result.exit_code == 2
    for whole in ("HOSO_NO_XML1", "FILE_EMPTY", "DRUG_NOT_IN_CATALOG", "HSEX220251006"):
        assert whole in result.stdout, whole
