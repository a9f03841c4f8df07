"""``rules explain`` and ``rules shadow`` in process, on the generated day: explain puts
the stored decision beside the one the stages give now; shadow goes through decide and
reports the money a draft would move, from the same decisions the store holds."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from claims.assess import load_packs
from claims.config import Settings
from claims.pipeline.explain import explain_claim, shadow
from claims.settle import paid
from rules.evaluate import Pack
from rules.packs import PACKS_ROOT
from tests.conftest import GeneratedDay
from tests.factories import lower_benefit_level_4

SAME = ("outcome", "accepted_t_bhtt", "rejected_amount", "pack", "run_id")


@pytest.fixture(scope="module")
def packs() -> list[Pack]:
    return load_packs()


def _row(frame: pl.DataFrame) -> dict[str, object]:
    assert frame.height == 1
    return frame.row(0, named=True)


def test_explain_recomputes_the_stored_decision(
    generated_day: GeneratedDay, packs: list[Pack]
) -> None:
    fired = generated_day.sql(
        "SELECT a.ma_cskcb, a.ma_lk, h.rule_id FROM rule_hits h JOIN assessments a "
        "USING (file_id, hoso_idx) WHERE h.outcome = 'fired' AND h.line_no IS NULL "
        "ORDER BY a.ma_lk LIMIT 1"
    )
    facility, claim, rule = fired.row(0)
    found = explain_claim(generated_day.settings, packs, facility, claim)
    stored, now = _row(found.stored), _row(found.recomputed)
    assert stored["run_id"] == generated_day.result.run_id
    assert {k: now[k] for k in SAME} == {k: stored[k] for k in SAME}
    assert now["catalogs"] == stored["catalogs"]
    # every rule of the claim's pack version is listed, the one that fired among them
    assert found.pack is not None
    assert found.pack.label == stored["pack"]
    assert found.rules.height == len(found.pack.rules)
    assert found.rules.filter(pl.col("rule_id") == rule)["fired"].item() > 0
    assert found.frames["XML1"].height == 1


def test_explain_under_other_catalogs_shows_both_decisions(
    generated_day: GeneratedDay, packs: list[Pack], tmp_path: Path
) -> None:
    """Level 4 at 70 %: a claim paid at 80 % is recomputed lower; the stored decision
    is still what was paid."""
    decisions = generated_day.sql(
        "SELECT ma_cskcb, ma_lk, accepted_t_bhtt FROM decisions WHERE benefit_level = 4 "
        "AND law_muc_huong = 80 AND outcome = 'accepted' ORDER BY ma_lk LIMIT 1"
    )
    facility, claim, accepted = decisions.row(0)
    overlay = lower_benefit_level_4(tmp_path / "overlay")
    settings = Settings(data_dir=generated_day.settings.data_dir, catalog_dir=overlay)
    found = explain_claim(settings, packs, facility, claim)
    stored, now = _row(found.stored), _row(found.recomputed)
    assert stored["accepted_t_bhtt"] == accepted
    assert 0 < now["accepted_t_bhtt"] < accepted
    assert now["law_muc_huong"] == 70
    assert now["catalogs"] != stored["catalogs"]
    assert "BENEFIT_RATE_MISMATCH" in now["reason_codes"]


def _draft(root: Path) -> Path:
    """A packs folder with draft vn-bhyt@2026.12.0: every exam goes to review."""
    shutil.copytree(PACKS_ROOT, root)
    draft = root / "vn-bhyt" / "2026.12.0"
    draft.mkdir()
    text = (root / "vn-bhyt" / "2026.07.0" / "pack.yaml").read_text(encoding="utf-8")
    text = text.replace("version: 2026.07.0", "version: 2026.12.0")
    text = text.replace("status: released", "status: draft")
    changed = text.replace("params: {max_exams: 65}", "params: {max_exams: 0}")
    assert changed != text
    (draft / "pack.yaml").write_text(changed, encoding="utf-8")
    return root


def test_shadow_reports_the_money_a_draft_moves(
    generated_day: GeneratedDay, tmp_path: Path
) -> None:
    every = load_packs(_draft(tmp_path / "packs"))
    (draft,) = [p for p in every if p.spec.version == "2026.12.0"]
    found = shadow(generated_day.settings, every, draft, date(2026, 10, 1))
    stored = generated_day.sql(
        "SELECT d.* FROM decisions d JOIN claims c USING (file_id, hoso_idx) "
        "WHERE c.ngay_vao >= DATE '2026-10-01'"
    ).select("ma_cskcb", "ma_lk", "outcome", paid().alias("payable"))
    assert found.claims == stored.height
    changed = found.changed
    assert changed.height > stored.height // 2
    # "now" is the stored decision: the active versions decide as the daily run did
    now = changed.select("ma_cskcb", "ma_lk", "outcome", "payable")
    assert now.join(stored, on=["ma_cskcb", "ma_lk"], how="anti").height == 0
    assert now.sort("ma_lk").equals(
        stored.join(now.select("ma_cskcb", "ma_lk"), on=["ma_cskcb", "ma_lk"])
        .select(now.columns)
        .sort("ma_lk")
    )
    # claims sent to review are not paid yet: the money they had moves away
    to_review = changed.filter(pl.col("outcome_draft") == "pending_review")
    assert to_review.height > 0
    assert (to_review["payable_draft"] == 0).all()
    moved = changed["difference"].sum()
    assert moved < 0
    assert moved == (changed["payable_draft"] - changed["payable"]).sum()
    assert found.per_facility["difference"].sum() == moved
    assert found.per_facility["claims"].sum() == changed.height
    assert found.per_rule.filter(pl.col("rule_id") == "H3_EXAM_QUOTA").height == 1
