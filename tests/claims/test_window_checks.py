"""The bed, machine and practitioner checks see the store's window (issue 13 item 2).

Each test stores claims A by a first ``run`` into a temporary store, then runs claim B:
the check's feature on B is what it would be with A and B in one batch, its rule fires
on B (H7, H9, J4, H3), and a re-submitted A (a new version, changed so that counting
both versions would show) replaces the stored one instead of counting twice.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from claims.config import Settings
from claims.intake import Submission, read_submission
from claims.pipeline.context import Reference, RunContext, no_history
from claims.pipeline.daily import run_inbox, store_history
from claims.pipeline.stages import Frames, run_stages, stages_named
from tests.factories import Claim, Row, example_claim, hoso, with_key, wrapper

PACK = "vn-bhyt@2026.07.1"
DAY = "20251006"


@pytest.fixture(scope="module")
def reference() -> Reference:
    return Reference.load(None, "vn-bhyt", PACK)


def _claim(
    ma_lk: str, patient: int, lines: list[Row], *, stay: tuple[str, str] | None = None
) -> Claim:
    """The example claim as ``ma_lk`` of patient ``patient`` with XML3 ``lines``; an
    inpatient stay from ``stay[0]`` to ``stay[1]`` (``HHMM`` on :data:`DAY` and
    the next days as ``DHHMM``) when given."""
    claim = with_key(example_claim(), ma_lk)
    claim["XML1"][0]["MA_THE_BHYT"] = f"GD401{patient:010d}"
    if stay is not None:
        vao, ra = (f"2025100{6 + int(t[0])}{t[1:]}" for t in stay)
        claim["XML1"][0] |= {
            "MA_LOAI_KCB": "03",
            "NGAY_VAO": vao,
            "NGAY_RA": ra,
            "SO_NGAY_DTRI": "2",
            "LY_DO_VNT": "Sốt cao",
            "KET_QUA_DTRI": "1",
        }
    claim["XML3"] = [
        {**row, "MA_LK": ma_lk, "STT": str(i + 1)} for i, row in enumerate(lines)
    ]
    if stay is not None:  # the lines ordered and done at admission
        for row in claim["XML3"]:
            row |= {"NGAY_YL": vao, "NGAY_TH_YL": vao}
    return claim


def _template(index: int) -> Row:
    """An XML3 line of the example: 0 the exam (BS001), 1 the test on HH.1.01030.1."""
    return copy.deepcopy(example_claim()["XML3"][index])


def _bed(bed: str) -> Row:
    return _template(0) | {"MA_NHOM": "15", "MA_KHOA": "K03", "MA_GIUONG": bed}


def _file(folder: Path, name: str, claims: list[Claim]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(wrapper([hoso(c) for c in claims]))
    return path


def _features(
    reference: Reference, settings: Settings | None, paths: list[Path]
) -> dict[str, pl.DataFrame]:
    """The features stage of the real pipeline on ``paths``: on the store of
    ``settings`` (its history), or store-less (None: the batch only)."""
    read = [read_submission(p, max_bytes=10**9) for p in paths]
    subs = tuple(s for s in read if isinstance(s, Submission))
    assert len(subs) == len(paths)
    history = (
        no_history if settings is None else store_history(settings, read_only=True)
    )
    ctx = RunContext("t", "2025-10-06", reference, settings or Settings(), history)
    stages = stages_named("validate", "price", "features")
    found = run_stages(ctx, Frames(submissions=subs), stages=stages).features
    assert found is not None
    keys = found.claims.select("file_id", "hoso_idx", "ma_lk")
    return {
        "XML1": found.claims,
        "XML3": found.lines["XML3"].join(keys, on=["file_id", "hoso_idx"]),
    }


def _value(frames: dict[str, pl.DataFrame], table: str, feature: str) -> object:
    """The feature's largest value on claim B."""
    return frames[table].filter(pl.col("ma_lk") == "B")[feature].max()


def _fired_on_b(settings: Settings, rule: str) -> bool:
    with duckdb.connect(str(settings.store_path), read_only=True) as con:
        return bool(
            con.sql(
                "SELECT count(*) FROM rule_hits h JOIN claims c USING (file_id, hoso_idx) "
                "WHERE c.ma_lk = 'B' AND h.rule_id = ? AND h.outcome = 'fired'",
                params=[rule],
            ).fetchall()[0][0]
        )


