"""A claim without a settlement period (NAM_QT/THANG_QT), or with a month outside 1–12,
is refused at validation, so no claim escapes settlement (issue 13 item 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from claims.errors import ReasonCode as R
from claims.intake import Submission, read_submission
from claims.validate.codes import load_code_lists
from claims.validate.tables import Validated, validate
from tests.factories import example_claim, hoso, wrapper

CODES = load_code_lists()


def _check(tmp_path: Path, element: str, value: str | None) -> Validated:
    claim = example_claim()
    claim["XML1"][0][element] = value
    path = tmp_path / "sub.xml"
    path.write_bytes(wrapper([hoso(claim)], sender="01030"))
    sub = read_submission(path, max_bytes=1 << 30)
    assert isinstance(sub, Submission)
    return validate([sub], CODES)


@pytest.mark.parametrize(
    ("element", "value", "reason"),
    [
        ("NAM_QT", None, R.REQUIRED_MISSING),
        ("THANG_QT", None, R.REQUIRED_MISSING),
        ("THANG_QT", "13", R.BAD_MONTH),
        ("THANG_QT", "0", R.BAD_MONTH),
    ],
)
def test_a_claim_without_a_settlement_period_is_refused(
    tmp_path: Path, element: str, value: str | None, reason: R
) -> None:
    result = _check(tmp_path, element, value)
    found = {
        (r["field"], r["reason_code"])
        for r in result.quarantine.filter(
            result.quarantine["table"] == "XML1"
        ).to_dicts()
    }
    assert (element.lower(), reason.value) in found
    assert result.claims["status"].to_list() == ["rejected"]


@pytest.mark.parametrize("month", ["1", "12"])
def test_months_1_and_12_are_accepted(tmp_path: Path, month: str) -> None:
    result = _check(tmp_path, "THANG_QT", month)
    assert result.claims["status"].to_list() == ["accepted"]
