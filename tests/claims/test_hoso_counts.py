"""Every declared claim accounted for (issue 12): a document cut short, or whose rows
and row elements differ, rejects its claim with a reason instead of losing rows; every
HOSO of a readable file is stored or rejected with a reason; the receipt names as
accepted only a stored claim.

The files are the example claim beside a second claim (``tests/fixtures/make_fixtures``)
whose inner document is altered, then base64-encoded again: the wrapper stays readable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from claims.errors import ReasonCode as R
from claims.intake import (
    FileFailure,
    Submission,
    failure_receipt,
    read_submission,
    submission_receipt,
    wrapper,
)
from claims.validate import Validated, validate
from claims.validate.codes import load_code_lists
from claims.xml130 import PARSED_TABLES
from tests.fixtures import make_fixtures as mf

CODES = load_code_lists()
TABLES = ("XML1", "XML2", "XML3", "XML4")
CUT = {R.HOSO_TRUNCATED.value, R.HOSO_XML_INVALID.value}


def _read(tmp_path: Path, docs: dict[str, bytes], name: str = "f.xml") -> Submission:
    path = tmp_path / name
    path.write_bytes(mf.wrapper([mf.good_claim(), mf.claim_files(docs)]))
    sub = read_submission(path, max_bytes=1 << 30)
    assert isinstance(sub, Submission), sub
    return sub


def _other(table: str, doc: bytes) -> dict[str, bytes]:
    """The second claim's documents with ``table`` replaced by ``doc``."""
    return mf.claim_docs(mf.OTHER_LK) | {table: doc}


def _errors(sub: Submission, hoso: int = 1) -> list[tuple[str, str]]:
    found = sub.hoso_errors.filter(pl.col("hoso_idx") == hoso)
    return [(t, c) for t, c in found.select("table", "reason_code").rows()]


def _rows(sub: Submission, table: str, hoso: int = 1) -> int:
    return sub.tables[table].filter(pl.col("hoso_idx") == hoso).height


def _row_elements(table: str, doc: bytes) -> int:
    return doc.count(f"<{PARSED_TABLES[table].row_element}>".encode())


@pytest.mark.parametrize("table", TABLES)
def test_a_document_cut_at_any_offset_rejects_its_claim_12(
    tmp_path: Path, table: str
) -> None:
    """Cut after its root's start tag, at every 23rd byte and inside the closing tag:
    the claim is rejected (before: up to half the cuts read 0 rows, or the rows before the
    cut, without a word)."""
    full = mf.claim_docs(mf.OTHER_LK)[table]
    root = f"<{PARSED_TABLES[table].root}>".encode()
    start = full.index(root) + len(root)
    offsets = [*range(start, len(full), 23), *range(len(full) - 12, len(full))]
    for n, at in enumerate(offsets):
        sub = _read(tmp_path, _other(table, full[:at]), f"cut{n}.xml")
        errors = _errors(sub)
        assert len(errors) == 1, (at, errors)
        assert errors[0][0] == table, (at, errors)
        assert errors[0][1] in CUT, (at, errors)
        assert _rows(sub, table) == 0, at
        assert _errors(sub, 0) == [], at
        assert _rows(sub, table, 0) == _row_elements(table, full), at


