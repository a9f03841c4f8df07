"""A receipt says what was decided, not only what was received: each claim's outcome,
accepted amounts and every reason (validation, rules, payment), each naming its line
and the values compared, as the store's decisions hold them."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from claims.intake.receipts import submission_receipt
from claims.validate import validate
from tests.conftest import GeneratedDay
from tests.factories import example_claim, hoso, with_key, wrapper

ZERO = {"t_tongchi_bv", "t_tongchi_bh", "t_bhtt", "t_bncct", "t_bntt"}


@pytest.fixture(scope="module")
def receipts(generated_day: GeneratedDay) -> list[dict[str, Any]]:
    """The generated day's receipts of readable files."""
    assert generated_day.result.run_dir is not None
    found = [
        json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((generated_day.result.run_dir / "receipts").glob("*.json"))
    ]
    return [r for r in found if "so_ho_so" in r]


def _entries(receipts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**e, "file_id": r["file_id"]} for r in receipts for e in r["claims"]]


def test_every_claim_carries_its_stored_decision(
    generated_day: GeneratedDay, receipts: list[dict[str, Any]]
) -> None:
    stored = {
        (r["file_id"], r["hoso_idx"]): r
        for r in generated_day.sql("SELECT * FROM decisions").iter_rows(named=True)
    }
    entries = _entries(receipts)
    decided = [e for e in entries if e["trang_thai"] != "rejected"]
    assert len(decided) == len(stored)
    outcomes = Counter(e["outcome"] for e in decided)
    assert outcomes["partially_accepted"] > 0  # the day has cuts to show
    assert outcomes["accepted"] > 0
    for e in decided:
        row = stored[(e["file_id"], e["stt"] - 1)]
        # received: 200, or 202 when some of its lines were quarantined
        assert e["ma_ket_qua"] == (200 if e["trang_thai"] == "accepted" else 202)
        assert e["outcome"] == row["outcome"]
        assert Decimal(e["accepted"]["t_bhtt"]) == row["accepted_t_bhtt"]
        assert Decimal(e["claimed"]["t_bhtt"]) == row["claimed_t_bhtt"]
        assert Decimal(e["rejected_amount"]) == row["rejected_amount"]
        assert e["versions"]["pack"] == row["pack"]
        if e["outcome"] == "accepted":
            assert e["thong_diep"].startswith("Hồ sơ được chấp nhận thanh toán")
        else:  # a cut or a review is said, with the amounts
            assert not e["thong_diep"].startswith("Hồ sơ được chấp nhận thanh toán")
            assert e["rejected_amount"] in e["thong_diep"]


def test_every_reason_of_the_store_is_in_the_receipt(
    generated_day: GeneratedDay, receipts: list[dict[str, Any]]
) -> None:
    reasons = generated_day.sql(
        "SELECT file_id, hoso_idx, code, stt, item_code FROM decision_reasons"
    )
    want = Counter(reasons.rows())
    got = Counter(
        (e["file_id"], e["stt"] - 1, r["code"], r["stt"], r["item_code"])
        for e in _entries(receipts)
        if e["trang_thai"] != "rejected"
        for r in e["reasons"]
    )
    assert got == want
    assert sum(want.values()) > 0


def test_reasons_name_the_line_and_the_values(receipts: list[dict[str, Any]]) -> None:
    lines = 0
    for e in _entries(receipts):
        for r in e["reasons"]:
            assert "{" not in r["message"], r
            assert r["table"], r
            if r["level"] == "line" and r["table"] in ("XML2", "XML3"):
                lines += 1
                assert r["stt"] is not None, r
                assert r["item_code"], r
            if r["code"] not in ("LINE_OF_REJECTED_CLAIM",):
                assert isinstance(r["values"], dict), r
    assert lines > 0


def test_claims_refused_at_validation_are_rejected_with_their_reasons(
    receipts: list[dict[str, Any]],
) -> None:
    refused = [e for e in _entries(receipts) if e["trang_thai"] == "rejected"]
    assert refused
    for e in refused:
        assert e["outcome"] == "rejected"
        assert e["ma_ket_qua"] in (201, 202)
        assert set(e["accepted"]) == ZERO
        assert set(e["accepted"].values()) == {"0.00"}
        codes = {r["code"] for r in e["ly_do"]} - {"LINE_OF_REJECTED_CLAIM"}
        assert codes <= {r["code"] for r in e["reasons"]}
        assert e["thong_diep"].startswith("Hồ sơ bị từ chối tiếp nhận")


def test_a_file_tallies_its_decisions(receipts: list[dict[str, Any]]) -> None:
    for receipt in receipts:
        tally = receipt["ket_qua_giam_dinh"]
        entries = receipt["claims"]
        for outcome in ("accepted", "partially_accepted", "pending_review", "rejected"):
            assert tally[outcome] == sum(e["outcome"] == outcome for e in entries)
        accepted = sum(Decimal(e["accepted"]["t_bhtt"]) for e in entries)
        assert Decimal(tally["accepted_t_bhtt"]) == accepted


def test_personal_values_are_masked_in_reasons(tmp_path: Path) -> None:
    """A reason comparing a personal field shows its first character only."""
    from claims.intake import read_submission
    from claims.intake.submission import Submission
    from claims.validate.codes import load_code_lists

    path = tmp_path / "one.xml"
    path.write_bytes(wrapper([hoso(with_key(example_claim(), "P1"))]))
    sub = read_submission(path, max_bytes=1 << 30)
    assert isinstance(sub, Submission)
    result = validate([sub], load_code_lists())
    reason = {
        "code": "X", "bhxh_code": None, "level": "claim", "table": "XML1", "stt": None,
        "item_code": None, "field": "HO_TEN", "message": "m",
        "values": {"HO_TEN": "Nguyễn Văn An", "t_bhtt": "10.00"},
    }  # fmt: skip
    decided = {
        0: {
            "outcome": "partially_accepted",
            "claimed": dict.fromkeys(ZERO, "10.00"),
            "accepted": dict.fromkeys(ZERO, "4.00"),
            "rejected_amount": "6.00",
            "reasons": [reason],
            "versions": {"pack": None, "catalogs": {}},
        }
    }
    receipt = submission_receipt(
        sub, result.claims, result.quarantine, "r", None, decided
    )
    (entry,) = receipt["claims"]
    assert entry["reasons"][0]["values"] == {"HO_TEN": "N***", "t_bhtt": "10.00"}
    assert "Nguyễn" not in json.dumps(receipt, ensure_ascii=False)
    assert entry["thong_diep"].startswith("Hồ sơ được chấp nhận một phần")
    assert "6.00" in entry["thong_diep"]
    assert receipt["ket_qua_giam_dinh"]["partially_accepted"] == 1
    with pytest.raises(ValueError, match="no decision"):
        submission_receipt(sub, result.claims, result.quarantine, "r", None, {})
    assert pl.DataFrame(receipt["claims"]).height == 1
