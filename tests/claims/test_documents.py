"""XML6–XML15 as typed tables: declared like XML1–XML5, parsed, typed, bad rows
quarantined with their reason (rows conserved), stored as ``xml6`` … ``xml15`` and read
back; a store made before them reads them as empty."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml

from claims.config import Settings
from claims.errors import ReasonCode as R
from claims.intake import Submission, read_submission
from claims.pipeline.context import Reference, RunContext
from claims.pipeline.daily import run_inbox
from claims.pipeline.selfcheck import check_files
from claims.pipeline.stages import Frames, run_stages
from claims.schema import patient_id, table_schema
from claims.store import open_store, stored_claims
from claims.synthetic import generate
from claims.synthetic.faults_documents import DOCUMENT_KINDS
from claims.validate.codes import load_code_lists
from claims.validate.tables import Validated, validate
from claims.xml130 import DOC_TABLES, PARSED_TABLES, Kind
from tests.factories import Claim, example_claim, hoso, with_key, wrapper

CODES = load_code_lists()
DOCUMENTS_FRAGMENT = (
    Path(__file__).parents[2]
    / "rules"
    / "packs"
    / "vn-bhyt"
    / "checks"
    / "documents.yaml"
)
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


# --- the group I and C13 checks, end to end -------------------------------------------
# The checks are a fragment of the corrected pack versions (rules/packs/vn-bhyt/checks/
# documents.yaml); the example claim's period is 2025.01.x, pinned here so the tests do
# not wait for the correction's release.
CORRECTED = "vn-bhyt@2025.01.1"


@pytest.fixture(scope="module")
def corrected() -> Reference:
    return Reference.load(None, "vn-bhyt", CORRECTED)


def _codes(tmp_path: Path, claim: Claim, reference: Reference) -> list[str]:
    """The reason codes ``check`` gives the one claim of a file holding ``claim``."""
    path = tmp_path / f"c{len(list(tmp_path.iterdir()))}.xml"
    path.write_bytes(wrapper([hoso(claim)]))
    rows, _ = check_files([path], reference)
    (row,) = rows
    return [r["code"] for r in row["reasons"]]


def _stay(claim: Claim) -> Claim:
    """The example claim as a two-day inpatient stay discharged home."""
    out = dict(claim)
    out["XML1"] = [
        claim["XML1"][0]
        | {"MA_LOAI_KCB": "03", "NGAY_RA": "202510071130", "SO_NGAY_DTRI": "2"}
    ]
    return out


def test_a_stay_needs_its_discharge_paper(tmp_path: Path, corrected: Reference) -> None:
    bare = _stay(example_claim())
    assert "DISCHARGE_PAPER_MISSING" in _codes(tmp_path, bare, corrected)
    absconded = dict(bare) | {"XML1": [bare["XML1"][0] | {"MA_LOAI_RV": "3"}]}
    assert "DISCHARGE_PAPER_MISSING" not in _codes(tmp_path, absconded, corrected)
    papered = with_documents(bare)
    papered["XML7"] = [papered["XML7"][0] | {"NGAY_RA": "202510071130"}]
    codes = _codes(tmp_path, papered, corrected)
    assert "DISCHARGE_PAPER_MISSING" not in codes
    # leave from 7 to 9 October but 3 days declared: 3 = 9 − 7 + 1, and it starts on
    # the day of discharge: neither I4 rule fires
    assert "LEAVE_DAYS_MISMATCH" not in codes
    assert "LEAVE_BEFORE_DISCHARGE" not in codes
    early = dict(papered)
    early["XML7"] = [papered["XML7"][0] | {"NGOAITRU_TUNGAY": "20251006"}]
    codes = _codes(tmp_path, early, corrected)
    assert "LEAVE_BEFORE_DISCHARGE" in codes
    assert "LEAVE_DAYS_MISMATCH" in codes  # 9 − 6 + 1 = 4, not 3


def test_an_appointment_needs_its_paper_on_or_after_discharge(
    tmp_path: Path, corrected: Reference
) -> None:
    claim = example_claim()
    claim["XML1"] = [claim["XML1"][0] | {"NGAY_TAI_KHAM": "20251020"}]
    assert "APPOINTMENT_PAPER_MISSING" in _codes(tmp_path, claim, corrected)
    booked = with_documents(claim)
    codes = _codes(tmp_path, booked, corrected)
    assert not {c for c in codes if c.startswith("APPOINTMENT")}
    early = dict(booked) | {"XML14": [booked["XML14"][0] | {"NGAY_HEN_KL": "20251005"}]}
    codes = _codes(tmp_path, early, corrected)
    assert "APPOINTMENT_BEFORE_DISCHARGE" in codes
    assert "APPOINTMENT_DATE_MISMATCH" in codes


def test_a_transfer_and_a_birth_need_their_papers(
    tmp_path: Path, corrected: Reference
) -> None:
    claim = example_claim()
    claim["XML1"] = [
        claim["XML1"][0]
        | {"MA_LOAI_RV": "2", "MA_NOI_DEN": "01001", "CAN_NANG_CON": "3100"}
    ]
    codes = _codes(tmp_path, claim, corrected)
    assert "TRANSFER_PAPER_MISSING" in codes
    assert "BIRTH_CERTIFICATE_MISSING" in codes
    codes = _codes(tmp_path, with_documents(claim), corrected)
    assert "TRANSFER_PAPER_MISSING" not in codes
    assert "BIRTH_CERTIFICATE_MISSING" not in codes


def test_leave_certificates_and_record_quality(
    tmp_path: Path, corrected: Reference
) -> None:
    claim = with_documents(example_claim())
    claim["XML10"] = [
        {"MA_LK": LK, "SO_NGAY": "11", "TU_NGAY": "20251007", "DEN_NGAY": "20251017"}
    ]
    claim["XML11"] = [
        {
            "MA_LK": LK,
            "SO_NGAY_NGHI": "31",
            "TU_NGAY": "20251007",
            "DEN_NGAY": "20251106",
        }
    ]
    claim["XML8"] = [{"MA_LK": LK, "TOMTAT_KQ": "Bình thường"}]
    note = "Bệnh nhân tỉnh, tiếp xúc tốt."
    claim["XML5"] = [
        {"MA_LK": LK, "STT": "1", "DIEN_BIEN_LS": note},
        {"MA_LK": LK, "STT": "2", "DIEN_BIEN_LS": note},
    ]
    codes = _codes(tmp_path, claim, corrected)
    for code in (
        "REST_DAYS_MISMATCH",  # 17 − 7 = 10 days, not 11
        "SICK_LEAVE_TOO_LONG",  # 31 > 30 for pneumonia
        "RECORD_SUMMARY_TOO_SHORT",
        "PROGRESS_NOTE_REPEATED",
    ):
        assert code in codes, code
    claim["XML10"] = [claim["XML10"][0] | {"SO_NGAY": "10"}]
    claim["XML11"] = [claim["XML11"][0] | {"SO_NGAY_NGHI": "30"}]
    claim["XML5"] = claim["XML5"][:1]
    codes = _codes(tmp_path, claim, corrected)
    assert "REST_DAYS_MISMATCH" not in codes
    assert "SICK_LEAVE_TOO_LONG" not in codes
    assert "PROGRESS_NOTE_REPEATED" not in codes


def test_results_carry_an_index_and_a_value_or_conclusion(
    tmp_path: Path, corrected: Reference
) -> None:
    claim = example_claim()
    row = claim["XML4"][0]
    claim["XML4"] = [
        row,
        row | {"STT": "2", "MA_CHI_SO": None, "TEN_CHI_SO": None, "GIA_TRI": "5.4"},
        row | {"STT": "3", "GIA_TRI": None, "KET_LUAN": None},
    ]
    codes = _codes(tmp_path, claim, corrected)
    assert codes.count("RESULT_INDEX_MISSING") == 1
    assert codes.count("RESULT_VALUE_MISSING") == 1


# --- generated truth: every document fault found, clean claims untouched ----------------

MY_CODES = frozenset(
    yaml.safe_load(DOCUMENTS_FRAGMENT.read_text(encoding="utf-8"))["reason_codes"]
)


@pytest.fixture(scope="module")
def faulted_day(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """A generated day with many faults run through every stage with the corrected
    2026.07 version: its claims (``ma_cskcb, ma_lk, patient``), their reasons (with
    ``code``) and its truth."""
    root = tmp_path_factory.mktemp("documents-truth")
    day = dt.date(2026, 10, 14)
    summary = generate(
        root / "in", claims=1500, facilities=6, day=day, seed=21, error_rate=0.3
    )
    subs = [read_submission(Path(p), max_bytes=1 << 31) for p in summary.files]
    assert all(isinstance(s, Submission) for s in subs)
    reference = Reference.load(None, "vn-bhyt", "vn-bhyt@2026.07.1")
    ctx = RunContext("documents-truth", day.isoformat(), reference, Settings())
    frames = run_stages(ctx, Frames(submissions=tuple(subs)))  # type: ignore[arg-type]
    assert frames.decisions is not None
    assert frames.features is not None
    keys = ["file_id", "hoso_idx"]
    claims = frames.features.claims.select(
        *keys, "ma_cskcb", "ma_lk", patient_id().alias("patient")
    )
    reasons = frames.decisions.reasons.join(claims, on=keys).select(
        "ma_cskcb", "ma_lk", "patient", "code"
    )
    return claims, reasons, pl.read_parquet(summary.truth)


def test_every_document_fault_is_found_with_its_reason(
    faulted_day: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
) -> None:
    _, reasons, truth = faulted_day
    mine = truth.filter(pl.col("kind").is_in(list(DOCUMENT_KINDS)))
    assert set(mine["kind"]) == set(DOCUMENT_KINDS)  # every kind was injected
    assert (mine["level"] == "claim").all()
    assert set(mine["expected_reason"]) <= MY_CODES
    found = reasons.select(
        "ma_cskcb", "ma_lk", pl.col("code").alias("expected_reason")
    ).unique()
    missed = mine.join(found, on=["ma_cskcb", "ma_lk", "expected_reason"], how="anti")
    assert missed.height == 0, missed


def test_claims_without_a_fault_get_no_document_reason(
    faulted_day: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
) -> None:
    claims, reasons, truth = faulted_day
    faulted = claims.join(
        truth.select("ma_cskcb", "ma_lk").unique(), on=["ma_cskcb", "ma_lk"]
    )
    # a fault's partner (a duplicate's original, an overlapped stay) is the same patient
    clean = claims.join(faulted.select("patient").unique(), on="patient", how="anti")
    assert clean.height > 500
    wrong = reasons.join(clean, on=["ma_cskcb", "ma_lk"], how="semi").filter(
        pl.col("code").is_in(list(MY_CODES))
    )
    assert wrong.height == 0, wrong
    # and the faulted claims do carry them: the check is not silent
    assert reasons.filter(pl.col("code").is_in(list(MY_CODES))).height > 0
