"""Validation: each check on small literal claims, and nothing lost."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from claims.errors import ReasonCode as R
from claims.intake import Submission, read_submission
from claims.validate.codes import load_code_lists
from claims.validate.tables import Validated, validate
from tests.factories import Claim, example_claim, hoso, with_key, wrapper

CODES = load_code_lists()


def _check(tmp_path: Path, *claims: Claim, sender: str = "01030") -> Validated:
    path = tmp_path / "sub.xml"
    path.write_bytes(wrapper([hoso(c) for c in claims], sender=sender))
    sub = read_submission(path, max_bytes=1 << 30)
    assert isinstance(sub, Submission)
    return validate([sub], CODES)


def _reasons(
    result: Validated, table: str | None = None
) -> set[tuple[str, str | None, str]]:
    q = (
        result.quarantine
        if table is None
        else result.quarantine.filter(pl.col("table") == table)
    )
    return {(r["table"], r["field"], r["reason_code"]) for r in q.to_dicts()}


def test_example_claim_is_clean(tmp_path: Path) -> None:
    result = _check(tmp_path, example_claim())
    assert result.quarantine.height == 0
    assert result.claims["status"].to_list() == ["accepted"]
    xml2 = result.tables["XML2"]
    assert xml2.schema["thanh_tien_bv"] == pl.Decimal(38, 2)
    assert xml2.schema["so_luong"] == pl.Decimal(38, 3)
    assert str(xml2["thanh_tien_bv"].sum()) == "80000.00"
    assert result.tables["XML1"]["ngay_vao"][0].isoformat() == "2025-10-06T08:15:00"


@pytest.mark.parametrize(
    ("table", "element", "value", "reason"),
    [
        ("XML1", "MA_BENH_CHINH", None, R.REQUIRED_MISSING),
        ("XML1", "NGAY_VAO", "202513061200", R.BAD_DATETIME),
        ("XML1", "NGAY_VAO", "2025100608", R.BAD_DATETIME),
        ("XML1", "GIOI_TINH", "4", R.CODE_NOT_IN_LIST),
        ("XML1", "MA_LOAI_KCB", "99", R.CODE_NOT_IN_LIST),
        ("XML1", "T_BHTT", "12.345", R.BAD_MONEY),
        ("XML1", "T_BHTT", "-5.00", R.BAD_MONEY),
        ("XML1", "NAM_QT", "20x5", R.BAD_INTEGER),
        ("XML1", "MA_CSKCB", "010300", R.TOO_LONG),
        ("XML1", "MA_THE_BHYT", "GD40101234567", R.CARD_INVALID),
        ("XML1", "GT_THE_DEN", "20301231;20311231", R.CARD_DATES_MISALIGNED),
        ("XML1", "NGAY_RA", "202510060700", R.DATE_ORDER),
        ("XML1", "MA_CSKCB", "01031", R.HOSO_FACILITY_MISMATCH),
    ],
)
def test_xml1_problem_rejects_the_claim(
    tmp_path: Path, table: str, element: str, value: str | None, reason: R
) -> None:
    claim = example_claim()
    claim[table][0][element] = value
    result = _check(tmp_path, claim)
    field = "ma_the_bhyt" if reason.startswith("CARD_") else element.lower()
    assert (table, field, reason.value) in _reasons(result)
    assert result.claims["status"].to_list() == ["rejected"]
    assert result.tables["XML1"].height == 0
    assert (
        result.tables["XML2"].height == 0
    )  # lines of a rejected claim are quarantined
    lines = result.quarantine.filter(pl.col("table") == "XML2")
    assert lines["line_no"].n_unique() == 2
    if (
        element != "NGAY_RA"
    ):  # an earlier discharge also puts the lines outside the stay
        assert set(lines["reason_code"]) == {R.LINE_OF_REJECTED_CLAIM.value}


@pytest.mark.parametrize(
    ("table", "element", "value", "reason"),
    [
        ("XML2", "THANH_TIEN_BV", "10000.001", R.BAD_MONEY),
        ("XML2", "SO_LUONG", "1,5", R.BAD_QUANTITY),
        ("XML2", "MA_NHOM", "20", R.CODE_NOT_IN_LIST),
        ("XML2", "TYLE_TT_BH", "101", R.BAD_PERCENT),
        ("XML2", "MA_LK", "OTHER", R.LINE_ORPHAN),
        ("XML2", "NGAY_YL", "202510070900", R.LINE_DATE_OUTSIDE_STAY),
        ("XML2", "NGAY_YL", "202510060700", R.LINE_DATE_OUTSIDE_STAY),
        ("XML3", "MA_NHOM", None, R.REQUIRED_MISSING),
        ("XML3", "PP_VO_CAM", "9", R.CODE_NOT_IN_LIST),
        ("XML3", "NGAY_KQ", "20251006", R.BAD_DATETIME),
    ],
)
def test_line_problem_quarantines_only_that_line(
    tmp_path: Path, table: str, element: str, value: str | None, reason: R
) -> None:
    claim = example_claim()
    claim[table][0][element] = value
    result = _check(tmp_path, claim)
    assert _reasons(result) == {(table, element.lower(), reason.value)}
    assert result.claims["status"].to_list() == ["accepted_with_errors"]
    assert result.tables[table].height == len(claim[table]) - 1
    assert result.tables["XML1"].height == 1


def test_duplicate_stt_keeps_the_first_line(tmp_path: Path) -> None:
    claim = example_claim()
    claim["XML2"][1]["STT"] = "1"
    result = _check(tmp_path, claim)
    assert _reasons(result) == {("XML2", "stt", R.LINE_DUPLICATE_KEY.value)}
    assert result.tables["XML2"]["ma_thuoc"].to_list() == ["40.153"]


def test_duplicate_ma_lk_in_one_file_rejects_the_later_claim(tmp_path: Path) -> None:
    claim = example_claim()
    result = _check(tmp_path, claim, claim)
    assert result.claims["status"].to_list() == ["accepted", "rejected"]
    assert ("XML1", "ma_lk", R.CLAIM_DUPLICATE_KEY.value) in _reasons(result)


@pytest.mark.parametrize(
    ("code", "admission", "valid"),
    [
        ("1.13", "202510060815", True),  # new list (2025 →)
        ("1.13", "202410060815", False),
        ("1.8", "202410060815", True),  # old list (→ 2024)
        ("1.8", "202510060815", False),
        ("3.5", "202412310815", True),
        ("3.5", "202501010815", False),
    ],
)
def test_ma_doituong_kcb_list_is_chosen_by_admission_date(
    tmp_path: Path, code: str, admission: str, valid: bool
) -> None:
    claim = example_claim()
    day = admission[:8]
    claim["XML1"][0].update(
        MA_DOITUONG_KCB=code,
        NGAY_VAO=admission,
        NGAY_RA=day + "2300",
        NGAY_TTOAN=day + "2300",
    )
    for table in ("XML2", "XML3"):
        for row in claim[table]:
            row["NGAY_YL"] = day + "0900"
    result = _check(tmp_path, claim)
    bad = ("XML1", "ma_doituong_kcb", R.CODE_NOT_IN_LIST.value) in _reasons(result)
    assert bad is not valid


def test_card_list_with_aligned_dates_is_accepted(tmp_path: Path) -> None:
    claim = example_claim()
    claim["XML1"][0].update(
        MA_THE_BHYT="GD4010123456789;GD4010123456789",
        GT_THE_TU="20200101;20251001",
        GT_THE_DEN="20250930;20301231",
    )
    assert _check(tmp_path, claim).quarantine.height == 0


def test_pii_is_masked_in_quarantine(tmp_path: Path) -> None:
    claim = example_claim()
    claim["XML1"][0]["HO_TEN"] = "Nguyễn Văn " + "A" * 300  # too long
    result = _check(tmp_path, claim)
    values = result.quarantine.filter(pl.col("field") == "ho_ten")[
        "raw_value"
    ].to_list()
    assert values == ["N***"]


def test_nothing_lost_with_several_claims(tmp_path: Path) -> None:
    good = with_key(example_claim(), "G1")
    bad = with_key(example_claim(), "B1")
    bad["XML1"][0]["NGAY_VAO"] = None
    half = with_key(example_claim(), "H1")
    half["XML3"][1]["DON_GIA_BH"] = "abc"
    result = _check(tmp_path, good, bad, half)
    counts = {r["table"]: r for r in result.counts.to_dicts()}
    assert counts["XML1"] == {
        "table": "XML1",
        "rows_in": 3,
        "stored": 2,
        "quarantined": 1,
    }
    assert counts["XML3"] == {
        "table": "XML3",
        "rows_in": 6,
        "stored": 3,
        "quarantined": 3,
    }
    assert result.claims["status"].to_list() == [
        "accepted",
        "rejected",
        "accepted_with_errors",
    ]


def test_claim_without_xml1_is_named_by_its_lines(tmp_path: Path) -> None:
    claim = with_key(example_claim(), "NOX1")
    del claim["XML1"]
    result = _check(tmp_path, example_claim(), claim)
    rejected = result.claims.filter(pl.col("status") == "rejected")
    assert rejected["ma_lk"].to_list() == ["NOX1"]
    assert "HOSO_NO_XML1" in rejected["claim_reasons"][0].to_list()
    lines = result.quarantine.filter(
        pl.col("ma_lk") == "NOX1", pl.col("table") == "XML2"
    )
    assert set(lines["reason_code"]) == {R.LINE_OF_REJECTED_CLAIM.value}


@pytest.mark.parametrize(
    ("element", "value", "kept_bh", "kept_bhtt"),
    [
        ("NGAY_YL", "202510070900", "claimed", "claimed"),  # amounts parse: kept
        ("THANH_TIEN_BH", "12.345", None, "claimed"),  # the bad amount: null
        ("T_BHTT", "abc", "claimed", None),
    ],
)
def test_a_quarantined_line_keeps_the_amounts_that_parse(
    tmp_path: Path,
    element: str,
    value: str,
    kept_bh: str | None,
    kept_bhtt: str | None,
) -> None:
    """Settlement counts a quarantined drug line at what it claimed, where that parses."""
    claim = example_claim()
    claim["XML2"][0][element] = value
    line = claim["XML2"][0]
    result = _check(tmp_path, claim)
    rows = result.quarantine.filter(pl.col("table") == "XML2")
    assert rows.height >= 1
    expected = {
        "claimed_bh": line["THANH_TIEN_BH"] if kept_bh else None,
        "claimed_bhtt": line["T_BHTT"] if kept_bhtt else None,
    }
    for column, text in expected.items():
        got = {None if v is None else str(v) for v in rows[column].to_list()}
        want = None if text is None else str(Decimal(text).quantize(Decimal("0.01")))
        assert got == {want}, column
    others = result.quarantine.filter(pl.col("table") != "XML2")
    assert others["claimed_bhtt"].null_count() == others.height
