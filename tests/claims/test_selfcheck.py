"""``giamdinh check`` goes through the daily run's path: on the same files it decides
every claim as the daily run did (a claim with a repeated STT, whose line validation
quarantined, is partially accepted by both, not rejected for its totals by one), and
prints one object of the same shape for every claim the files hold, refused ones too."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import polars as pl
import pytest

from claims.pipeline.context import Reference
from claims.pipeline.selfcheck import MONEY_FIELDS, check_files
from tests.conftest import GeneratedDay

Key = tuple[str, str]


@pytest.fixture(scope="module")
def checked(generated_day: GeneratedDay, reference: Reference) -> list[dict[str, Any]]:
    """``check`` of every file of the generated day (what the daily run stored)."""
    rows, readable = check_files(list(generated_day.files), reference)
    assert readable
    return rows


def _stored(day: GeneratedDay) -> dict[Key, dict[str, Any]]:
    decisions = day.sql("SELECT * FROM decisions")
    out = {}
    for row in decisions.iter_rows(named=True):
        out[(row["ma_cskcb"], row["ma_lk"])] = {
            "outcome": row["outcome"],
            "accepted": {f: row[f"accepted_{f}"] for f in MONEY_FIELDS},
            "rejected_amount": row["rejected_amount"],
            "codes": sorted(row["reason_codes"]),
        }
    return out


def _decided(
    rows: list[dict[str, Any]], stored: dict[Key, dict[str, Any]]
) -> dict[Key, dict[str, Any]]:
    """The claims the daily run decided (validation kept them), as check saw them."""
    return {
        (r["ma_cskcb"], r["ma_lk"]): {
            "outcome": r["outcome"],
            "accepted": {f: Decimal(v) for f, v in r["accepted"].items()},
            "rejected_amount": Decimal(r["rejected_amount"]),
            "codes": sorted({reason["code"] for reason in r["reasons"]}),
        }
        for r in rows
        if (r["ma_cskcb"], r["ma_lk"]) in stored
    }


def _refused(
    rows: list[dict[str, Any]], stored: dict[Key, dict[str, Any]]
) -> list[dict[str, Any]]:
    """The claims validation refused (the daily run decided nothing for them)."""
    return [r for r in rows if (r["ma_cskcb"], r["ma_lk"]) not in stored]


def test_check_decides_every_claim_as_the_daily_run(
    generated_day: GeneratedDay, checked: list[dict[str, Any]]
) -> None:
    stored = _stored(generated_day)
    decided = _decided(checked, stored)
    assert len(stored) > 500
    assert set(decided) == set(stored)
    differ = {k: (decided[k], stored[k]) for k in stored if decided[k] != stored[k]}
    assert not differ, f"check and run differ on {len(differ)} claims: {differ}"


def test_check_refuses_the_claims_the_daily_run_rejected(
    generated_day: GeneratedDay, checked: list[dict[str, Any]]
) -> None:
    rejected = generated_day.sql(
        "SELECT ma_lk FROM claim_status WHERE status = 'rejected'"
    )["ma_lk"]
    stored = _stored(generated_day)
    refused = _refused(checked, stored)
    assert rejected.len() > 0
    assert sorted(r["ma_lk"] for r in refused) == sorted(rejected)
    assert len(checked) == len(refused) + len(_decided(checked, stored))
    for r in refused:
        assert r["outcome"] == "rejected"
        assert set(r["accepted"].values()) == {"0.00"}
        assert r["reasons"]


def test_check_prints_every_claim_of_every_file_in_the_same_shape(
    generated_day: GeneratedDay, checked: list[dict[str, Any]]
) -> None:
    held = generated_day.sql("SELECT name, hoso_count FROM submissions")
    positions = sorted((r["file"], r["stt"]) for r in checked)
    assert positions == sorted(
        (name, stt) for name, n in held.rows() for stt in range(1, n + 1)
    )
    keys = set(checked[0])
    assert keys >= {"outcome", "claimed", "accepted", "reasons", "versions", "stt"}
    assert all(set(r) == keys for r in checked)
    for row in _refused(checked, _stored(generated_day)):
        assert row["outcome"] == "rejected", row
        assert set(row["accepted"].values()) == {"0.00"}, row
        assert row["reasons"], row
        claimed = None if row["claimed"] is None else row["claimed"]["t_bhtt"]
        expected = None if claimed is None else claimed
        assert row["rejected_amount"] == expected, row
        for reason in row["reasons"]:
            assert reason["level"] in ("claim", "line"), reason
            assert "{" not in reason["message"], reason


def test_a_claim_with_a_repeated_stt_is_partially_accepted_by_check(
    generated_day: GeneratedDay, checked: list[dict[str, Any]]
) -> None:
    """A repeated STT on a drug or service line cuts that line's money; on a lab result
    (XML4) it cuts nothing. Either way the claim is not rejected for its totals."""
    truth = generated_day.truth.filter(pl.col("kind") == "duplicate_stt")
    decided = _decided(checked, _stored(generated_day))
    money = 0
    for ma_cskcb, ma_lk, table in truth.select("ma_cskcb", "ma_lk", "table").rows():
        claim = decided[(ma_cskcb, ma_lk)]
        assert "TOTAL_MISMATCH" not in claim["codes"], ma_lk
        assert "LINE_DUPLICATE_KEY" in claim["codes"], ma_lk
        assert claim["accepted"]["t_bhtt"] > 0, ma_lk
        if table in ("XML2", "XML3"):
            money += 1
            assert claim["outcome"] == "partially_accepted", ma_lk
            assert claim["rejected_amount"] > 1, ma_lk
        else:
            assert claim["outcome"] == "accepted", ma_lk
    assert money > 0, "the day holds a repeated STT on a drug or service line"