def _straddle(
    tmp_path: Path,
    reference: Reference,
    stored: list[Claim],
    later: list[Claim],
    table: str,
    feature: str,
    rule: str,
) -> tuple[object, object, object, bool]:
    """``stored`` by a first run, ``later`` by a second (claim B, and a re-submitted
    stored claim if any): B's feature then, in one store-less batch of the claims that
    are current after both runs, and of ``later`` alone; whether ``rule`` fired on B."""
    settings = Settings(data_dir=tmp_path / "data")
    first = _file(tmp_path / "files1", "a.xml", stored)
    second = _file(tmp_path / "files2", "b.xml", later)
    inbox = tmp_path / "in1"
    inbox.mkdir()
    shutil.copy(first, inbox)
    run_inbox(inbox, settings=settings, reference=reference)
    straddled = _value(_features(reference, settings, [second]), table, feature)
    again = {c["XML1"][0]["MA_LK"] for c in later}
    current = [c for c in stored if c["XML1"][0]["MA_LK"] not in again] + later
    together = _file(tmp_path / "files3", "all.xml", current)
    one_batch = _value(_features(reference, None, [together]), table, feature)
    alone = _value(_features(reference, None, [second]), table, feature)
    inbox = tmp_path / "in2"
    inbox.mkdir()
    shutil.copy(second, inbox)
    run_inbox(inbox, settings=settings, reference=reference)
    return straddled, one_batch, alone, _fired_on_b(settings, rule)


def _limit(reference: Reference, rule: str, param: str) -> int:
    for pack in reference.packs:
        for spec in pack.rules:
            if spec.spec.id == rule:
                return int(spec.spec.params[param])  # type: ignore[arg-type]
    raise AssertionError(rule)


def _department_beds(reference: Reference) -> int:
    k03 = reference.registries.departments.filter(
        (pl.col("ma_cskcb") == "01030") & (pl.col("ma_khoa") == "K03")
    )
    return int(k03["giuong_pd"][0] + k03["giuong_tk"][0])


def _machine_capacity(reference: Reference) -> int:
    machine = reference.registries.equipment.filter(
        pl.col("ma_may") == _template(1)["MA_MAY"]
    )
    return int(machine["capacity_per_day"][0])


def _beds_filled(
    tmp_path: Path,
    reference: Reference,
    beds: int,
    resubmitted: bool,
    feature: str,
    rule: str,
) -> tuple[object, object, object, bool]:
    """`beds` stored stays in K03 from day 0 to day 2, each patient in a bed of its
    own, then B on day 1 (and A1 again, discharged before B came, when
    ``resubmitted``): :func:`_straddle` of ``feature`` and ``rule``."""
    stored = [
        _claim(f"A{i}", i, [_bed(f"H{i:03d}")], stay=("00800", "21000"))
        for i in range(1, beds + 1)
    ]
    later = [_claim("B", 9999, [_bed("K001")], stay=("10900", "21000"))]
    if resubmitted:
        later.append(_claim("A1", 1, [_bed("H001")], stay=("00800", "10800")))
    return _straddle(tmp_path, reference, stored, later, "XML3", feature, rule)


@pytest.mark.parametrize("resubmitted", [False, True])
def test_department_occupancy_counts_the_stored_stays(
    tmp_path: Path, reference: Reference, resubmitted: bool
) -> None:
    beds = _department_beds(reference)
    straddled, one_batch, alone, fired = _beds_filled(
        tmp_path,
        reference,
        beds,
        resubmitted,
        "department_occupancy",
        "H7_DEPARTMENT_OVER_CAPACITY",
    )
    # a re-submitted A1 left before B came: the department had room
    assert straddled == one_batch == beds + (0 if resubmitted else 1)
    assert alone == 1
    assert fired is (not resubmitted)


@pytest.fixture(scope="module")
def corrected() -> Reference:
    """The pack with the capacity checks (H7_FACILITY_OVER_CAPACITY)."""
    return Reference.load(None, "vn-bhyt", "vn-bhyt@2026.07.3")


def _facility_beds(reference: Reference, facility: str = "01030") -> int:
    row = reference.facilities.filter(pl.col("ma_cskcb") == facility)
    return int(row["beds"][0])


