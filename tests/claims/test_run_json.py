"""A run folder's JSON files are the bytes the standard library's indenting encoder
would write (the store writes them with orjson, for speed)."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claims.store.runs import write_run_dir

_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False, places=2)
    | st.dates()
    | st.datetimes()
)
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None)
@given(value=_VALUES)
def test_json_files_are_the_standard_librarys_bytes(
    tmp_path_factory: pytest.TempPathFactory, value: object
) -> None:
    runs = tmp_path_factory.mktemp("runs")
    folder = write_run_dir(runs, "2026-10-30", "r1", {}, {"receipt.json": value})
    expected = json.dumps(
        value, ensure_ascii=False, indent=2, sort_keys=True, default=str
    )
    assert (folder / "receipt.json").read_bytes() == (expected + "\n").encode()


def test_a_receipt_with_vietnamese_words_dates_and_money(tmp_path: Path) -> None:
    receipt = {
        "thong_bao": "Hồ sơ chờ giám định viên xem xét",
        "amount": Decimal("1250000.50"),
        "day": date(2026, 10, 30),
        "at": datetime(2026, 10, 30, 7, 5, 1),
        "claims": [{"ma_lk": "LK1", "reasons": []}, {}],
    }
    folder = write_run_dir(tmp_path, "2026-10-30", "r1", {}, {"r.json": receipt})
    text = (folder / "r.json").read_text(encoding="utf-8")
    assert '"thong_bao": "Hồ sơ chờ giám định viên xem xét"' in text
    assert '"amount": "1250000.50"' in text
    assert '"at": "2026-10-30 07:05:01"' in text
    assert json.loads(text)["claims"] == [{"ma_lk": "LK1", "reasons": []}, {}]
