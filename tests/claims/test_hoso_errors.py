"""One bad claim (HOSO) in a readable file: the corpus in ``tests/fixtures/hoso``.

Each file holds the example claim and a second one; the expectations (which claim is
rejected, with which codes) are in ``tests/fixtures/hoso/expected.yaml``. Each file goes
through its own run: only the bad claim is rejected, the other is stored, nothing is
lost, and the receipt names the rejected claim's code with a Vietnamese message.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
import yaml

from claims.config import Settings
from claims.intake import Submission, read_submission
from claims.pipeline.daily import RunResult, run_inbox
from claims.xml130 import PARSED_TABLES
from tests.factories import example_claim
from tests.fixtures import make_fixtures

FIXTURES = Path(__file__).parents[1] / "fixtures" / "hoso"
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load(
    (FIXTURES / "expected.yaml").read_text(encoding="utf-8")
)
CASES = sorted(EXPECTED)
RUN_DATE = "2025-10-06"
LINE_TABLES = ("XML2", "XML3", "XML4", "XML5")
VIETNAMESE = re.compile(
    "[ăâđêôơưàáạảãằắặẳẵầấậẩẫèéẹẻẽềếệểễìíịỉĩòóọỏõồốộổỗờớợởỡùúụủũừứựửữỳýỵỷỹ]",
    re.IGNORECASE,
)
PII_COLUMNS = {
    f.column for spec in PARSED_TABLES.values() for f in spec.fields if f.pii
}


def pii_values() -> list[str]:
    """Personal values of the example claim, and the fixtures' altered ones."""
    xml1 = example_claim()["XML1"][0]
    values = [xml1[f.element] for f in PARSED_TABLES["XML1"].fields if f.pii]
    found = [v for v in values if v]
    assert "Tô Thị Vân" in found  # the example's HO_TEN: the scan is not vacuous
    return [*found, make_fixtures.BAD_CARD.decode(), "0011851000201234"]


class Ran:
    """One fixture file through ``run_inbox`` in its own data folder."""

    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        self.path = FIXTURES / name
        self.file_id = hashlib.sha256(self.path.read_bytes()).hexdigest()
        inbox = root / "inbox"
        inbox.mkdir(parents=True)
        shutil.copy(self.path, inbox / name)
        self.settings = Settings(data_dir=root / "data")
        self.result: RunResult = run_inbox(
            inbox, settings=self.settings, run_date=RUN_DATE
        )
        assert self.result.run_dir is not None
        receipt = self.result.run_dir / "receipts" / f"{name}.json"
        self.receipt_text = receipt.read_text(encoding="utf-8")
        self.receipt: dict[str, Any] = json.loads(self.receipt_text)

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.settings.store_path), read_only=True) as con:
            return con.execute(query, [self.file_id]).fetchall()

    def frame(self, query: str) -> pl.DataFrame:
        with duckdb.connect(str(self.settings.store_path), read_only=True) as con:
            frame: pl.DataFrame = con.sql(query, params=[self.file_id]).pl()
        return frame