@pytest.mark.parametrize("resubmitted", [False, True])
def test_facility_occupancy_counts_the_stored_stays(
    tmp_path: Path, corrected: Reference, resubmitted: bool
) -> None:
    beds = _facility_beds(corrected)
    assert beds < _department_beds(corrected)  # the facility is full before K03 is
    straddled, one_batch, alone, fired = _beds_filled(
        tmp_path,
        corrected,
        beds,
        resubmitted,
        "facility_occupancy",
        "H7_FACILITY_OVER_CAPACITY",
    )
    # a re-submitted A1 left before B came: the facility had room
    assert straddled == one_batch == beds + (0 if resubmitted else 1)
    assert alone == 1
    assert fired is (not resubmitted)


def test_facility_occupancy_counts_only_its_own_facility(
    tmp_path: Path, corrected: Reference
) -> None:
    beds = _facility_beds(corrected)
    here = [
        _claim(f"A{i}", i, [_bed(f"H{i:03d}")], stay=("00800", "21000"))
        for i in range(1, beds)
    ] + [_claim("B", 9999, [_bed("K001")], stay=("10900", "21000"))]
    elsewhere = _claim("C", 8888, [_bed("H001")], stay=("00800", "21000"))
    elsewhere["XML1"][0]["MA_CSKCB"] = "01001"
    other = tmp_path / "other.xml"
    other.write_bytes(wrapper([hoso(elsewhere)], sender="01001"))
    frames = _features(corrected, None, [_file(tmp_path, "here.xml", here), other])
    assert _value(frames, "XML3", "facility_occupancy") == beds  # not beds + 1
    assert _value(frames, "XML3", "facility_total_beds") == beds
    c = frames["XML3"].filter(pl.col("ma_lk") == "C")
    assert c["facility_occupancy"].max() == 1
    assert c["facility_total_beds"].max() == _facility_beds(corrected, "01001")


@pytest.mark.parametrize("resubmitted", [False, True])
def test_a_bed_shared_with_a_stored_stay(
    tmp_path: Path, reference: Reference, resubmitted: bool
) -> None:
    stored = [_claim("A", 1, [_bed("H001")], stay=("00800", "21000"))]
    later = [_claim("B", 2, [_bed("H001")], stay=("10900", "21000"))]
    if resubmitted:  # A again, in another bed: H001 was free
        later.append(_claim("A", 1, [_bed("H002")], stay=("00800", "21000")))
    straddled, one_batch, alone, fired = _straddle(
        tmp_path,
        reference,
        stored,
        later,
        "XML3",
        "bed_other_patients",
        "H9_BED_SHARED",
    )
    assert straddled == one_batch == (0 if resubmitted else 1)
    assert alone == 0
    assert fired is (not resubmitted)


@pytest.mark.parametrize("resubmitted", [False, True])
def test_machine_tests_of_the_day_count_the_stored_ones(
    tmp_path: Path, reference: Reference, resubmitted: bool
) -> None:
    capacity = _machine_capacity(reference)
    stored = [_claim("A", 1, [_template(1)] * capacity)]
    later = [_claim("B", 2, [_template(1)])]
    if resubmitted:  # A again with one test fewer: the machine is at capacity
        later.append(_claim("A", 1, [_template(1)] * (capacity - 1)))
    straddled, one_batch, alone, fired = _straddle(
        tmp_path,
        reference,
        stored,
        later,
        "XML3",
        "machine_tests_day",
        "J4_MACHINE_OVER_CAPACITY",
    )
    assert straddled == one_batch == capacity + (0 if resubmitted else 1)
    assert alone == (capacity if resubmitted else 1)
    assert fired is (not resubmitted)


@pytest.mark.parametrize("resubmitted", [False, True])
def test_exams_per_practitioner_day_count_the_stored_ones(
    tmp_path: Path, reference: Reference, resubmitted: bool
) -> None:
    quota = _limit(reference, "H3_EXAM_QUOTA", "max_exams")
    stored = [_claim("A", 1, [_template(0)] * quota)]
    later = [_claim("B", 2, [_template(0)])]
    if resubmitted:  # A again with one exam fewer: the practitioner is at the quota
        later.append(_claim("A", 1, [_template(0)] * (quota - 1)))
    straddled, one_batch, alone, fired = _straddle(
        tmp_path,
        reference,
        stored,
        later,
        "XML1",
        "max_exams_per_practitioner_day",
        "H3_EXAM_QUOTA",
    )
    assert straddled == one_batch == quota + (0 if resubmitted else 1)
    assert alone == (quota if resubmitted else 1)
    assert fired is (not resubmitted)
