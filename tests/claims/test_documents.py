"""XML6–XML15 as typed tables: declared like XML1–XML5, parsed, typed, bad rows
quarantined with their reason (rows conserved), stored as ``xml6`` … ``xml15`` and read
back; a store made before them reads them as empty."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest

from claims.config import Settings
from claims.errors import ReasonCode as R
from claims.intake import Submission, read_submission
from claims.pipeline.daily import run_inbox
from claims.schema import table_schema
from claims.store import open_store, stored_claims
from claims.validate.codes import load_code_lists
from claims.validate.tables import Validated, validate
from claims.xml130 import DOC_TABLES, PARSED_TABLES, Kind
from tests.factories import Claim, example_claim, hoso, with_key, wrapper

CODES = load_code_lists()
LK = "HSEX120251006"


def with_documents(claim: Claim) -> Claim:
    """The example claim with a discharge paper, two birth certificates, a referral
    and an appointment (values as a facility writes them)."""
    out = dict(claim)
    out["XML7"] = [
        {
            "MA_LK": LK,
            "NGAY_VAO": "202510060815",
            "NGAY_RA": "202510061130",
            "SO_NGAY_NGHI": "3",
            "NGOAITRU_TUNGAY": "20251007",
            "NGOAITRU_DENNGAY": "20251009",
            "GHI_CHU": "ra viện",
        }
    ]
    out["XML9"] = [
        {"MA_LK": LK, "CAN_NANG_CON": "3100", "NGAY_SINH_CON": "202510060930"},
        {"MA_LK": LK, "CAN_NANG_CON": "2900", "NGAY_SINH_CON": "202510060935"},
    ]
    out["XML13"] = [{"MA_LK": LK, "MA_NOI_DI": "01030", "MA_NOI_DEN": "01001"}]
    out["XML14"] = [{"MA_LK": LK, "NGAY_HEN_KL": "20251020", "NGAY_RA": "202510061130"}]
    return out


def _check(tmp_path: Path, *claims: Claim) -> Validated:
    path = tmp_path / "sub.xml"
    path.write_bytes(wrapper([hoso(c) for c in claims]))
    sub = read_submission(path, max_bytes=1 << 30)
    assert isinstance(sub, Submission)
    return validate([sub], CODES)


def test_every_document_table_is_declared_like_xml1_to_xml5() -> None:
    assert tuple(f"XML{n}" for n in range(6, 16)) == DOC_TABLES
    for table in DOC_TABLES:
        spec = PARSED_TABLES[table]
        assert spec.table == table
        assert len(spec.columns) == len(set(spec.columns)), table
        # every table but the council's (XML12, a person's) links to its claim
        assert ("ma_lk" in spec.columns) == (table != "XML12"), table
    # the fields the group I and C13 checks read, with their kinds
    kinds = {
        ("XML7", "NGOAITRU_TUNGAY"): Kind.DATE,
        ("XML7", "SO_NGAY_NGHI"): Kind.INT,
        ("XML9", "CAN_NANG_CON"): Kind.INT,
        ("XML10", "SO_NGAY"): Kind.INT,
        ("XML11", "DEN_NGAY"): Kind.DATE,
        ("XML14", "NGAY_HEN_KL"): Kind.DATE,
        ("XML13", "MA_NOI_DEN"): Kind.CODE,
    }
    for (table, element), kind in kinds.items():
        assert PARSED_TABLES[table].field(element.lower()).kind is kind
    assert PARSED_TABLES["XML9"].row_path  # births: a list
    assert not PARSED_TABLES["XML7"].row_path  # a discharge paper: one record


def test_documents_are_typed_and_keyed_to_their_claim(tmp_path: Path) -> None:
    result = _check(tmp_path, with_documents(example_claim()))
    assert result.quarantine.height == 0
    assert result.claims["status"].to_list() == ["accepted"]
    xml7 = result.tables["XML7"]
    assert xml7.schema == pl.Schema(table_schema("XML7"))
    row = xml7.row(0, named=True)
    assert (row["hoso_idx"], row["line_no"], row["ma_lk"]) == (0, 1, LK)
    assert row["so_ngay_nghi"] == 3
    assert row["ngoaitru_tungay"] == dt.date(2025, 10, 7)
    assert row["ngay_ra"] == dt.datetime(2025, 10, 6, 11, 30)
    assert result.tables["XML9"]["can_nang_con"].to_list() == [3100, 2900]
    assert result.tables["XML9"]["line_no"].to_list() == [1, 2]
    assert result.tables["XML14"]["ngay_hen_kl"].to_list() == [dt.date(2025, 10, 20)]
    assert result.tables["XML6"].height == 0
    counts = dict(result.counts.select("table", "stored").iter_rows())
    assert counts["XML9"] == 2
    assert counts["XML13"] == 1


@pytest.mark.parametrize(
    ("table", "element", "value", "reason"),
    [
        ("XML14", "NGAY_HEN_KL", "20251320", R.BAD_DATE),
        ("XML7", "SO_NGAY_NGHI", "ba", R.BAD_INTEGER),
        ("XML9", "CAN_NANG_CON", "3,1kg", R.BAD_INTEGER),
        ("XML13", "MA_NOI_DEN", "0100199", R.TOO_LONG),
        ("XML7", "MA_LK", None, R.REQUIRED_MISSING),
    ],
)
def test_a_bad_document_row_is_quarantined_and_counted(
    tmp_path: Path, table: str, element: str, value: str | None, reason: R
) -> None:
    claim = with_documents(example_claim())
    claim[table] = [dict(claim[table][0]) | {element: value}, *claim[table][1:]]
    result = _check(tmp_path, claim)
    got = result.quarantine.select("table", "line_no", "field", "reason_code").rows()
    assert (table, 1, element.lower(), reason.value) in got
    assert result.tables[table].filter(pl.col("line_no") == 1).height == 0
    # the claim stands; the document is missing from it, not the claim from the run
    assert result.claims["status"].to_list() == ["accepted_with_errors"]
    for row in result.counts.iter_rows(named=True):
        assert row["rows_in"] == row["stored"] + row["quarantined"], row


def test_a_document_of_another_claim_is_an_orphan(tmp_path: Path) -> None:
    claim = with_documents(example_claim())
    claim["XML14"] = [claim["XML14"][0] | {"MA_LK": "OTHER"}]
    result = _check(tmp_path, claim)
    got = result.quarantine.select("table", "field", "reason_code").rows()
    assert ("XML14", "ma_lk", R.LINE_ORPHAN.value) in got


def test_the_council_record_has_no_ma_lk_and_stays_with_its_claim(
    tmp_path: Path,
) -> None:
    claim = with_documents(example_claim())
    claim["XML12"] = [{"HO_TEN": "Nguyễn Văn A", "NGAY_HOP": "20251006"}]
    result = _check(tmp_path, claim)
    assert result.quarantine.height == 0
    assert result.tables["XML12"]["ngay_hop"].to_list() == [dt.date(2025, 10, 6)]


def _store(tmp_path: Path, name: str, *claims: Claim) -> Settings:
    settings = Settings(data_dir=tmp_path / "data")
    inbox = tmp_path / f"in-{name}"
    inbox.mkdir()
    (inbox / f"{name}.xml").write_bytes(wrapper([hoso(c) for c in claims]))
    assert run_inbox(inbox, settings=settings).run_id is not None
    return settings


def test_documents_are_stored_as_tables_and_read_back(tmp_path: Path) -> None:
    settings = _store(tmp_path, "a", with_documents(example_claim()))
    with open_store(settings.store_path, read_only=True) as con:
        stored = stored_claims(con, "ma_lk = ?", [LK])
        views = con.sql("SELECT count(*) FROM xml9").fetchall()
    assert views == [(2,)]
    for table in DOC_TABLES:
        assert stored.tables[table].schema == pl.Schema(table_schema(table)), table
    assert stored.tables["XML7"]["so_ngay_nghi"].to_list() == [3]
    assert stored.tables["XML13"]["ma_noi_den"].to_list() == ["01001"]
    assert stored.tables["XML6"].height == 0


def test_a_store_made_before_the_documents_reads_them_as_empty(
    tmp_path: Path,
) -> None:
    settings = _store(tmp_path, "a", example_claim())
    with duckdb.connect(str(settings.store_path)) as con:
        for table in DOC_TABLES:  # as an older engine left it
            con.execute(f'DROP VIEW "{table.lower()}"')
    with open_store(settings.store_path, read_only=True) as con:
        stored = stored_claims(con, "ma_lk = ?", [LK])
    assert stored.tables["XML7"].height == 0
    assert stored.tables["XML7"].schema == pl.Schema(table_schema("XML7"))
    # its next run adds them
    second = with_key(with_documents(example_claim()), "NEXT")
    _store(tmp_path, "b", second)
    with open_store(settings.store_path, read_only=True) as con:
        again = stored_claims(con, "ma_lk = ?", ["NEXT"])
    assert again.tables["XML9"].height == 2
