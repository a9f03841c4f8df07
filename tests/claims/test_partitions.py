"""A day in partitions equals the day in one batch (issue 14, item 1).

``Settings(memory_budget=1)`` puts every input in a partition of its own; the default
budget runs the same inbox as one batch. Both runs leave the same run outputs,
receipts, manifest (but its wall clock) and store tables:

- on a generated day with faults;
- on small days built per cross-claim key (patient, practitioner, machine, bed,
  department, facility) whose two claims of a pair are in two input files, so in two
  partitions: the pair's check is found (its reason is on the claim) as in one batch;
- after a partitioned run killed with SIGKILL once its first part was staged: the
  rerun reuses the staged parts and equals a clean partitioned run.

A facility's inputs always share a partition (every version of a claim is numbered as
in one batch); a claim of the day in another partition is ordered as a batch claim
(J6 flags the later of two same-day visits, in (file_id, hoso_idx) order, as one batch).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pytest

from claims.pipeline.context import Reference
from claims.synthetic import generate
from tests.claims.partruns import Ran, assert_same_run, run_day
from tests.claims.test_window_checks import (
    PACK,
    _bed,
    _claim,
    _department_beds,
    _limit,
    _machine_capacity,
    _template,
)
from tests.factories import Claim, example_claim, hoso, with_key, wrapper

FACILITIES = 5


@dataclass(frozen=True)
class Day:
    """The generated day and its two runs."""

    inbox: Path
    one: Ran
    parts: Ran


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory, reference: Reference) -> Day:
    root = tmp_path_factory.mktemp("partitions")
    inbox = root / "inbox"
    generate(
        inbox, claims=200, facilities=FACILITIES, seed=21, fmt="xml", error_rate=0.3
    )
    one = run_day(inbox, root / "one", reference)
    parts = run_day(inbox, root / "parts", reference, memory_budget=1)
    return Day(inbox, one, parts)


def test_a_day_in_partitions_equals_the_day_in_one_batch(day: Day) -> None:
    files = sorted(day.inbox.glob("*.xml"))
    assert len(files) == FACILITIES
    assert day.one.reads == 1
    assert day.parts.reads == len(files)  # a partition per input
    assert day.parts.stages.count("decide") == len(files)
    # the day has what the comparison must cover: refusals, quarantine, hits
    assert day.one.result.reasons.height > 0
    assert day.one.result.hits.height > 0
    assert_same_run(day.one, day.parts)
    assert not (day.parts.settings.data_dir / "staging").exists()


# ---- straddles: a cross-claim pair in two inputs, so in two partitions


@pytest.fixture(scope="module")
def pinned() -> Reference:
    """The pack version of the window checks' tests (H7, H9, J4 and J6 are in it)."""
    return Reference.load(None, "vn-bhyt", PACK)


Files = list[list[Claim]]


def _department(reference: Reference) -> Files:
    beds = _department_beds(reference)
    # `beds` stays fill K03 from day 0 to day 2; B comes on day 1 in a file after
    stays = [
        _claim(f"A{i}", i, [_bed(f"H{i:03d}")], stay=("00800", "21000"))
        for i in range(1, beds + 1)
    ]
    return [stays, [_claim("B", 9999, [_bed("K001")], stay=("10900", "21000"))]]


def _bed_shared(_reference: Reference) -> Files:
    return [
        [_claim("A", 1, [_bed("H001")], stay=("00800", "21000"))],
        [_claim("B", 2, [_bed("H001")], stay=("10900", "21000"))],
    ]


def _machine(reference: Reference) -> Files:
    capacity = _machine_capacity(reference)
    return [
        [_claim("A", 1, [_template(1)] * capacity)],
        [_claim("B", 2, [_template(1)])],
    ]


def _practitioner(reference: Reference) -> Files:
    quota = _limit(reference, "H3_EXAM_QUOTA", "max_exams")
    return [
        [_claim("A", 1, [_template(0)] * quota)],
        [_at(_claim("B", 2, [_template(0)]), "79001")],
    ]


