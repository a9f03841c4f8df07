"""Catalog attribute and YHCT checks (issue 13 item 2; fragment checks/attributes.yaml):
every fault kind the generator injects for E2, F3, F4 and G2 is found with its expected
reason, clean claims get none of these reasons, and ``catalog_mismatch`` compares a
line's fields with the catalog row valid on its date as the docstring says."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from claims.config import Settings
from claims.features_registry import _with_attributes
from claims.intake import read_submission
from claims.intake.submission import Submission
from claims.pipeline.context import Reference, RunContext
from claims.pipeline.stages import Frames, run_stages
from claims.schema import patient_id
from claims.synthetic import generate
from claims.synthetic.faults_registry import REGISTRY_KINDS

PACK = "vn-bhyt@2026.07.1"
"""The corrected version that includes the attributes fragment."""
FRAGMENT = Path(__file__).parents[2] / "rules/packs/vn-bhyt/checks/attributes.yaml"
KINDS = {
    k: v
    for k, v in REGISTRY_KINDS.items()
    if k
    in (
        "drug_other_strength",
        "service_other_name",
        "supply_other_name",
        "yhct_principal",
    )
}
REASONS = set(yaml.safe_load(FRAGMENT.read_text(encoding="utf-8"))["reason_codes"])


def test_the_fault_kinds_are_the_fragments_reasons() -> None:
    assert len(KINDS) == 4
    assert {v[0] for v in KINDS.values()} <= REASONS


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[pl.DataFrame, Frames]:
    """A generated day with faults, run through every stage: its truth and frames."""
    root = tmp_path_factory.mktemp("attributes")
    summary = generate(
        root / "in", claims=5_000, seed=7, error_rate=0.3, day=date(2026, 10, 15)
    )
    subs = tuple(
        s
        for s in (read_submission(p, max_bytes=1 << 31) for p in summary.files)
        if isinstance(s, Submission)
    )
    ref = Reference.load(None, "vn-bhyt", PACK)
    ctx = RunContext("attr-test", "2026-10-15", ref, Settings(data_dir=root / "d"))
    return pl.read_parquet(summary.truth), run_stages(ctx, Frames(submissions=subs))


def _found(frames: Frames) -> pl.DataFrame:
    """Every rule hit with its claim's keys and its line's STT (null for a claim)."""
    assert frames.assessment is not None
    xml1 = frames.tables["XML1"].select("file_id", "hoso_idx", "ma_cskcb", "ma_lk")
    stts = pl.concat(
        frames.tables[t].select(
            "file_id", "hoso_idx", "line_no", pl.lit(t).alias("table"), "stt"
        )
        for t in ("XML2", "XML3")
    )
    return (
        frames.assessment.hits.filter(pl.col("outcome") == "fired")
        .join(xml1, on=["file_id", "hoso_idx"])
        .join(stts, on=["file_id", "hoso_idx", "table", "line_no"], how="left")
        .select(
            "ma_cskcb",
            "ma_lk",
            "table",
            pl.col("stt").cast(pl.String),
            pl.col("reason_code").alias("expected_reason"),
        )
        .unique()
    )


def test_every_attribute_fault_is_found_with_its_reason(
    checked: tuple[pl.DataFrame, Frames],
) -> None:
    truth, frames = checked
    mine = truth.filter(pl.col("kind").is_in(list(KINDS)))
    assert set(mine["kind"]) == set(KINDS)  # every kind was injected
    keys = ["ma_cskcb", "ma_lk", "table", "stt", "expected_reason"]
    missed = mine.join(_found(frames), on=keys, how="anti", nulls_equal=True)
    assert missed.height == 0, missed.select("ma_lk", "stt", "kind").rows()
    expected = {k: v[0] for k, v in KINDS.items()}
    assert all(
        r == expected[k] for k, r in mine.select("kind", "expected_reason").iter_rows()
    )
    claim_level = mine.filter(pl.col("kind") == "yhct_principal")
    assert claim_level["stt"].is_null().all()
    assert (claim_level["table"] == "XML1").all()


def test_clean_claims_get_no_attribute_reason(
    checked: tuple[pl.DataFrame, Frames],
) -> None:
    truth, frames = checked
    xml1 = frames.tables["XML1"].select(
        "ma_cskcb", "ma_lk", patient_id().alias("patient")
    )
    faulted = truth.select("ma_cskcb", "ma_lk").unique()
    clean = xml1.join(faulted, on=["ma_cskcb", "ma_lk"], how="anti")
    assert clean.height > 3_000
    hits = _found(frames).filter(pl.col("expected_reason").is_in(list(REASONS)))
    # only the E9 reason is shared with F11 (service lines): count the fragment's own
    own = hits.filter(pl.col("expected_reason") != "INCLUDED_IN_PRICE")
    wrong = own.join(clean, on=["ma_cskcb", "ma_lk"], how="semi")
    assert wrong.height == 0, wrong


# ---- catalog_mismatch on literal lines

DAY = date(2026, 10, 15)
_ATTRS = {
    "catalog": pl.String,
    "ma_cskcb": pl.String,
    "code": pl.String,
    "valid_from": pl.Date,
    "valid_to": pl.Date,
    "catalog_version": pl.String,
    **dict.fromkeys(("name", "strength", "route", "unit", "registration"), pl.String),
}


def _attrs(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {c: r.get(c) for c in _ATTRS}
            | {
                "catalog_version": "t",
                "valid_from": r.get("valid_from", date(2019, 1, 1)),
            }
            for r in rows
        ],
        schema=_ATTRS,
    )


def _drug_lines(rows: list[dict[str, Any]]) -> pl.DataFrame:
    cols = ("ma_thuoc", "ten_thuoc", "ham_luong", "duong_dung", "don_vi_tinh")
    schema = {
        "file_id": pl.String,
        "hoso_idx": pl.UInt32,
        "line_no": pl.UInt32,
        "claim_ma_cskcb": pl.String,
        "line_date": pl.Date,
        **dict.fromkeys((*cols, "so_dang_ky"), pl.String),
    }
    base = {"file_id": "f", "hoso_idx": 0, "claim_ma_cskcb": "01001", "line_date": DAY}
    return pl.DataFrame(
        [{c: (base | r).get(c) for c in schema} | {"line_no": i + 1} for i, r in
         enumerate(rows)],
        schema=schema,
    )  # fmt: skip


ALVERIN = {
    "catalog": "drugs",
    "code": "40.1006",
    "name": "Alverin citrat",
    "strength": "40mg",
    "route": "1.01",
    "unit": "Viên",
    "registration": "VD-70461-20",
}
LINE = {
    "ma_thuoc": "40.1006",
    "ten_thuoc": "Alverin citrat 40mg",
    "ham_luong": "40mg",
    "duong_dung": "1.01",
    "don_vi_tinh": "Viên",
    "so_dang_ky": "VD-70461-20",
}


def test_drug_attributes_against_the_facilitys_row_else_the_national_one() -> None:
    attrs = _attrs(
        [
            ALVERIN | {"ma_cskcb": "01001"},
            # the national row has another strength: the facility's row wins
            ALVERIN | {"strength": "80mg"},
            # a row no longer valid on the line's date is not the one compared
            ALVERIN
            | {"ma_cskcb": "01002", "valid_to": date(2025, 12, 31), "unit": "Ống"},
            ALVERIN | {"ma_cskcb": "01002", "valid_from": date(2026, 1, 1)},
        ]
    )
    lines = _drug_lines(
        [
            LINE,  # the name with its strength
            LINE | {"ten_thuoc": "  ALVERIN   citrat "},  # case and spaces
            LINE | {"ham_luong": "80mg"},
            LINE | {"don_vi_tinh": "Ống", "so_dang_ky": "VD-1-20"},
            LINE | {"so_dang_ky": None},  # empty on the line: validation's business
            LINE | {"claim_ma_cskcb": "01002"},
            # no row of its own: the national one
            LINE
            | {
                "claim_ma_cskcb": "01003",
                "ham_luong": "80mg",
                "ten_thuoc": "Alverin citrat",
            },
            LINE | {"ma_thuoc": "40.9999", "ham_luong": "1g"},  # off-catalog: E1's
        ]
    )
    got = _with_attributes(lines, attrs)["catalog_mismatch"].to_list()
    assert got == [
        None,
        None,
        "HAM_LUONG",
        "DON_VI_TINH;SO_DANG_KY",
        None,
        None,
        None,
        None,
    ]


def test_service_and_supply_names_against_their_own_catalogs() -> None:
    attrs = _attrs(
        [
            {"catalog": "services", "code": "02.1896.1001", "name": "Khám Nội"},
            {"catalog": "supplies", "code": "N02.03.010", "name": "Găng tay"},
            # a service row under the supply's code is not the supply's catalog
            {"catalog": "services", "code": "N02.03.010", "name": "Khác"},
        ]
    )
    schema = {
        "file_id": pl.String,
        "hoso_idx": pl.UInt32,
        "line_no": pl.UInt32,
        "claim_ma_cskcb": pl.String,
        "line_date": pl.Date,
        **dict.fromkeys(("ma_dich_vu", "ma_vat_tu", "ten_dich_vu", "ten_vat_tu"), str),
    }
    rows = [
        ("02.1896.1001", None, "khám nội", None),
        ("02.1896.1001", None, "Khám Ngoại", None),
        ("02.1896.1001", "N02.03.010", None, "Găng tay"),
        ("02.1896.1001", "N02.03.010", None, "Găng tay (khác)"),
    ]
    lines = pl.DataFrame(
        [
            {"file_id": "f", "hoso_idx": 0, "line_no": i + 1, "claim_ma_cskcb": "01001",
             "line_date": DAY, "ma_dich_vu": dv, "ma_vat_tu": vt, "ten_dich_vu": tdv,
             "ten_vat_tu": tvt}
            for i, (dv, vt, tdv, tvt) in enumerate(rows)
        ],
        schema=schema,
    )  # fmt: skip
    got = _with_attributes(lines, attrs)["catalog_mismatch"].to_list()
    assert got == [None, "TEN_DICH_VU", None, "TEN_VAT_TU"]


def test_without_catalog_attributes_nothing_is_compared() -> None:
    lines = _drug_lines([LINE | {"ham_luong": "80mg"}])
    assert _with_attributes(lines, None)["catalog_mismatch"].to_list() == [None]
