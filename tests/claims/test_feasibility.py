"""Cross-claim feasibility over the batch and the stored history (issue 15 item 1).

Per flag, on tiny literal claims through the real validate, price and features stages:
a hit, a near miss, claims at two facilities, claims either side of midnight, and the
pair split over two runs of a real DuckDB store (the first claims stored by
``run_inbox``, claim B by a second run: B's feature read from the store equals one
batch of both, and the rule fired on B). The exams per practitioner-day (H3), beds
(H7, H9, the facility's total beds), machines (J4) and drugs on hand (J6) across two
runs are
``tests/claims/test_window_checks.py``'s and ``tests/claims/test_episode_checks.py``'s.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from claims.config import Settings
from claims.pipeline.context import Reference
from claims.pipeline.daily import run_inbox
from tests.claims.test_window_checks import _features, _fired_on_b
from tests.factories import Claim, example_claim, hoso, with_key, wrapper

PACK = "vn-bhyt@2025.01.3"  # .2 (feasibility) and .3 (capacity) corrections
HERE, THERE = "01030", "01001"
"""Two facilities of the catalog."""


@pytest.fixture(scope="module")
def reference() -> Reference:
    return Reference.load(None, "vn-bhyt", PACK)


def _claim(
    ma_lk: str,
    patient: int = 1,
    *,
    facility: str = HERE,
    stay: tuple[str, str] = ("202510060815", "202510061130"),
    inpatient: bool = False,
    icd: str = "J18.9",
    exam_only: bool = False,
    times: tuple[str, str] | None = None,
) -> Claim:
    """The example claim as ``ma_lk`` of ``patient`` at ``facility``, admitted and
    discharged at ``stay`` (an inpatient stay when ``inpatient``), its lines ordered
    and done at admission with results at discharge; ``exam_only``: its exam line
    alone (performer BS001), done from ``times[0]`` to ``times[1]`` when given."""
    claim = with_key(example_claim(), ma_lk)
    vao, ra = stay
    claim["XML1"][0] |= {
        "MA_THE_BHYT": f"GD401{patient:010d}",
        "MA_CSKCB": facility,
        "NGAY_VAO": vao,
        "NGAY_RA": ra,
        "NGAY_TTOAN": ra,
        "MA_BENH_CHINH": icd,
    }
    if inpatient:
        claim["XML1"][0] |= {
            "MA_LOAI_KCB": "03",
            "SO_NGAY_DTRI": "1",
            "LY_DO_VNT": "Sốt cao",
            "KET_QUA_DTRI": "1",
        }
    if exam_only:
        claim["XML2"] = []
        claim["XML3"] = claim["XML3"][:1]
    for row in claim["XML2"]:
        row |= {"NGAY_YL": vao, "NGAY_TH_YL": vao}
    start, end = times or (vao, ra)
    for row in claim["XML3"]:
        row |= {"NGAY_YL": start, "NGAY_TH_YL": start, "NGAY_KQ": end}
    return claim


def _files(folder: Path, claims: list[Claim]) -> list[Path]:
    """One file per facility (each sent by its facility) of ``claims``."""
    folder.mkdir(parents=True, exist_ok=True)
    by_facility: dict[str, list[Claim]] = {}
    for c in claims:
        by_facility.setdefault(str(c["XML1"][0]["MA_CSKCB"]), []).append(c)
    paths = []
    for facility, group in by_facility.items():
        path = folder / f"{facility}.xml"
        path.write_bytes(wrapper([hoso(c) for c in group], sender=facility))
        paths.append(path)
    return paths


def _batch(
    tmp_path: Path, reference: Reference, claims: list[Claim], feature: str
) -> dict[str, object]:
    """``feature`` per MA_LK in one store-less batch of ``claims``."""
    paths = _files(tmp_path / "batch", claims)
    frame = _features(reference, None, paths)["XML1"]
    assert frame.height == len(claims)
    return dict(zip(frame["ma_lk"], frame[feature], strict=True))


def _two_runs(
    tmp_path: Path,
    reference: Reference,
    first: list[Claim],
    second: list[Claim],
    feature: str,
    rule: str,
) -> tuple[object, object, bool]:
    """``first`` stored by one run, ``second`` (with claim B) by the next: B's feature
    read against the store before the second run, in one batch of both, and whether
    ``rule`` fired on B in the store."""
    settings = Settings(data_dir=tmp_path / "data")
    run_inbox(
        _files(tmp_path / "in1", first)[0].parent,
        settings=settings,
        reference=reference,
    )
    paths = _files(tmp_path / "in2", second)
    stored = _features(reference, settings, paths)["XML1"]
    straddled = stored.filter(pl.col("ma_lk") == "B")[feature].max()
    together = _batch(tmp_path / "one", reference, first + second, feature)["B"]
    run_inbox(paths[0].parent, settings=settings, reference=reference)
    return straddled, together, _fired_on_b(settings, rule)


# ---- J1 near-duplicates: same patient, facility and admission day, mostly the same items


def test_near_duplicate_hit_and_near_miss(tmp_path: Path, reference: Reference) -> None:
    # A and B the same four items; C only the exam: 1 shared of 4 lines
    claims = [_claim("A"), _claim("B"), _claim("C", exam_only=True)]
    found = _batch(tmp_path, reference, claims, "duplicate_percent")
    assert found == {"A": 100, "B": 100, "C": 25}


def test_near_duplicate_across_facilities_and_midnight(
    tmp_path: Path, reference: Reference
) -> None:
    claims = [
        _claim("A", stay=("202510062350", "202510062359")),
        _claim("B", facility=THERE, stay=("202510062350", "202510062359")),
        _claim("C", stay=("202510070005", "202510070030")),
    ]
    found = _batch(tmp_path, reference, claims, "duplicate_percent")
    assert found == {"A": None, "B": None, "C": None}


def test_near_duplicate_across_two_runs(tmp_path: Path, reference: Reference) -> None:
    straddled, together, fired = _two_runs(
        tmp_path,
        reference,
        [_claim("A")],
        [_claim("B")],
        "duplicate_percent",
        "J1_NEAR_DUPLICATE",
    )
    assert straddled == together == 100
    assert fired


# ---- J7 "tách đợt": a readmission at the same facility for the same ICD-10 category


def _stay(
    ma_lk: str,
    patient: int,
    vao: str,
    ra: str,
    *,
    facility: str = HERE,
    icd: str = "J18.9",
) -> Claim:
    return _claim(
        ma_lk, patient, facility=facility, stay=(vao, ra), inpatient=True, icd=icd
    )


def test_split_episode_hit_and_near_miss(tmp_path: Path, reference: Reference) -> None:
    claims = [
        _stay("A", 1, "202510060800", "202510081000"),
        _stay("B", 1, "202510110800", "202510121000", icd="J18.1"),  # 3 days after
        _stay("C", 2, "202510060800", "202510081000"),
        _stay("D", 2, "202510120800", "202510131000"),  # 4 days after
        _stay("E", 3, "202510060800", "202510081000"),
        _stay("F", 3, "202510090800", "202510101000", icd="J15.9"),  # another category
    ]
    found = _batch(tmp_path, reference, claims, "readmission_days")
    assert found == {"A": None, "B": 3, "C": None, "D": 4, "E": None, "F": None}


def test_split_episode_across_facilities_and_midnight(
    tmp_path: Path, reference: Reference
) -> None:
    claims = [
        _stay("A", 1, "202510060800", "202510062350"),
        _stay("B", 1, "202510070010", "202510071000"),  # ten minutes after midnight
        _stay("C", 2, "202510060800", "202510062350"),
        _stay("D", 2, "202510070010", "202510071000", facility=THERE),
    ]
    found = _batch(tmp_path, reference, claims, "readmission_days")
    assert found == {"A": None, "B": 1, "C": None, "D": None}


def test_split_episode_across_two_runs(tmp_path: Path, reference: Reference) -> None:
    straddled, together, fired = _two_runs(
        tmp_path,
        reference,
        [_stay("A", 1, "202510060800", "202510081000")],
        [_stay("B", 1, "202510090800", "202510101000")],
        "readmission_days",
        "J7_SPLIT_EPISODE",
    )
    assert straddled == together == 1
    assert fired


# ---- J2: an outpatient visit at another facility during a stay (both claims)


def test_visit_during_stay_hit_near_miss_and_facilities(
    tmp_path: Path, reference: Reference
) -> None:
    claims = [
        _stay("A", 1, "202510060800", "202510081000"),
        _claim("B", 1, facility=THERE, stay=("202510071400", "202510071500")),
        _stay("C", 2, "202510060800", "202510081000"),
        _claim("D", 2, facility=THERE, stay=("202510081000", "202510081100")),  # after
        _stay("E", 3, "202510060800", "202510081000"),
        _claim("F", 3, stay=("202510071400", "202510071500")),  # the same facility
    ]
    found = _batch(tmp_path, reference, claims, "visits_during_stay")
    assert found == {"A": 1, "B": 1, "C": 0, "D": 0, "E": 0, "F": 0}


def test_visit_during_stay_across_midnight_and_two_runs(
    tmp_path: Path, reference: Reference
) -> None:
    stay = _stay("A", 1, "202510060800", "202510070030")
    visit = _claim("B", 1, facility=THERE, stay=("202510070010", "202510070020"))
    straddled, together, fired = _two_runs(
        tmp_path,
        reference,
        [stay],
        [visit],
        "visits_during_stay",
        "J2_VISIT_DURING_STAY",
    )
    assert straddled == together == 1
    assert fired


# ---- J3: one performer at two facilities at overlapping times


def _exam(ma_lk: str, patient: int, facility: str, start: str, end: str) -> Claim:
    day = (start[:8] + "0000", end[:8] + "2359")
    return _claim(
        ma_lk, patient, facility=facility, stay=day, exam_only=True, times=(start, end)
    )


def test_overlapping_times_hit_and_near_miss(
    tmp_path: Path, reference: Reference
) -> None:
    claims = [
        _exam("A", 1, HERE, "202510060830", "202510060925"),
        _exam("B", 2, THERE, "202510060900", "202510060930"),  # overlaps A
        _exam("C", 3, THERE, "202510061000", "202510061030"),  # after A, B
    ]
    overlap = _batch(tmp_path, reference, claims, "practitioner_overlapping_lines")
    places = _batch(
        tmp_path / "p", reference, claims, "practitioner_facilities_same_day"
    )
    assert overlap == {"A": 1, "B": 1, "C": 0}
    assert places == {"A": 2, "B": 2, "C": 2}  # the same day: J3's day-level flag


def test_overlapping_times_need_two_facilities_and_cross_midnight(
    tmp_path: Path, reference: Reference
) -> None:
    claims = [
        _exam("A", 1, HERE, "202510062330", "202510070030"),
        _exam("B", 2, HERE, "202510062345", "202510062359"),  # same facility
        _exam("C", 3, THERE, "202510070010", "202510070040"),  # after midnight
    ]
    found = _batch(tmp_path, reference, claims, "practitioner_overlapping_lines")
    assert found == {"A": 1, "B": 0, "C": 1}


def test_overlapping_times_across_two_runs(
    tmp_path: Path, reference: Reference
) -> None:
    straddled, together, fired = _two_runs(
        tmp_path,
        reference,
        [_exam("A", 1, HERE, "202510060830", "202510060925")],
        [_exam("B", 2, THERE, "202510060900", "202510060930")],
        "practitioner_overlapping_lines",
        "J3_PRACTITIONER_OVERLAPPING_TIMES",
    )
    assert straddled == together == 1
    assert fired


# ---- the day-level flags that existed (J1 same day, J2, J3 same day, J7 visits)


def _visits() -> list[Claim]:
    return [
        _claim(f"A{d}", stay=(f"202510{d:02d}0815", f"202510{d:02d}0900"))
        for d in range(1, 9)
    ]


@pytest.mark.parametrize(
    ("first", "second", "feature", "rule", "expected"),
    [
        pytest.param(
            [_claim("A", stay=("202510060815", "202510060900"))],
            [_claim("B", facility=THERE, stay=("202510061400", "202510061500"))],
            "same_day_claims",
            "J1_SAME_DAY_CLAIMS",
            1,
            id="J1-same-day-other-facility",
        ),
        pytest.param(
            [_stay("A", 1, "202510060800", "202510081000")],
            [_stay("B", 1, "202510070800", "202510091000", facility=THERE)],
            "overlapping_stays",
            "J2_OVERLAPPING_STAY",
            1,
            id="J2-stays-at-two-facilities",
        ),
        pytest.param(
            [_exam("A", 1, HERE, "202510060830", "202510060925")],
            [_exam("B", 2, THERE, "202510061400", "202510061430")],
            "practitioner_facilities_same_day",
            "J3_PRACTITIONER_TWO_PLACES",
            2,
            id="J3-two-places-same-day",
        ),
        pytest.param(
            _visits(),
            [_claim("B", stay=("202510100815", "202510100900"))],
            "visits_30d",
            "J7_FREQUENT_VISITS",
            8,
            id="J7-visits-on-earlier-days",
        ),
    ],
)
def test_day_level_flags_across_two_runs(
    tmp_path: Path,
    reference: Reference,
    first: list[Claim],
    second: list[Claim],
    feature: str,
    rule: str,
    expected: int,
) -> None:
    straddled, together, fired = _two_runs(
        tmp_path, reference, first, second, feature, rule
    )
    assert straddled == together == expected
    assert fired


# ---- J7 visits for the same condition (ICD-10 category) in the 30 days before


def _visit(ma_lk: str, patient: int, when: str, icd: str, **kw: str) -> Claim:
    """An outpatient visit of ``patient`` admitted at ``when`` (yyyymmddHHMM, 10 min)."""
    end = when[:10] + f"{int(when[10:]) + 10:02d}"
    return _claim(ma_lk, patient, stay=(when, end), icd=icd, **kw)


def test_visits_same_condition_hit_and_near_miss(
    tmp_path: Path, reference: Reference
) -> None:
    claims = [
        # patient 1: four J18 visits on days 1–4 (J18.9, J18.1: one category), then B
        *(
            _visit(f"A{d}", 1, f"202510{d:02d}0815", f"J18.{d % 2}")
            for d in (1, 2, 3, 4)
        ),
        _visit("B", 1, "202510050815", "J18.9"),
        # patient 2: three J18 visits and one 31 days before C: C sees 3
        _visit("P0", 2, "202509040815", "J18.9"),
        *(_visit(f"P{d}", 2, f"202510{d:02d}0815", "J18.9") for d in (1, 2, 3)),
        _visit("C", 2, "202510050815", "J18.9"),
        # patient 3: four visits of other categories, then D for J18
        *(
            _visit(f"Q{d}", 3, f"202510{d:02d}0815", icd)
            for d, icd in ((1, "J15.9"), (2, "J20.9"), (3, "K29.7"), (4, "I10"))
        ),
        _visit("D", 3, "202510050815", "J18.9"),
    ]
    found = _batch(tmp_path, reference, claims, "visits_30d_same_condition")
    assert (found["B"], found["C"], found["D"]) == (4, 3, 0)
    assert found["A4"] == 3  # A1–A3 before it
    assert found["P0"] == 0
    everything = _batch(tmp_path / "all", reference, claims, "visits_30d")
    assert everything["D"] == 4  # every visit counts for J7_FREQUENT_VISITS


def test_visits_same_condition_across_facilities_and_midnight(
    tmp_path: Path, reference: Reference
) -> None:
    claims = [
        _visit("A1", 1, "202510020815", "J18.9", facility=THERE),
        _visit("A2", 1, "202510030815", "J18.9"),
        _visit("A3", 1, "202510040815", "J18.9", facility=THERE),
        _visit("A4", 1, "202510042345", "J18.9"),  # the evening before B
        _visit("B", 1, "202510050005", "J18.9"),  # five minutes after midnight
        _visit("C", 1, "202510050030", "J18.9", facility=THERE),  # B's day: not before
    ]
    found = _batch(tmp_path, reference, claims, "visits_30d_same_condition")
    assert found["B"] == 4
    assert found["C"] == 4  # B, the same day, is not an earlier visit


def test_visits_same_condition_across_two_runs(
    tmp_path: Path, reference: Reference
) -> None:
    earlier = [
        _visit(f"A{d}", 1, f"202510{d:02d}0815", "J18.9", facility=(HERE, THERE)[d % 2])
        for d in (1, 2, 3, 4)
    ]
    straddled, together, fired = _two_runs(
        tmp_path,
        reference,
        earlier,
        [_visit("B", 1, "202510050815", "J18.1")],
        "visits_30d_same_condition",
        "J7_FREQUENT_VISITS_SAME_CONDITION",
    )
    assert straddled == together == 4
    assert fired