def _at(claim: Claim, facility: str) -> Claim:
    """``claim`` as sent by ``facility``."""
    for rows in claim.values():
        for row in rows:
            if "MA_CSKCB" in row:
                row["MA_CSKCB"] = facility
    return claim


def _practitioner_places(_reference: Reference) -> Files:
    """BS001 examines at the example's facility and at another one on one day: the
    two facilities' files, so two partitions of any plan that groups facilities."""
    return [
        [_claim("A", 1, [_template(0)])],
        [_at(_claim("B", 2, [_template(0)]), "79001")],
    ]


def _patient_stays(_reference: Reference) -> Files:
    return [
        [_claim("A", 1, [_template(1)], stay=("00800", "21000"))],
        [_at(_claim("B", 1, [_template(1)], stay=("11000", "31000")), "79001")],
    ]


def _on_day(claim: Claim, day: int) -> Claim:
    """``claim`` moved from :data:`DAY` (6 Oct 2025) to ``day`` days later."""
    to = f"202510{6 + day:02d}"
    for rows in claim.values():
        for row in rows:
            for k, v in row.items():
                if v is not None and v.startswith("20251006"):
                    row[k] = to + v[8:]
    return claim


def _patient_drugs(_reference: Reference) -> Files:
    """The example's drugs for 5 and 7 days, then the same two days later: B's are
    still on hand."""
    later = _at(_on_day(with_key(example_claim(), "B"), 2), "79001")
    return [[with_key(example_claim(), "A")], [later]]


def _without_drugs(claim: Claim) -> Claim:
    """``claim`` without XML2: no drug of it is on hand for another claim (J6)."""
    claim.pop("XML2")
    return claim


def _facility_day(_reference: Reference) -> Files:
    """Two visits of one patient at one facility on one day, in its two files."""
    return [
        [_claim("A", 1, [_template(1)])],
        [_without_drugs(_claim("B", 1, [_template(0)]))],
    ]


STRADDLES: dict[str, tuple[Callable[[Reference], Files], str]] = {
    "department": (_department, "H7_DEPARTMENT_OVER_CAPACITY"),
    "bed": (_bed_shared, "H9_BED_SHARED"),
    "machine": (_machine, "J4_MACHINE_OVER_CAPACITY"),
    "practitioner": (_practitioner, "H3_EXAM_QUOTA"),
    "practitioner-places": (_practitioner_places, "J3_PRACTITIONER_TWO_PLACES"),
    "patient-stays": (_patient_stays, "J2_OVERLAPPING_STAY"),
    "patient-drugs": (_patient_drugs, "J6_DRUG_ON_HAND"),
    "facility-day": (_facility_day, "J1_SAME_DAY_CLAIMS"),
}


FACILITY_LOCAL = {"department", "bed", "machine", "facility-day"}


def _on_b(ran: Ran, rule: str) -> tuple[set[str], set[str]]:
    """The reason codes of ``rule``'s fired hits on claim B, and B's decision's."""
    run = ran.run_dir
    b = (
        pl.read_parquet(run / "claims.parquet")
        .filter(pl.col("ma_lk") == "B")
        .select("file_id", "hoso_idx")
    )
    assert b.height == 1
    hits = (
        pl.read_parquet(run / "rule_hits.parquet")
        .join(b, on=["file_id", "hoso_idx"])
        .filter((pl.col("rule_id") == rule) & (pl.col("outcome") == "fired"))
    )
    reasons = pl.read_parquet(run / "decision_reasons.parquet").join(
        b, on=["file_id", "hoso_idx"]
    )
    return set(hits["reason_code"]), set(reasons["code"])


def _inbox(root: Path, files: Files) -> Path:
    """Every file of ``files`` (sent by its first claim's facility), in inbox order."""
    inbox = root / "inbox"
    inbox.mkdir(parents=True)
    for n, claims in enumerate(files):
        sender = claims[0]["XML1"][0]["MA_CSKCB"] or ""
        (inbox / f"{n}.xml").write_bytes(wrapper([hoso(c) for c in claims], sender))
    return inbox


