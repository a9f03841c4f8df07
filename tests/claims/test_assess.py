"""The assess stage: every stored claim gets one outcome from the pack version of its date."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl

from claims.assess import assess, load_packs
from claims.config import Settings
from claims.features import Features, features
from claims.intake import Submission, read_submission
from claims.pipeline.context import Reference, RunContext
from claims.pipeline.daily import run_inbox
from claims.pipeline.stages import Frames, run_stages, stages_named
from claims.schema import Batch
from rules.evaluate import NO_RULE_PACK, select_packs
from rules.packs import PACKS_ROOT
from tests.conftest import GeneratedDay
from tests.factories import example_claim, hoso, wrapper


def _batch(tmp_path: Path) -> Batch:
    path = tmp_path / "a.xml"
    path.write_bytes(wrapper([hoso(example_claim())]))
    sub = read_submission(path, max_bytes=1 << 30)
    assert isinstance(sub, Submission)
    reference = Reference.load(None, "vn-bhyt")
    ctx = RunContext("test", "2025-10-06", reference, Settings())
    done = run_stages(
        ctx, Frames(submissions=(sub,)), stages=stages_named("validate", "price")
    )
    return done.batch(ctx)


def _featured(tmp_path: Path) -> tuple[Batch, Features]:
    batch = _batch(tmp_path)
    return batch, features(batch)


def test_the_example_claim_is_assessed_by_the_version_of_its_date(
    tmp_path: Path,
) -> None:
    packs = select_packs(load_packs(), "vn-bhyt")
    result = assess(*_featured(tmp_path), packs)
    row = result.claims.row(0, named=True)
    assert row["pack"].startswith("vn-bhyt@2025.01.3#")  # admitted 2025-10-06
    # the correction's registry and attribute checks: the example's doctors, drug and
    # service names are not those of the (synthetic) catalogs of facility 01030
    assert row["outcome"] == "pending_review"
    assert set(row["reason_codes"]) >= {
        "DRUG_NOT_IN_CATALOG",
        "DRUG_PRICE_ABOVE_CATALOG",
        "PRESCRIBER_NOT_REGISTERED",
        "SERVICE_NAME_MISMATCH",
    }
    # the corrected version, pinned, decides as it did: its drug 40.290 is not in the
    # catalog (that line rejected, the claim partially accepted); 40.153 is billed
    # above the bid price
    old = [p for p in load_packs() if p.spec.version == "2025.01.0"]
    (tmp_path / "old").mkdir()
    result = assess(*_featured(tmp_path / "old"), old, pinned=True)
    row = result.claims.row(0, named=True)
    assert row["outcome"] == "partially_accepted"
    assert row["reason_codes"] == ["DRUG_NOT_IN_CATALOG", "DRUG_PRICE_ABOVE_CATALOG"]
    fired = result.hits.select("table", "line_no", "rule_id").sort("line_no").rows()
    assert fired == [
        ("XML2", 1, "E3_DRUG_PRICE_ABOVE_CATALOG"),
        ("XML2", 2, "E1_DRUG_NOT_IN_CATALOG"),
    ]


def test_a_claim_no_version_covers_goes_to_review(tmp_path: Path) -> None:
    root = tmp_path / "packs"
    shutil.copytree(PACKS_ROOT, root)
    for version in (root / "vn-bhyt").iterdir():
        if version.name != "checks" and not version.name.startswith("2026.07."):
            shutil.rmtree(version)  # with its corrections
    packs = select_packs(load_packs(root), "vn-bhyt")  # from 2026-07-01 only
    result = assess(*_featured(tmp_path), packs)
    row = result.claims.row(0, named=True)
    assert row["outcome"] == "pending_review"
    assert row["reason_codes"] == [NO_RULE_PACK]
    assert row["pack"] is None


def test_pinned_version_applies_whatever_the_date(tmp_path: Path) -> None:
    packs = [p for p in load_packs() if p.spec.version == "2019.07.0"]
    result = assess(*_featured(tmp_path), packs, pinned=True)
    assert result.claims["pack"][0].startswith("vn-bhyt@2019.07.0#")


def test_pipeline_assesses_every_stored_claim_and_finds_injected_overlaps(
    generated_day: GeneratedDay,
) -> None:
    truth = generated_day.truth
    result = generated_day.result
    stored = result.claims.filter(pl.col("status") != "rejected")
    assert result.assessments.height == stored.height > 300
    assert result.assessments.select("file_id", "hoso_idx").is_unique().all()
    hits = generated_day.sql(
        "SELECT a.ma_cskcb, a.ma_lk, h.rule_id, a.outcome FROM rule_hits h "
        "JOIN assessments a USING (file_id, hoso_idx)"
    )
    overlaps = truth.filter(pl.col("kind") == "overlapping_stay").select(
        "ma_cskcb", "ma_lk"
    )
    assert overlaps.height > 0
    found = hits.filter(pl.col("rule_id") == "J2_OVERLAPPING_STAY")
    missed = overlaps.join(found, on=["ma_cskcb", "ma_lk"], how="anti")
    assert missed.height == 0, missed
    assert set(found["outcome"]) == {"pending_review"}
    # every hit row names the pack version and an action
    assert hits["rule_id"].null_count() == 0


def _stay(ma_lk: str, vao: str, ra: str) -> bytes:
    from tests.factories import with_key

    claim = with_key(example_claim(), ma_lk)
    claim["XML1"][0] |= {"MA_LOAI_KCB": "03", "NGAY_VAO": vao, "NGAY_RA": ra}
    claim["XML1"][0] |= {
        "SO_NGAY_DTRI": "2",
        "LY_DO_VNT": "Sốt cao",
        "KET_QUA_DTRI": "1",
    }
    return wrapper([hoso(claim)])


def test_a_stay_overlapping_a_stored_claim_of_an_earlier_run_goes_to_review(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = tmp_path / "in1"
    first.mkdir()
    (first / "a.xml").write_bytes(_stay("STAY1", "202510060800", "202510081000"))
    one = run_inbox(first, settings=settings)
    assert one.hits.filter(pl.col("rule_id") == "J2_OVERLAPPING_STAY").height == 0
    second = tmp_path / "in2"
    second.mkdir()
    # the same patient, admitted again while the first stay had not ended
    (second / "b.xml").write_bytes(_stay("STAY2", "202510071000", "202510091000"))
    two = run_inbox(second, settings=settings)
    fired = two.hits.filter(pl.col("outcome") == "fired")["rule_id"].to_list()
    assert "J2_OVERLAPPING_STAY" in fired
    assert two.assessments["outcome"].to_list() == ["pending_review"]
