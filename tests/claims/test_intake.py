"""Intake on hand-made wrappers: every row of every claim arrives as raw text, in order,
with its keys; XML6–15 documents are read as tables too; an unreadable wrapper fails
whole."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import polars as pl
import pytest

from claims.errors import ReasonCode
from claims.intake import FileFailure, Submission, read_submission
from claims.xml130 import PARSED_TABLES
from tests.factories import Claim, example_claim, hoso, with_key, wrapper

MAX = 1 << 30


def _claims() -> list[Claim]:
    """Two claims: the example, and a copy with three drugs and another key."""
    second = with_key(example_claim(), "HSEX2")
    extra = dict(second["XML2"][0]) | {"STT": "3", "MA_THUOC": "40.999"}
    second["XML2"].append(extra)
    return [example_claim(), second]


def _read(path: Path) -> Submission:
    result = read_submission(path, max_bytes=MAX)
    assert isinstance(result, Submission), result
    return result


@pytest.fixture
def written(tmp_path: Path) -> tuple[Path, list[Claim]]:
    claims = _claims()
    path = tmp_path / "01030_20251006.xml"
    path.write_bytes(wrapper([hoso(c) for c in claims], sender="01030"))
    return path, claims


def test_every_row_arrives_as_its_raw_text_with_keys(
    written: tuple[Path, list[Claim]],
) -> None:
    path, claims = written
    sub = _read(path)
    file_id = hashlib.sha256(path.read_bytes()).hexdigest()
    assert sub.meta.file_id == file_id
    assert (sub.meta.sender, sub.meta.declared, sub.meta.hoso_count) == ("01030", 2, 2)
    assert sub.meta.kind == "xml"
    assert set(sub.tables) == set(PARSED_TABLES)
    for table, spec in PARSED_TABLES.items():
        frame = sub.tables[table]
        sent = [(i, row) for i, c in enumerate(claims) for row in c.get(table, [])]
        assert frame.height == len(sent), table
        assert frame.columns[:3] == ["file_id", "hoso_idx", "line_no"]
        assert frame.columns[3:] == list(spec.columns), table
        # values stay text until validation types them
        assert all(d == pl.String for d in frame.select(spec.columns).dtypes), table
        got = frame.sort("hoso_idx", "line_no").iter_rows(named=True)
        for (index, row), read in zip(sent, got, strict=True):
            assert read["file_id"] == file_id
            assert read["hoso_idx"] == index
            assert read == read | {f.column: row[f.element] for f in spec.fields}
    # line numbers run 1..n per claim and table
    lines = sub.tables["XML2"].group_by("hoso_idx").agg(pl.col("line_no").sort())
    assert dict(lines.iter_rows()) == {0: [1, 2], 1: [1, 2, 3]}
    assert sub.tables["XML5"].height == 0  # no claim sent XML5: an empty typed frame
    assert sub.hoso_errors.height == 0
    assert sub.raw_docs.height == 0


def test_xml6_to_xml15_documents_are_read_as_tables(tmp_path: Path) -> None:
    claim = example_claim()
    root = PARSED_TABLES["XML7"].root
    document = (
        f'<?xml version="1.0" encoding="utf-8"?><{root}>'
        f"<MA_LK>{claim['XML1'][0]['MA_LK']}</MA_LK><GHI_CHU>ra viện</GHI_CHU></{root}>"
    )
    claim["XML7"] = []
    payload = base64.b64encode(document.encode())
    path = tmp_path / "a.xml"
    path.write_bytes(wrapper([hoso(claim, payloads={"XML7": payload})]))
    sub = _read(path)
    assert sub.raw_docs.height == 0
    xml7 = sub.tables["XML7"]
    assert xml7.select("hoso_idx", "line_no", "ghi_chu").rows() == [(0, 1, "ra viện")]
    assert xml7["ma_lk"].to_list() == [claim["XML1"][0]["MA_LK"]]
    assert sub.tables["XML1"].height == 1
    assert sub.hoso_errors.height == 0


def test_a_bad_payload_rejects_only_its_claim(tmp_path: Path) -> None:
    good, bad = _claims()
    path = tmp_path / "a.xml"
    path.write_bytes(wrapper([hoso(good), hoso(bad, payloads={"XML3": b"@@@@"})]))
    sub = _read(path)
    errors = sub.hoso_errors.select("hoso_idx", "table").rows()
    assert errors == [(1, "XML3")]
    assert sub.tables["XML1"]["hoso_idx"].to_list() == [0, 1]
    assert set(sub.tables["XML3"]["hoso_idx"]) == {0}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", ReasonCode.FILE_EMPTY),
        (b"not xml at all", ReasonCode.FILE_NOT_XML),
    ],
)
def test_an_unreadable_wrapper_fails_the_whole_file(
    tmp_path: Path, content: bytes, reason: ReasonCode
) -> None:
    path = tmp_path / "a.xml"
    path.write_bytes(content)
    result = read_submission(path, max_bytes=MAX)
    assert isinstance(result, FileFailure)
    assert result.reason == reason
    assert result.name == "a.xml"
    assert result.file_id == hashlib.sha256(content).hexdigest()
