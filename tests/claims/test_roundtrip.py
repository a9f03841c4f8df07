"""Round trip: generate → write XML → ingest → every generated field comes back equal."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import polars as pl
from hypothesis import given
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from claims.intake import Submission, read_submission
from claims.intake.submission import clean
from claims.schema import TABLES
from claims.synthetic.generate import generate_day, write_parquet, write_xml
from claims.validate.checks import typed
from claims.validate.codes import load_code_lists
from claims.validate.tables import validate
from claims.xml130 import PARSED_TABLES

_CLAIM_TABLES = {t: PARSED_TABLES[t] for t in TABLES}
"""XML1–XML5 (documents XML6–XML15 have their own round trip in test_documents)."""

CODES = load_code_lists()


def _ingest(files: list[Path]) -> tuple[list[Submission], pl.DataFrame]:
    subs = []
    for path in files:
        result = read_submission(path, max_bytes=1 << 31)
        assert isinstance(result, Submission), result
        subs.append(result)
    return subs, pl.concat([pl.DataFrame({"file_id": [s.meta.file_id]}) for s in subs])


def _keyed(table: str, frame: pl.DataFrame, xml1: pl.DataFrame) -> pl.DataFrame:
    """Generated rows keyed by (ma_cskcb, ma_lk, stt), text cleaned as ingest cleans it."""
    out = frame.select(*[clean(f) for f in PARSED_TABLES[table].fields])
    if table == "XML1":
        return out.with_columns(pl.col("ma_cskcb").alias("_facility"))
    facility = frame["ma_cskcb"]
    return out.with_columns(facility.alias("_facility"))


@given(
    seed=st.integers(0, 10_000),
    claims=st.integers(1, 60),
    rate=st.sampled_from([0.0, 0.1]),
)
def test_every_generated_field_comes_back(seed: int, claims: int, rate: float) -> None:
    day = generate_day(
        claims=claims, facilities=5, day=date(2026, 10, 15), seed=seed, error_rate=rate
    )
    with tempfile.TemporaryDirectory() as tmp:
        files = write_xml(day, Path(tmp) / "out")
        subs, _ = _ingest(files)
    for table, spec in _CLAIM_TABLES.items():
        generated = _keyed(table, day.tables[table], day.tables["XML1"])
        raw = pl.concat([s.tables[table] for s in subs]).select(
            *[clean(f) for f in spec.fields]
        )
        keys = ["ma_lk", "stt"] if table != "XML1" else ["ma_cskcb", "ma_lk"]
        left = generated.drop("_facility").sort([*keys, *spec.columns], nulls_last=True)
        right = raw.sort([*keys, *spec.columns], nulls_last=True)
        assert_frame_equal(left, right, check_row_order=True)


def test_unfaulted_claims_are_stored_with_exact_types(tmp_path: Path) -> None:
    day = generate_day(
        claims=300, facilities=8, day=date(2026, 10, 15), seed=3, error_rate=0.05
    )
    subs, _ = _ingest(write_xml(day, tmp_path / "out"))
    result = validate(subs, CODES)
    faulted = (
        day.truth.filter(pl.col("expected_reason").is_not_null())
        .select("ma_cskcb", "ma_lk")
        .unique()
    )
    xml1 = day.tables["XML1"].join(faulted, on=["ma_cskcb", "ma_lk"], how="anti")
    spec = PARSED_TABLES["XML1"]
    expected = xml1.select(*[clean(f) for f in spec.fields]).select(
        *[typed(f) for f in spec.fields]
    )
    stored = (
        result.tables["XML1"]
        .select(spec.columns)
        .join(faulted, on=["ma_cskcb", "ma_lk"], how="anti")
    )
    order = ["ma_cskcb", "ma_lk"]
    assert_frame_equal(expected.sort(order), stored.sort(order))
    assert stored["t_bhtt"].dtype == pl.Decimal(38, 2)


def test_parquet_bulk_equals_xml(tmp_path: Path) -> None:
    day = generate_day(
        claims=120, facilities=4, day=date(2026, 10, 15), seed=11, error_rate=0.05
    )
    xml_subs, _ = _ingest(write_xml(day, tmp_path / "xml"))
    bulk = write_parquet(day, tmp_path / "bulk")
    folders = sorted({p.parent for p in bulk})
    bulk_subs, _ = _ingest(folders)
    from_xml = validate(xml_subs, CODES)
    from_bulk = validate(bulk_subs, CODES)
    for table, spec in _CLAIM_TABLES.items():
        keys = ["ma_lk", "stt"]
        a = from_xml.tables[table].select(spec.columns).sort(keys)
        b = from_bulk.tables[table].select(spec.columns).sort(keys)
        assert_frame_equal(a, b)
    reasons = lambda v: sorted(v.quarantine["reason_code"].to_list())  # noqa: E731
    assert reasons(from_xml) == reasons(from_bulk)