def test_a_cut_document_says_so_and_names_its_closing_tag(tmp_path: Path) -> None:
    full = mf.claim_docs(mf.OTHER_LK)["XML2"]
    sub = _read(tmp_path, _other("XML2", full[: len(full) // 2]))
    message = sub.hoso_errors.filter(pl.col("hoso_idx") == 1)["message"][0]
    assert _errors(sub) == [("XML2", R.HOSO_TRUNCATED.value)]
    assert "</CHITIEU_CHITIET_THUOC>" in message


def test_rows_off_the_row_path_reject_the_claim_12(tmp_path: Path) -> None:
    """Well-formed, but the rows are not under their list element: the reader finds
    none of them, and the claim is rejected rather than stored without its drugs."""
    full = mf.claim_docs(mf.OTHER_LK)["XML2"]
    doc = full.replace(b"<DSACH_CHI_TIET_THUOC>", b"").replace(
        b"</DSACH_CHI_TIET_THUOC>", b""
    )
    sub = _read(tmp_path, _other("XML2", doc))
    assert _errors(sub) == [("XML2", R.HOSO_ROWS_MISPLACED.value)]
    message = sub.hoso_errors.filter(pl.col("hoso_idx") == 1)["message"][0]
    assert "2 phần tử <CHI_TIET_THUOC>" in message
    assert _rows(sub, "XML2") == 0


def test_a_row_element_named_in_a_comment_loses_nothing(tmp_path: Path) -> None:
    """The element count sees the comment; lxml, which sees elements, decides."""
    full = mf.claim_docs(mf.OTHER_LK)["XML2"]
    doc = full.replace(
        b"<DSACH_CHI_TIET_THUOC>",
        b"<DSACH_CHI_TIET_THUOC><!-- <CHI_TIET_THUOC> cu -->",
    )
    sub = _read(tmp_path, _other("XML2", doc))
    assert _errors(sub) == []
    assert _rows(sub, "XML2") == _row_elements("XML2", full) == 2


def test_a_second_root_does_not_shift_the_claims_after_it_12(tmp_path: Path) -> None:
    """The fast reader numbers root elements, not documents: an XML1 with two roots
    used to hand the next claim's XML1 to this one."""
    docs = [mf.claim_docs(lk) for lk in (b"HSA", b"HSB", b"HSC")]
    xml1 = docs[1]["XML1"]
    docs[1]["XML1"] = xml1 + xml1[xml1.index(b"<TONG_HOP>") :]
    path = tmp_path / "f.xml"
    path.write_bytes(mf.wrapper([mf.claim_files(d) for d in docs]))
    sub = read_submission(path, max_bytes=1 << 30)
    assert isinstance(sub, Submission)
    assert _errors(sub) == [("XML1", R.HOSO_XML_INVALID.value)]
    xml1_rows = sub.tables["XML1"].select("hoso_idx", "ma_lk").rows()
    assert xml1_rows == [(0, "HSA"), (2, "HSC")]


@pytest.mark.parametrize(
    ("tail", "errors"),
    [
        (b"\r\n<!-- ket thuc -->\n<?pi x?>  ", []),
        (b"<X>", [("XML1", R.HOSO_XML_INVALID.value)]),
        (b"rac", [("XML1", R.HOSO_XML_INVALID.value)]),
    ],
)
def test_what_may_follow_the_closing_tag(
    tmp_path: Path, tail: bytes, errors: list[tuple[str, str]]
) -> None:
    xml1 = mf.claim_docs(mf.OTHER_LK)["XML1"]
    sub = _read(tmp_path, _other("XML1", xml1 + tail))
    assert _errors(sub) == errors
    assert _rows(sub, "XML1") == (0 if errors else 1)


def test_a_kept_document_cut_short_rejects_its_claim_12(tmp_path: Path) -> None:
    """XML6–15 are read like the other tables: a cut one is refused all the same."""
    doc = (
        mf.DECLARATION + b"<CHI_TIEU_DU_LIEU_GIAY_RA_VIEN><MA_LK>HSEX2</MA_LK>"
        b"<PP_DIEUTRI>Theo d"
    )
    sub = _read(tmp_path, _other("XML7", doc))
    assert _errors(sub) == [("XML7", R.HOSO_TRUNCATED.value)]
    assert sub.raw_docs.filter(pl.col("hoso_idx") == 1).height == 0
    whole = doc + b"\xc3\xb5i</PP_DIEUTRI></CHI_TIEU_DU_LIEU_GIAY_RA_VIEN>"
    sub = _read(tmp_path, _other("XML7", whole), "whole.xml")
    assert _errors(sub) == []
    kept = sub.tables["XML7"].filter(pl.col("hoso_idx") == 1)
    assert kept.select("ma_lk", "pp_dieutri").rows() == [("HSEX2", "Theo dõi")]


def test_an_empty_list_document_is_not_cut(tmp_path: Path) -> None:
    sub = _read(tmp_path, _other("XML4", b"<CHITIEU_CHITIET_DICHVUCANLAMSANG/>"))
    assert _errors(sub) == []
    assert _rows(sub, "XML4") == 0


# ------------------------------------------------------- validation and the receipt


def _lost_xml1(sub: Submission) -> Submission:
    """``sub`` as a reader that lost claim 2's XML1 row without a word would give."""
    tables = dict(sub.tables)
    tables["XML1"] = tables["XML1"].filter(pl.col("hoso_idx") != 1)
    return dataclasses.replace(sub, tables=tables)


def test_a_claim_without_an_xml1_row_is_rejected_not_lost(tmp_path: Path) -> None:
    sub = _lost_xml1(_read(tmp_path, mf.claim_docs(mf.OTHER_LK)))
    assert sub.hoso_errors.height == 0
    result = validate([sub], CODES)
    claims = result.claims.sort("hoso_idx")
    assert claims["status"].to_list() == ["accepted", "rejected"]
    assert claims["stored"].to_list() == [True, False]
    assert claims["claim_reasons"][1].to_list() == [R.HOSO_NO_XML1.value]
    lines = result.quarantine.filter(pl.col("hoso_idx") == 1, pl.col("table") != "XML1")
    assert set(lines["reason_code"]) == {R.LINE_OF_REJECTED_CLAIM.value}
    receipt = submission_receipt(sub, claims, result.quarantine, "run")
    codes = [(c["trang_thai"], c["ma_ket_qua"]) for c in receipt["claims"]]
    assert codes == [("accepted", 200), ("rejected", 201)]


def _validated(tmp_path: Path, docs: dict[str, bytes]) -> tuple[Submission, Validated]:
    sub = _read(tmp_path, docs)
    return sub, validate([sub], CODES)


def test_a_receipt_accepts_only_stored_claims(tmp_path: Path) -> None:
    """Whatever the status column says, a claim whose XML1 row was not stored is not
    receipted accepted."""
    sub, result = _validated(tmp_path, mf.claim_docs(mf.OTHER_LK))
    claims = result.claims.with_columns(
        pl.when(pl.col("hoso_idx") == 1)
        .then(pl.lit(value=False))
        .otherwise("stored")
        .alias("stored")
    )
    receipt = submission_receipt(sub, claims, result.quarantine, "run")
    assert [c["ma_ket_qua"] for c in receipt["claims"]] == [200, 202]
    assert (receipt["so_ho_so_chap_nhan"], receipt["so_ho_so_tu_choi"]) == (1, 1)


@pytest.mark.parametrize("table", TABLES)
def test_a_cut_claim_is_receipted_rejected_and_nothing_is_lost_12(
    tmp_path: Path, table: str
) -> None:
    full = mf.claim_docs(mf.OTHER_LK)[table]
    sub, result = _validated(tmp_path, _other(table, full[: len(full) * 2 // 3]))
    claims = result.claims.sort("hoso_idx")
    assert claims["stored"].to_list() == [True, False]
    receipt = submission_receipt(sub, claims, result.quarantine, "run")
    entries = receipt["claims"]
    assert [e["ma_ket_qua"] for e in entries] == [200, 201]
    assert entries[1]["ly_do"][0]["code"] in CUT
    assert receipt["so_ho_so"] == len(entries) == 2


# ------------------------------------------------------------ HOSO off the listing


def _wrapped(tmp_path: Path, data: bytes) -> Submission | FileFailure:
    path = tmp_path / "w.xml"
    path.write_bytes(data)
    return read_submission(path, max_bytes=1 << 30)


def _two_claims() -> bytes:
    return mf.wrapper([mf.good_claim(), mf.claim_files(mf.claim_docs(mf.OTHER_LK))])


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda d: d.replace(b"THONGTINDONVI>", b"X>").replace(
                b"THONGTINHOSO>", b"THONGTINDONVI>"
            ),
            id="listing-under-another-parent",
        ),
        pytest.param(
            lambda d: d.replace(b"</HOSO><HOSO>", b"<HOSO>", 1).replace(
                b"</HOSO></DANHSACHHOSO>", b"</HOSO></HOSO></DANHSACHHOSO>"
            ),
            id="hoso-inside-hoso",
        ),
    ],
)
def test_a_hoso_off_the_listing_refuses_the_file_12(
    tmp_path: Path, change: Callable[[bytes], bytes]
) -> None:
    """A HOSO the listing does not hold would be declared and never read."""
    result = _wrapped(tmp_path, change(_two_claims()))
    assert isinstance(result, FileFailure), result
    assert result.reason is R.FILE_STRUCTURE_INVALID
    assert "2 thẻ <HOSO>" in result.message
    assert failure_receipt(result, "run")["ma_ket_qua"] == 201


def test_a_hoso_tag_in_a_comment_is_not_a_claim(tmp_path: Path) -> None:
    data = _two_claims().replace(
        b"<DANHSACHHOSO>", b"<DANHSACHHOSO><!-- <HOSO> mau -->", 1
    )
    result = _wrapped(tmp_path, data)
    assert isinstance(result, Submission), result
    assert result.meta.hoso_count == 2


@pytest.mark.parametrize("chunk", [5, 6, 7, 11, 64])
def test_hoso_tags_are_counted_across_chunk_borders(
    tmp_path: Path, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wrapper, "_CHUNK", chunk)
    path = tmp_path / "w.xml"
    path.write_bytes(_two_claims())
    scan = wrapper.scan_submission(path, max_bytes=1 << 30)
    assert scan.hoso_tags == 2