@pytest.fixture(scope="module", params=CASES)
def ran(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Ran:
    name: str = request.param
    return Ran(name, tmp_path_factory.mktemp(name.removesuffix(".xml")))


def _expected(ran: Ran) -> list[dict[str, Any]]:
    claims: list[dict[str, Any]] = EXPECTED[ran.name]["claims"]
    return claims


# ---------------------------------------------------------------- the corpus itself


def test_every_hoso_file_has_an_expectation() -> None:
    assert {p.name for p in FIXTURES.glob("*.xml")} == set(EXPECTED)
    for name in EXPECTED:
        assert (FIXTURES / name).stat().st_size <= 24_000, name


@pytest.mark.parametrize("name", CASES)
def test_wrapper_reads(name: str) -> None:
    result = read_submission(FIXTURES / name, max_bytes=2**31)
    assert isinstance(result, Submission), getattr(result, "message", None)
    assert result.meta.hoso_count == len(EXPECTED[name]["claims"])


# -------------------------------------------------------------------- per claim


def test_only_the_bad_claim_is_rejected(ran: Ran) -> None:
    claims = ran.result.claims.filter(pl.col("file_id") == ran.file_id).sort("hoso_idx")
    expected = _expected(ran)
    assert claims["hoso_idx"].to_list() == list(range(len(expected)))
    for row, want in zip(claims.iter_rows(named=True), expected, strict=True):
        where = f"{ran.name} HOSO {row['hoso_idx']}"
        assert row["status"] == want["status"], where
        assert set(row["claim_reasons"] or []) == set(want.get("codes", [])), where
        if "ma_lk" in want:
            assert row["ma_lk"] == want["ma_lk"], where


def test_the_good_claims_are_stored(ran: Ran) -> None:
    accepted = sorted(c["ma_lk"] for c in _expected(ran) if c["status"] == "accepted")
    stored = ran.rows("SELECT ma_lk FROM claims WHERE file_id = ? ORDER BY ma_lk")
    assert [r[0] for r in stored] == accepted


def _tables_per_claim(path: Path) -> list[set[str]]:
    """LOAIHOSO values of each HOSO of a fixture file, in file order."""
    data = path.read_text(encoding="utf-8")
    return [
        set(re.findall(r"<LOAIHOSO>(\w+)</LOAIHOSO>", body))
        for body in re.findall(r"<HOSO>(.*?)</HOSO>", data, flags=re.DOTALL)
    ]


def test_the_good_claims_keep_their_lines(ran: Ran) -> None:
    example = example_claim()
    sent = _tables_per_claim(ran.path)
    for table in ("XML2", "XML3", "XML4"):
        query = (
            f"SELECT ma_lk, count(*) FROM {table.lower()} WHERE file_id = ? GROUP BY 1"
        )
        per_claim = dict(ran.rows(query))
        expected = {
            want["ma_lk"]: len(example[table])
            for want, tables in zip(_expected(ran), sent, strict=True)
            if want["status"] == "accepted" and table in tables
        }
        assert per_claim == expected, table


def test_nothing_is_lost(ran: Ran) -> None:
    counts = ran.result.counts
    assert sorted(counts["table"]) == sorted(PARSED_TABLES)
    for row in counts.iter_rows(named=True):
        assert row["rows_in"] == row["stored"] + row["quarantined"], row
        table = row["table"].lower() if row["table"] != "XML1" else "claims"
        stored = ran.rows(f"SELECT count(*) FROM {table} WHERE file_id = ?")
        assert stored == [(row["stored"],)], row["table"]
        quarantined = ran.rows(
            "SELECT count(*) FROM (SELECT DISTINCT hoso_idx, line_no FROM quarantine "
            f"WHERE file_id = ? AND \"table\" = '{row['table']}' "
            "AND line_no IS NOT NULL)"
        )
        assert quarantined == [(row["quarantined"],)], row["table"]


def test_receipt_lists_each_claim_with_its_code(ran: Ran) -> None:
    receipt = ran.receipt
    expected = _expected(ran)
    entries = receipt["claims"]
    assert [e["stt"] for e in entries] == list(range(1, len(expected) + 1))
    rejected = sum(c["status"] == "rejected" for c in expected)
    assert receipt["so_ho_so_tu_choi"] == rejected
    assert receipt["so_ho_so_chap_nhan"] == len(expected) - rejected
    for entry, want in zip(entries, expected, strict=True):
        assert entry["trang_thai"] == want["status"], entry
        assert entry["ma_ket_qua"] == want["ma_ket_qua"], entry
        if want["status"] == "accepted":
            assert entry["ly_do"] == [], entry
            continue
        own = [r for r in entry["ly_do"] if r["code"] in want["codes"]]
        assert {r["code"] for r in own} == set(want["codes"]), entry["ly_do"]
        assert want["table"] in {r["table"] for r in own}
        for reason in own:
            assert VIETNAMESE.search(reason["message"]), reason


def test_receipt_warnings(ran: Ran) -> None:
    warnings = ran.receipt["canh_bao"]
    assert [w["code"] for w in warnings] == EXPECTED[ran.name]["warnings"]
    for warning in warnings:
        assert VIETNAMESE.search(warning["thong_diep"]), warning


def test_no_personal_data_in_receipts_or_messages(ran: Ran) -> None:
    values = pii_values()
    assert not [v for v in values if v in ran.receipt_text]
    messages = ran.rows("SELECT message FROM quarantine WHERE file_id = ?")
    assert not [(m, v) for (m,) in messages for v in values if m and v in m]


def test_personal_raw_values_are_masked(ran: Ran) -> None:
    quarantine = ran.frame(
        'SELECT "field", raw_value FROM quarantine WHERE file_id = ? '
        "AND raw_value IS NOT NULL"
    )
    personal = quarantine.filter(pl.col("field").is_in(sorted(PII_COLUMNS)))
    values = [*pii_values(), make_fixtures.LONG_NAME.decode()]
    for field, raw in personal.iter_rows():
        assert raw not in values, field
        assert not [v for v in values if v in raw], field
        assert "***" in raw, field
    if ran.name == "pii_fields_invalid.xml":  # the personal fields with errors
        assert set(personal["field"]) == {"ho_ten", "so_cccd", "ma_the_bhyt"}
