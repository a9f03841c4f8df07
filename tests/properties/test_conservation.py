"""Conservation: for any mix of good and broken input, nothing is lost."""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from claims.errors import ReasonCode
from claims.intake import FileFailure, Submission, read_submission
from claims.validate.codes import load_code_lists
from claims.validate.tables import validate
from claims.xml130 import PARSED_TABLES
from tests.factories import Claim, example_claim, hoso, table_xml, with_key, wrapper

CODES = load_code_lists()
BASE = example_claim()
VALUES = st.sampled_from(
    [
        None,
        "",
        "x",
        "0",
        "-1",
        "12.3456",
        "20251399",
        "202510061000",
        "202510071000",
        "Nguyễn Thị Ánh & <Hồng>",
        "9" * 300,
        "1.1",
        "8",
        "GD4010123456789;DN4",
    ]
)
ELEMENTS = {t: [f.element for f in s.fields] for t, s in PARSED_TABLES.items()}


@st.composite
def claims(draw: st.DrawFn, key: str) -> tuple[Claim, dict[str, bytes]]:
    claim = with_key(BASE, key)
    for _ in range(draw(st.integers(0, 3))):
        table = draw(st.sampled_from(sorted(claim)))
        row = draw(st.integers(0, len(claim[table]) - 1))
        claim[table][row][draw(st.sampled_from(ELEMENTS[table]))] = draw(VALUES)
    payloads: dict[str, bytes] = {}
    damage = draw(st.sampled_from(["none", "none", "base64", "xml", "dtd", "drop"]))
    table = draw(st.sampled_from(sorted(claim)))
    if damage == "base64":
        payloads[table] = b"%%%not base64%%%"
    elif damage == "xml":
        payloads[table] = base64.b64encode(table_xml(table, claim[table])[:-7])
    elif damage == "dtd":
        doc = b'<!DOCTYPE x [<!ENTITY e "boom">]>' + table_xml(table, claim[table])
        payloads[table] = base64.b64encode(doc)
    elif damage == "drop":
        del claim[table]
    return claim, payloads


@st.composite
def inboxes(draw: st.DrawFn) -> list[bytes]:
    files = []
    for n in range(draw(st.integers(1, 3))):
        members = [draw(claims(f"K{n}_{i}")) for i in range(draw(st.integers(1, 4)))]
        data = wrapper([hoso(c, p) for c, p in members])
        if draw(st.booleans()) and draw(st.booleans()):
            data = data[: draw(st.integers(0, len(data) - 1))]  # truncated file
        files.append(data)
    return files


@given(inboxes())
def test_every_row_is_stored_or_quarantined(files: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        results = []
        for n, data in enumerate(files):
            path = Path(tmp) / f"f{n}.xml"
            path.write_bytes(data)
            results.append(read_submission(path, max_bytes=1 << 30))
    subs = [r for r in results if isinstance(r, Submission)]
    for failure in (r for r in results if isinstance(r, FileFailure)):
        assert failure.reason in ReasonCode
        assert failure.message
    result = validate(subs, CODES)  # asserts rows_in == stored + quarantined itself
    for row in result.counts.iter_rows(named=True):
        assert row["rows_in"] == row["stored"] + row["quarantined"]
        table = row["table"]
        rows_in = sum(s.tables[table].height for s in subs)
        assert row["rows_in"] == rows_in
    assert result.claims.height == sum(s.meta.hoso_count for s in subs)
    rejected = result.claims.filter(pl.col("status") == "rejected")
    assert rejected["claim_reasons"].list.len().min() or rejected.height == 0
    stored_claims = result.tables["XML1"].select("file_id", "hoso_idx")
    kept = result.claims.filter(pl.col("status") != "rejected").select(
        "file_id", "hoso_idx"
    )
    assert sorted(stored_claims.rows()) == sorted(kept.rows())
    assert set(result.quarantine["reason_code"]) <= {c.value for c in ReasonCode}
    assert result.quarantine["message"].null_count() == 0