@pytest.mark.parametrize("key", sorted(STRADDLES))
def test_a_pair_straddling_two_partitions_is_found_as_in_one_batch(
    tmp_path: Path, pinned: Reference, key: str
) -> None:
    build, rule = STRADDLES[key]
    files = build(pinned)
    inbox = _inbox(tmp_path, files)
    one = run_day(inbox, tmp_path / "one", pinned)
    parts = run_day(inbox, tmp_path / "parts", pinned, memory_budget=1)
    # a facility's files share a partition: facility-local keys (department, bed,
    # machine, facility) never straddle; patient and practitioner keys do
    senders = {claims[0]["XML1"][0]["MA_CSKCB"] for claims in files}
    assert (one.reads, parts.reads) == (1, len(senders))
    assert key in FACILITY_LOCAL or parts.reads == 2
    fired, reasons = _on_b(parts, rule)
    assert fired, f"{rule} did not fire on B across partitions"
    assert fired <= reasons
    assert _on_b(one, rule) == (fired, reasons)
    assert_same_run(one, parts)


def test_drugs_of_two_visits_on_one_day_in_two_partitions_as_in_one_batch(
    tmp_path: Path, pinned: Reference
) -> None:
    """One batch flags the later of two same-day visits (in file_id, hoso_idx order)
    with J6; the partition of the later one sees the earlier as a claim of the day
    (ordered by its keys, not as earlier stored supply), so only it is flagged."""
    files = [
        [with_key(example_claim(), "A")],
        [_at(with_key(example_claim(), "B"), "79001")],
    ]
    inbox = _inbox(tmp_path, files)
    one = run_day(inbox, tmp_path / "one", pinned)
    parts = run_day(inbox, tmp_path / "parts", pinned, memory_budget=1)
    assert parts.reads == 2
    hits = [
        pl.read_parquet(r.run_dir / "rule_hits.parquet")
        .filter(pl.col("rule_id") == "J6_DRUG_ON_HAND")
        .select("file_id", "hoso_idx", "line_no")
        .sort(pl.all())
        for r in (one, parts)
    ]
    assert hits[0].height > 0
    assert hits[0].equals(hits[1])
    assert_same_run(one, parts)


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory, pinned: Reference) -> Pair:
    """A facility's two files of a day share a partition whatever the budget: claim A
    sent in the first and re-sent changed in the second, claim W sent in the first
    and withdrawn in the second."""
    tmp_path = tmp_path_factory.mktemp("versions")
    # without drugs: a same-day pair's J6 is the known bug of the test above
    kept, again, first, withdrawal = (
        _without_drugs(with_key(example_claim(), k)) for k in "AAWW"
    )
    again["XML1"][0]["CAN_NANG"] = "61"
    withdrawal["XML1"][0]["MA_DOITUONG_KCB"] = "8"
    inbox = _inbox(tmp_path, [[kept, first], [again, withdrawal]])
    one = run_day(inbox, tmp_path / "one", pinned)
    parts = run_day(inbox, tmp_path / "parts", pinned, memory_budget=1)
    assert (one.reads, parts.reads) == (1, 1)
    return one, parts


Pair = tuple[Ran, Ran]


def _stored_versions(ran: Ran) -> pl.DataFrame:
    with duckdb.connect(str(ran.settings.store_path), read_only=True) as con:
        frame: pl.DataFrame = con.sql(
            "SELECT c.ma_lk, c.file_id, c.hoso_idx, c.version, c.is_current, "
            "c.withdrawn, s.status FROM claims c JOIN claim_status s "
            "USING (file_id, hoso_idx) ORDER BY ALL"
        ).pl()
    return frame


