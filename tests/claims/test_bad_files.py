"""Files that fail as a whole: the corpus in ``tests/fixtures/bad`` (issue item 6).

Each file is read alone (``read_submission`` gives a ``FileFailure`` with the expected
reason and message), then all of them go through one run beside a good file: the run
goes on, the good claim is stored, each bad file lands in ``failed/`` with a sidecar that
names its code in Vietnamese, and no personal data leaks into any sidecar or receipt.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from claims.config import Settings
from claims.errors import ReasonCode
from claims.intake import FileFailure, Submission, read_submission
from claims.pipeline.daily import RunResult, run_inbox
from claims.xml130 import PARSED_TABLES
from tests.factories import example_claim
from tests.fixtures import make_fixtures

FIXTURES = Path(__file__).parents[1] / "fixtures"
BAD = FIXTURES / "bad"
GOOD = FIXTURES / "good" / "one-claim.xml"
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load(
    (BAD / "expected.yaml").read_text(encoding="utf-8")
)
CASES = sorted(EXPECTED)
RUN_DATE = "2025-10-06"
VIETNAMESE = re.compile(
    "[ăâđêôơưàáạảãằắặẳẵầấậẩẫèéẹẻẽềếệểễìíịỉĩòóọỏõồốộổỗờớợởỡùúụủũừứựửữỳýỵỷỹ]",
    re.IGNORECASE,
)
TRACEBACK = ("Traceback", 'File "')


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pii_values() -> list[str]:
    """Every personal value of the example claim (fields declared ``pii``)."""
    xml1 = example_claim()["XML1"][0]
    fields = [f.element for f in PARSED_TABLES["XML1"].fields if f.pii]
    values = [xml1[f] for f in fields if xml1.get(f)]
    assert "Tô Thị Vân" in values  # the example's HO_TEN: the scan is not vacuous
    return [v for v in values if v is not None]


def leaks(text: str) -> list[str]:
    return [v for v in pii_values() if v in text]


# --------------------------------------------------------------- the corpus itself


def test_corpus_matches_its_generator() -> None:
    built = make_fixtures.build()
    stale = [p.name for p, data in built.items() if p.read_bytes() != data]
    assert not stale, "run python tests/fixtures/make_fixtures.py and commit"


def test_every_bad_file_has_an_expectation() -> None:
    files = {p.name for p in BAD.glob("*.xml")}
    assert files == set(EXPECTED)
    for name, case in EXPECTED.items():
        assert case["code"] in ReasonCode.__members__, name
        assert (BAD / name).stat().st_size <= 20_000, name


# ------------------------------------------------------------ one file at a time


@pytest.mark.parametrize("name", CASES)
def test_read_submission_fails_whole(name: str) -> None:
    path = BAD / name
    result = read_submission(path, max_bytes=2**31)
    assert isinstance(result, FileFailure), f"{name} was read as a submission"
    expected = EXPECTED[name]
    assert result.reason == ReasonCode(expected["code"]), result.message
    for phrase in expected["message_contains"]:
        assert phrase in result.message
    assert VIETNAMESE.search(result.message), result.message
    assert result.name == name
    assert result.size == path.stat().st_size
    assert result.file_id == sha256(path)


VALID_VARIANTS = {
    "crlf_after_root": lambda data: data + b"\r\n\r\n",
    "comment_after_root": lambda data: data + b"\n<!-- xuat tu HIS, 2025-10-06 -->\n",
    "pi_after_root": lambda data: data + b'<?his-export done="1"?>',
    "utf8_bom": lambda data: b"\xef\xbb\xbf" + data,
}


@pytest.mark.parametrize("variant", sorted(VALID_VARIANTS))
def test_well_formed_variants_are_not_refused(variant: str, tmp_path: Path) -> None:
    # the checks that refuse bad files must not refuse these legal XML spellings
    path = tmp_path / f"{variant}.xml"
    path.write_bytes(VALID_VARIANTS[variant](GOOD.read_bytes()))
    result = read_submission(path, max_bytes=2**31)
    assert isinstance(result, Submission), getattr(result, "message", None)
    assert result.meta.hoso_count == 1
    assert result.hoso_errors.height == 0


def test_too_large_file_fails_whole(tmp_path: Path) -> None:
    path = tmp_path / "big.xml"
    shutil.copy(GOOD, path)
    size = path.stat().st_size
    result = read_submission(path, max_bytes=size - 1)
    assert isinstance(result, FileFailure)
    assert result.reason is ReasonCode.FILE_TOO_LARGE
    assert str(size - 1) in result.message
    assert VIETNAMESE.search(result.message)
    assert isinstance(read_submission(path, max_bytes=size), Submission)


def test_too_large_failure_keeps_the_file_sha256(tmp_path: Path) -> None:
    path = tmp_path / "big.xml"
    shutil.copy(GOOD, path)
    result = read_submission(path, max_bytes=100)
    assert isinstance(result, FileFailure)
    # file_id is "the input's sha256" everywhere; sha256(b"") would make every
    # too-large file, and the store's memory of it, collide with the empty file
    assert result.file_id == sha256(path)


def test_too_large_file_in_a_run(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(GOOD, inbox / "big.xml")
    settings = Settings(data_dir=tmp_path / "data", max_file_bytes=1000)
    result = run_inbox(inbox, settings=settings, run_date=RUN_DATE)
    assert result.files.row(0, named=True)["reason"] == "FILE_TOO_LARGE"
    sidecar = settings.failed_dir / "big.xml.error.json"
    body = json.loads(sidecar.read_text(encoding="utf-8"))
    assert body["code"] == "FILE_TOO_LARGE"
    assert body["ma_ket_qua"] == 201
    assert VIETNAMESE.search(body["thong_diep"])
    assert not (inbox / "big.xml").exists()


def test_empty_file_fails_after_a_too_large_one(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", max_file_bytes=1000)
    first = tmp_path / "day1"
    first.mkdir()
    shutil.copy(GOOD, first / "big.xml")
    run_inbox(first, settings=settings, run_date=RUN_DATE)
    second = tmp_path / "day2"
    second.mkdir()
    (second / "empty.xml").write_bytes(b"")
    result = run_inbox(second, settings=settings, run_date="2025-10-07")
    row = result.files.row(0, named=True)
    assert (row["status"], row["reason"]) == ("failed", "FILE_EMPTY")
    assert (settings.failed_dir / "empty.xml.error.json").exists()


def test_same_file_twice_in_one_inbox(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(GOOD, inbox / "a.xml")
    shutil.copy(GOOD, inbox / "a-resent.xml")
    settings = Settings(data_dir=tmp_path / "data")
    run_inbox(inbox, settings=settings, run_date=RUN_DATE)  # must not raise
    with duckdb.connect(str(settings.store_path), read_only=True) as con:
        stored = con.execute("SELECT count(*) FROM claims").fetchone()
    assert stored == (1,)
    assert not list(inbox.iterdir())


# ------------------------------------------------- all of them in one run, mixed


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, RunResult]:
    root = tmp_path_factory.mktemp("mixed")
    inbox = root / "inbox"
    inbox.mkdir()
    for name in CASES:
        shutil.copy(BAD / name, inbox / name)
    shutil.copy(GOOD, inbox / GOOD.name)
    settings = Settings(data_dir=root / "data")
    return settings, run_inbox(inbox, settings=settings, run_date=RUN_DATE)


def _store_rows(
    settings: Settings, query: str, *params: object
) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(settings.store_path), read_only=True) as con:
        return con.execute(query, list(params)).fetchall()


def test_run_goes_on_and_stores_the_good_claim(
    mixed_run: tuple[Settings, RunResult],
) -> None:
    settings, result = mixed_run
    good = sha256(GOOD)
    claim = example_claim()
    ma_lk = claim["XML1"][0]["MA_LK"]
    rows = _store_rows(settings, "SELECT ma_lk FROM claims WHERE file_id = ?", good)
    assert rows == [(ma_lk,)]
    for table in ("XML2", "XML3", "XML4"):
        query = f"SELECT count(*) FROM {table.lower()} WHERE file_id = ?"
        assert _store_rows(settings, query, good) == [(len(claim[table]),)], table
    files = {r["file"]: r for r in result.files.iter_rows(named=True)}
    assert files[GOOD.name]["status"] == "stored"
    assert (settings.processed_dir / RUN_DATE / GOOD.name).exists()


@pytest.mark.parametrize("name", CASES)
def test_run_fails_the_bad_file(
    name: str, mixed_run: tuple[Settings, RunResult]
) -> None:
    settings, result = mixed_run
    expected = EXPECTED[name]
    files = {r["file"]: r for r in result.files.iter_rows(named=True)}
    assert files[name]["status"] == "failed"
    assert files[name]["reason"] == expected["code"]
    assert (settings.failed_dir / name).exists()
    assert not (settings.processed_dir / RUN_DATE / name).exists()
    text = (settings.failed_dir / f"{name}.error.json").read_text(encoding="utf-8")
    body = json.loads(text)
    assert body["code"] == expected["code"]
    assert body["ma_ket_qua"] == expected["ma_ket_qua"]
    assert body["file"] == name
    assert body["claims"] == []
    for phrase in expected["message_contains"]:
        assert phrase in body["thong_diep"]
    assert VIETNAMESE.search(body["thong_diep"])
    assert not [t for t in TRACEBACK if t in text]


@pytest.mark.parametrize("name", CASES)
def test_run_stores_nothing_of_the_bad_file(
    name: str, mixed_run: tuple[Settings, RunResult]
) -> None:
    settings, _ = mixed_run
    file_id = sha256(BAD / name)
    for table in ("claims", "xml2", "xml3", "xml4", "xml5", "raw_docs", "quarantine"):
        query = f"SELECT count(*) FROM {table} WHERE file_id = ?"
        assert _store_rows(settings, query, file_id) == [(0,)], table
    status = _store_rows(
        settings, "SELECT status FROM submissions WHERE file_id = ?", file_id
    )
    assert status == [("failed",)]


def test_no_personal_data_in_sidecars_receipts_or_store(
    mixed_run: tuple[Settings, RunResult],
) -> None:
    settings, result = mixed_run
    assert result.run_dir is not None
    texts = {
        p: p.read_text(encoding="utf-8") for p in settings.failed_dir.glob("*.json")
    }
    texts |= {p: p.read_text(encoding="utf-8") for p in result.run_dir.rglob("*.json")}
    assert len(texts) >= len(CASES) + 1
    found = {str(p): leaks(t) for p, t in texts.items() if leaks(t)}
    assert not found
    messages = _store_rows(
        settings,
        "SELECT coalesce(message, '') || ' ' || coalesce(receipt, '') FROM submissions",
    )
    assert not [m for (m,) in messages if leaks(m)]
