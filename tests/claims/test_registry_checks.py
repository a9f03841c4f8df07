"""Registry and code-pair checks (issue 13 item 2): every fault kind the generator injects
for them is found on its labelled line with its expected reason, clean claims get none of
these reasons, and the cross-claim features (occupancy, shared beds, machine throughput)
count what literal batches hold."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from claims.config import Settings
from claims.features_registry import registry_features
from claims.intake import read_submission
from claims.intake.submission import Submission
from claims.pipeline.context import Reference, RunContext
from claims.pipeline.stages import Frames, run_stages
from claims.schema import Batch, Registries, patient_id, table_schema
from claims.synthetic import generate
from claims.synthetic.faults_registry import REGISTRY_KINDS

PACK = "vn-bhyt@2026.07.1"
"""The corrected version that includes the registry and code_pairs fragments."""
REASONS = {v[0] for v in REGISTRY_KINDS.values()} | {
    "DEPARTMENT_OVER_CAPACITY",
    "MACHINE_OVER_CAPACITY",
}


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[pl.DataFrame, Frames]:
    """A generated day with faults, run through every stage: its truth and frames."""
    root = tmp_path_factory.mktemp("registry")
    summary = generate(
        root / "in", claims=5_000, seed=7, error_rate=0.3, day=date(2026, 10, 15)
    )
    subs = tuple(
        s
        for s in (read_submission(p, max_bytes=1 << 31) for p in summary.files)
        if isinstance(s, Submission)
    )
    ref = Reference.load(None, "vn-bhyt", PACK)
    ctx = RunContext("registry-test", "2026-10-15", ref, Settings(data_dir=root / "d"))
    return pl.read_parquet(summary.truth), run_stages(ctx, Frames(submissions=subs))


def _found(frames: Frames) -> pl.DataFrame:
    """Every rule hit with its claim's keys and its line's STT."""
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


def test_every_registry_fault_is_found_on_its_line(
    checked: tuple[pl.DataFrame, Frames],
) -> None:
    truth, frames = checked
    mine = truth.filter(pl.col("kind").is_in(list(REGISTRY_KINDS)))
    assert set(mine["kind"]) == set(REGISTRY_KINDS)  # every kind was injected
    keys = ["ma_cskcb", "ma_lk", "table", "stt", "expected_reason"]
    # a claim-level kind (G2 yhct_principal) names no line: its STT is null
    missed = mine.join(_found(frames), on=keys, how="anti", nulls_equal=True)
    assert missed.height == 0, missed.select("ma_lk", "stt", "kind").rows()
    expected = {k: v[0] for k, v in REGISTRY_KINDS.items()}
    assert all(
        r == expected[k] for k, r in mine.select("kind", "expected_reason").iter_rows()
    )


def test_clean_claims_get_no_registry_reason(
    checked: tuple[pl.DataFrame, Frames],
) -> None:
    truth, frames = checked
    xml1 = frames.tables["XML1"].select(
        "ma_cskcb", "ma_lk", patient_id().alias("patient")
    )
    faulted = truth.select("ma_cskcb", "ma_lk").unique()
    # a duplicate's or an overlap's partner shares the faulted claim's patient: the
    # cross-claim checks rightly count both (J1 is about them)
    involved = xml1.join(faulted, on=["ma_cskcb", "ma_lk"]).select("patient")
    clean = xml1.join(faulted, on=["ma_cskcb", "ma_lk"], how="anti").join(
        involved, on="patient", how="anti"
    )
    assert clean.height > 3_000
    hits = _found(frames).filter(pl.col("expected_reason").is_in(list(REASONS)))
    wrong = hits.join(clean, on=["ma_cskcb", "ma_lk"], how="semi")
    assert wrong.height == 0, wrong


# ---- the batch-wide features on literal lines

DAY1, DAY2 = datetime(2026, 10, 13, 8), datetime(2026, 10, 15, 9)


def _frame(table: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema = table_schema(table)
    return pl.DataFrame(
        [{c: r.get(c) for c in schema} | {"file_id": "f"} for r in rows], schema=schema
    )


def _bed_batch(stays: list[tuple[str, datetime, datetime, str]]) -> pl.DataFrame:
    """One bed line per stay ``(card, in, out, bed)`` in K03 of facility 01001, and the
    registry features of those lines (K03: 2 approved beds, 1 extra)."""
    xml1 = [
        {"hoso_idx": i, "line_no": 1, "ma_cskcb": "01001", "ma_lk": f"L{i}",
         "ma_the_bhyt": card, "ngay_vao": vao, "ngay_ra": ra}
        for i, (card, vao, ra, _) in enumerate(stays)
    ]  # fmt: skip
    xml3 = [
        {"hoso_idx": i, "line_no": 1, "ma_nhom": "15", "ma_khoa": "K03",
         "ma_giuong": bed, "ngay_yl": vao, "tyle_tt_dv": 100, "so_luong": "1"}
        for i, (_, vao, _, bed) in enumerate(stays)
    ]  # fmt: skip
    claims = _frame("XML1", xml1)
    lines = _frame("XML3", xml3)
    context = claims.select(
        "file_id",
        "hoso_idx",
        *(pl.col(c).alias(f"claim_{c}") for c in ("ma_cskcb", "ngay_vao", "ngay_ra")),
    )
    frame = lines.join(context, on=["file_id", "hoso_idx"]).with_columns(
        pl.col("ngay_yl").dt.date().alias("line_date")
    )
    departments = pl.DataFrame(
        {
            "ma_cskcb": ["01001"],
            "ma_khoa": ["K03"],
            "giuong_pd": [2],
            "giuong_tk": [1],
            "valid_from": [date(2019, 1, 1)],
            "valid_to": [None],
            "catalog_version": ["t"],
        },
        schema_overrides={"valid_to": pl.Date},
    )
    practitioners = pl.DataFrame(
        schema={
            "ma_cskcb": pl.String,
            "ma_bac_si": pl.String,
            "ma_khoa": pl.String,
            "valid_from": pl.Date,
            "valid_to": pl.Date,
            "catalog_version": pl.String,
        }
    )
    equipment = practitioners.rename({"ma_bac_si": "ma_may"}).with_columns(
        pl.lit(None, pl.Int64).alias("capacity_per_day")
    )
    empty = pl.DataFrame()
    batch = Batch(
        claims, _frame("XML2", []), lines, _frame("XML4", []), _frame("XML5", []),
        prices=empty, facilities=empty,
        registries=Registries(practitioners, departments, equipment, empty),
    )  # fmt: skip
    return registry_features(batch, frame, claims).sort("hoso_idx")


def test_occupancy_and_shared_beds_over_the_batch() -> None:
    stays = [
        ("GD4010100000001", DAY1, DAY2, "H001"),
        ("GD4010100000002", DAY1, DAY2, "H002"),
        ("GD4010100000003", datetime(2026, 10, 14, 8), DAY2, "T001"),
        # the fourth stay finds three beds taken: over 2 approved + 1 extra
        ("GD4010100000004", datetime(2026, 10, 14, 9), DAY2, "H001"),
        # every other stay leaves at 09:00 when this one comes: one patient in H002
        ("GD4010100000005", DAY2, datetime(2026, 10, 16, 9), "H002"),
        ("GD4010100000006", datetime(2026, 10, 15, 8), DAY2, "H003"),
    ]
    got = _bed_batch(stays)
    assert got["department_beds"].to_list() == [3] * 6
    # the first two came at the same minute: both see two beds taken
    assert got["department_occupancy"].to_list() == [2, 2, 3, 4, 1, 5]
    # the fourth came to H001 while the first was in it; the first was there before
    assert got["bed_other_patients"].to_list() == [0, 0, 0, 1, 0, 0]
    assert got["bed_in_department"].to_list() == [True] * 5 + [False]


def test_a_patients_own_overlapping_claims_are_one_occupant() -> None:
    stays = [
        ("GD4010100000001", DAY1, DAY2, "H001"),
        ("GD4010100000001", DAY1, DAY2, "H001"),  # a duplicate: J1's, not H9's
    ]
    got = _bed_batch(stays)
    assert got["bed_other_patients"].to_list() == [0, 0]
    assert got["department_occupancy"].to_list() == [1, 1]


def test_tests_per_machine_and_day() -> None:
    xml1 = [{"hoso_idx": i, "line_no": 1, "ma_cskcb": "01001"} for i in range(3)]
    xml3 = [
        {"hoso_idx": i, "line_no": n, "ma_nhom": "1", "ma_may": may, "ngay_yl": day}
        for i, n, may, day in (
            (0, 1, "SH.1.01001.1", DAY2),
            (1, 1, "SH.1.01001.1", DAY2),
            (2, 1, "SH.1.01001.1", DAY1),
            (2, 2, "SH.1.01001.9", DAY2),
        )
    ]
    claims = _frame("XML1", xml1)
    lines = _frame("XML3", xml3)
    frame = lines.join(
        claims.select(
            "file_id", "hoso_idx", pl.col("ma_cskcb").alias("claim_ma_cskcb")
        ),
        on=["file_id", "hoso_idx"],
    ).with_columns(
        pl.col("ngay_yl").dt.date().alias("line_date"),
        pl.lit(None, pl.Datetime("us")).alias("claim_ngay_vao"),
        pl.lit(None, pl.Datetime("us")).alias("claim_ngay_ra"),
    )
    equipment = pl.DataFrame(
        {
            "ma_cskcb": ["01001"],
            "ma_may": ["SH.1.01001.1"],
            "capacity_per_day": [1],
            "valid_from": [date(2019, 1, 1)],
            "valid_to": [None],
            "catalog_version": ["t"],
        },
        schema_overrides={"valid_to": pl.Date},
    )
    none = pl.DataFrame(
        schema={"ma_cskcb": pl.String, "ma_bac_si": pl.String, "ma_khoa": pl.String,
                "giuong_pd": pl.Int64, "giuong_tk": pl.Int64, "valid_from": pl.Date,
                "valid_to": pl.Date, "catalog_version": pl.String}
    )  # fmt: skip
    batch = Batch(
        claims, _frame("XML2", []), lines, _frame("XML4", []), _frame("XML5", []),
        prices=pl.DataFrame(), facilities=pl.DataFrame(),
        registries=Registries(none, none, equipment, pl.DataFrame()),
    )  # fmt: skip
    got = registry_features(batch, frame, claims).sort("hoso_idx", "line_no")
    assert got["machine_tests_day"].to_list() == [2, 2, 1, 1]
    assert got["machine_capacity"].to_list() == [1, 1, 1, None]
    assert got["machine_registered"].to_list() == [True, True, True, False]


def test_the_catalogs_hold_every_registry_the_generator_names(
    checked: tuple[pl.DataFrame, Frames],
) -> None:
    """On the clean claims no line names an unregistered practitioner, department or
    machine (the catalogs are built from the same numbering)."""
    truth, frames = checked
    assert frames.features is not None
    lines = frames.features.lines["XML3"]
    xml1 = frames.tables["XML1"].select("file_id", "hoso_idx", "ma_cskcb", "ma_lk")
    clean = lines.join(xml1, on=["file_id", "hoso_idx"]).join(
        truth.select("ma_cskcb", "ma_lk"), on=["ma_cskcb", "ma_lk"], how="anti"
    )
    assert clean.height > 10_000
    for flag in (
        "prescriber_registered",
        "performer_registered",
        "department_known",
        "machine_registered",
        "bed_in_department",
    ):
        assert clean[flag].all(), flag
    assert Path(__file__).exists()