def test_versions_of_a_claim_in_two_files_are_stored_as_in_one_batch(
    versions: Pair,
) -> None:
    one, parts = versions
    stored = _stored_versions(parts)
    assert stored.equals(_stored_versions(one))
    current = stored.filter("is_current")
    assert current.select("ma_lk", "version", "withdrawn").rows() == [
        ("A", 2, False),
        ("W", 2, True),
    ]


def test_versions_of_a_claim_in_two_files_are_assessed_as_in_one_batch(
    versions: Pair,
) -> None:
    assert_same_run(*versions)


# ---- resume after kill -9


RUN = (
    "import sys; from pathlib import Path; from claims.config import Settings; "
    "from claims.pipeline.daily import run_inbox; "
    "run_inbox(Path(sys.argv[1]), move_files=False, "
    "settings=Settings(data_dir=Path(sys.argv[2]), memory_budget=1))"
)


def _kill_once_staged(inbox: Path, data: Path, part: str) -> None:
    """A partitioned run of ``inbox`` in a process of its own, killed with SIGKILL as
    soon as a staged part named ``part`` exists."""
    log = data.parent / f"{part}.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", RUN, str(inbox), str(data)],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    deadline = time.monotonic() + 300
    try:
        while not _exists(data / "staging", part):
            assert proc.poll() is None, log.read_text("utf-8")
            assert time.monotonic() < deadline, f"{part} never appeared"
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL


def _exists(staging: Path, part: str) -> bool:
    """A staged part ``part`` exists (``<plan>/read-…`` or ``<plan>/<run>/decided-…``);
    the folders are walked while the run writes and renames them."""
    depth = "*/*/" if part.startswith("decided") else "*/"
    try:
        return any(staging.glob(depth + part))
    except OSError:
        return False


def _staged(data: Path, prefix: str) -> int:
    """Complete staged parts ``prefix-NNNNN`` (not a part being written)."""
    return sum(1 for p in (data / "staging").glob(f"**/{prefix}-*") if p.is_dir())


@pytest.mark.e2e
@pytest.mark.parametrize("part", ["read-00000", "decided-00000"])
def test_a_partitioned_run_killed_then_rerun_equals_a_clean_one(
    tmp_path: Path, day: Day, reference: Reference, part: str
) -> None:
    data = tmp_path / "data"
    _kill_once_staged(day.inbox, data, part)
    read, decided = _staged(data, "read"), _staged(data, "decided")
    assert read >= 1
    assert decided >= (part == "decided-00000")
    assert read < FACILITIES or decided < FACILITIES
    # a staging folder of another plan (a run that died on other inputs)
    stale = data / "staging" / "0123456789abcdef"
    (stale / "read-00000").mkdir(parents=True)
    rerun = run_day(day.inbox, data, reference, memory_budget=1)
    # the staged parts are reused: only the missing ones are read or decided again
    assert rerun.reads == FACILITIES - read
    assert rerun.stages.count("decide") == FACILITIES - decided
    assert any(f"removed {stale}" in n for n in rerun.result.notices)
    assert any("took over the store's lock" in n for n in rerun.result.notices)
    assert not (data / "staging").exists()
    assert_same_run(day.parts, rerun)
    shutil.rmtree(data)


def test_plan_keeps_a_facilitys_inputs_together_in_inbox_order() -> None:
    """Every input of one facility (transitively, through a bulk folder holding
    several) in one partition, each partition in inbox order, whatever the budget."""
    from claims.intake import Scan
    from claims.pipeline.partitions import plan

    senders = ["01030", "79001", "01030", "48001", "79001"]
    new = [(Path(f"/nowhere/{n}.xml"), f"h{n}") for n in range(len(senders))]
    scans = {
        path: Scan(digest, 10_000, edges=f"<MACSKCB>{s}</MACSKCB>".encode())
        for (path, digest), s in zip(new, senders, strict=True)
    }
    parts = plan(new, scans, budget=1)
    assert [[d for _, d in p] for p in parts] == [["h0", "h2"], ["h1", "h4"], ["h3"]]
    assert plan(new, scans, budget=64 * 1024**3) == [new]
