"""``claims.pipeline.claim_view.claim_detail`` on the generated day's store: the amounts
in force reconcile to the lines and to the store (read apart by SQL), a held claim reads
as settlement reads it, patient identity is masked unless asked, an unknown claim is
None, and an assessor's review appears (in the detail and in ``giamdinh claims show``)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from claims.cli.app import app
from claims.config import Settings
from claims.pipeline import review as rv
from claims.pipeline.claim_view import CARD_PREFIX, claim_detail
from claims.review import BHXH_REASONS, parse_line
from claims.store.runs import open_store
from tests.conftest import PERIOD, GeneratedDay
from tests.holds import as_settled

AT = "2026-11-02T08:00:00.000000+00:00"
TOTALS = ("t_tongchi_bv", "t_tongchi_bh", "t_bhtt", "t_bncct", "t_bntt", "t_nguonkhac")
LINE_OF = {
    "t_tongchi_bv": "bv",
    "t_tongchi_bh": "bh",
    "t_bhtt": "bhtt",
    "t_bncct": "bncct",
    "t_bntt": "bntt",
    "t_nguonkhac": "nguonkhac",
}


def _detail(settings: Settings, facility: str, ma_lk: str, **kw: Any) -> Any:
    with open_store(settings.store_path) as con:
        return claim_detail(con, settings, facility=facility, ma_lk=ma_lk, **kw)


def _one_per_outcome(day: GeneratedDay) -> list[tuple[str, str, str]]:
    """The first current claim (by MA_CSKCB, MA_LK) of each engine outcome."""
    rows = day.sql(
        "SELECT d.ma_cskcb, d.ma_lk, d.outcome FROM decisions d "
        "JOIN claims c USING (file_id, hoso_idx) WHERE c.is_current "
        "QUALIFY row_number() OVER (PARTITION BY d.outcome "
        "ORDER BY d.ma_cskcb, d.ma_lk) = 1"
    ).rows()
    return sorted((str(f), str(k), str(o)) for f, k, o in rows)


def test_amounts_in_force_reconcile_to_the_lines_and_the_store(
    generated_day: GeneratedDay,
) -> None:
    chosen = _one_per_outcome(generated_day)
    assert {o for *_, o in chosen} >= {"accepted", "partially_accepted", "rejected"}
    for facility, ma_lk, engine_outcome in chosen:
        detail = _detail(generated_day.settings, facility, ma_lk)
        json.dumps(detail)  # JSON-ready: no Decimal, date or other object
        decision = detail["decision"]
        assert decision["engine_outcome"] == engine_outcome
        stored = generated_day.sql(
            "SELECT d.* FROM decisions d JOIN claims c USING (file_id, hoso_idx) "
            f"WHERE c.is_current AND d.ma_cskcb = '{facility}' AND d.ma_lk = '{ma_lk}'"
        ).row(0, named=True)
        lines = detail["lines"]
        assert (
            len(lines)
            == generated_day.sql(
                "SELECT count(*) AS n FROM decision_lines "
                f"WHERE file_id = '{stored['file_id']}' AND hoso_idx = {stored['hoso_idx']}"
            )["n"].item()
        )
        for total in TOTALS:
            accepted = Decimal(decision["accepted"][total])
            assert accepted == stored[f"accepted_{total}"]
            assert Decimal(decision["claimed"][total]) == stored[f"claimed_{total}"]
            part = LINE_OF[total]
            assert sum(Decimal(x[f"accepted_{part}"]) for x in lines) == accepted
        claimed = Decimal(decision["claimed"]["t_bhtt"])
        assert Decimal(decision["accepted"]["t_bhtt"]) <= claimed  # the fund's share
        for line in lines:
            assert Decimal(line["accepted_bhtt"]) <= Decimal(line["claimed_bhtt"])
            assert line["engine_accepted_bhtt"] == line["accepted_bhtt"]
        refused = [x for x in lines if Decimal(x["rejected_amount"]) > 0]
        named = {(r["table"], r["line_no"]) for r in detail["reasons"]}
        assert all((x["table"], x["line_no"]) in named for x in refused) or (
            decision["outcome"] == "rejected"
        )
        assert detail["current"]["run_id"] == stored["run_id"]
        assert detail["current"]["pack"] == stored["pack"] == decision["pack"]
        assert [v["version"] for v in detail["versions"]] == [1]


def test_a_claim_held_by_its_risk_reads_as_settlement_reads_it(
    generated_day: GeneratedDay,
) -> None:
    settings = generated_day.settings
    risky = generated_day.sql(
        "SELECT d.*, s.risk FROM decisions d JOIN anomaly_scores s "
        "USING (file_id, hoso_idx) WHERE d.outcome IN ('accepted', "
        "'partially_accepted') ORDER BY s.risk DESC, d.ma_lk LIMIT 2"
    )
    with open_store(settings.store_path) as con:
        settled = as_settled(con, risky.drop("risk"), settings.review_risk_threshold)
    for row, outcome in zip(
        risky.iter_rows(named=True), settled["outcome"], strict=True
    ):
        detail = _detail(settings, row["ma_cskcb"], row["ma_lk"])
        assert detail["decision"]["outcome"] == outcome
        held = row["risk"] >= settings.review_risk_threshold
        assert detail["decision"]["held_by_risk"] is held
        assert detail["anomaly"]["held"] is held
        assert detail["anomaly"]["risk"] == pytest.approx(row["risk"])
        assert ("RISK_HOLD" in {r["code"] for r in detail["reasons"]}) is held


def _personal(day: GeneratedDay) -> dict[str, Any]:
    """A current claim whose reasons name its card number, with its identity."""
    return day.sql(
        "SELECT c.ma_cskcb, c.ma_lk, c.ho_ten, c.so_cccd, c.ma_the_bhyt, c.dia_chi "
        "FROM claims c JOIN decision_reasons r USING (file_id, hoso_idx) "
        "WHERE c.is_current AND contains(r.message, c.ma_the_bhyt) "
        "ORDER BY c.ma_cskcb, c.ma_lk LIMIT 1"
    ).row(0, named=True)


def test_patient_identity_is_masked_unless_unmasked(
    generated_day: GeneratedDay,
) -> None:
    who = _personal(generated_day)
    settings = generated_day.settings
    masked = _detail(settings, who["ma_cskcb"], who["ma_lk"])
    text = json.dumps(masked, ensure_ascii=False)
    for field in ("ho_ten", "so_cccd", "ma_the_bhyt", "dia_chi"):
        assert who[field] not in text, field
    card = masked["patient"]["ma_the_bhyt"]
    assert card[:CARD_PREFIX] == who["ma_the_bhyt"][:CARD_PREFIX]
    assert set(card[CARD_PREFIX:]) == {"*"}
    assert masked["patient"]["ho_ten"] == who["ho_ten"][0] + "***"
    assert masked["patient"]["reference"] == card
    assert "ngay_sinh" not in masked["patient"]
    assert masked["masked"] is True
    named = [r for r in masked["reasons"] if card in r["message"]]
    assert named, "the reason quoting the card quotes it masked"
    plain = _detail(settings, who["ma_cskcb"], who["ma_lk"], unmasked=True)
    assert plain["patient"]["ho_ten"] == who["ho_ten"]
    assert plain["patient"]["ma_the_bhyt"] == who["ma_the_bhyt"]
    assert plain["patient"]["reference"] == card
    assert any(who["ma_the_bhyt"] in r["message"] for r in plain["reasons"])


def test_an_unknown_claim_is_none(generated_day: GeneratedDay) -> None:
    settings = generated_day.settings
    facility, ma_lk, _ = _one_per_outcome(generated_day)[0]
    assert _detail(settings, facility, "KHONG-CO") is None
    other = generated_day.sql(
        f"SELECT min(ma_cskcb) AS f FROM claims WHERE ma_cskcb <> '{facility}'"
    )["f"].item()
    assert _detail(settings, other, ma_lk) is None
    assert _detail(settings, facility, ma_lk) is not None


def test_a_claim_refused_at_validation_lists_its_refusal(
    generated_day: GeneratedDay,
) -> None:
    row = generated_day.sql(
        "SELECT s.ma_cskcb, s.ma_lk FROM claim_status s WHERE s.status = 'rejected' "
        "AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.ma_cskcb = s.ma_cskcb "
        "AND c.ma_lk = s.ma_lk) ORDER BY 1, 2 LIMIT 1"
    ).row(0, named=True)
    detail = _detail(generated_day.settings, row["ma_cskcb"], row["ma_lk"])
    assert detail["current"] is None
    assert detail["decision"] is None
    assert detail["refused"]
    assert detail["refused"][0]["reasons"]
    codes = {r["reason_code"] for r in detail["refused"][0]["reasons"]}
    assert "LINE_OF_REJECTED_CLAIM" not in codes


def _reviewed(day: GeneratedDay, tmp_path: Path) -> tuple[Settings, Any, Any]:
    """A copy of the store where assessor gdv1 cut a held claim's line by 10.00."""
    settings = day.copy(tmp_path / "data")
    code = sorted(BHXH_REASONS)[0]
    with open_store(settings.store_path) as con:
        queue = rv.queue(con, settings, months=[PERIOD])
        row = queue.filter(pl.col("held_by") == "rule").row(0, named=True)
        lines = rv.stored.engine_version(con, row["ma_cskcb"], row["ma_lk"]).lines
        line = lines.filter(pl.col("accepted_bhtt") > 10).row(0, named=True)
        cut = line["accepted_bhtt"] - Decimal("10.00")
        reviewed = rv.decide(
            con, settings, row["ma_cskcb"], row["ma_lk"],
            [parse_line(f"{line['table']}:{line['stt']}=reduce:{cut}")],
            assessor="gdv1", justification="Giảm theo hồ sơ bệnh án",
            reason_code=code, decided_at=AT,
        )  # fmt: skip
    return settings, row, (reviewed, line, code)


def test_a_review_appears_and_is_the_decision_in_force(
    generated_day: GeneratedDay, tmp_path: Path
) -> None:
    settings, row, (reviewed, line, code) = _reviewed(generated_day, tmp_path)
    detail = _detail(settings, row["ma_cskcb"], row["ma_lk"])
    (review,) = detail["reviews"]
    assert review["review_id"] == reviewed.review_id
    assert review["assessor"] == "gdv1"
    assert review["decided_at"] == AT
    assert review["justification"] == "Giảm theo hồ sơ bệnh án"
    assert review["reason_code"] == code
    assert review["bhxh_y_nghia"] == BHXH_REASONS[code]
    assert review["state"] == "decided"
    decision = detail["decision"]
    assert decision["source"] == "review"
    assert decision["review_id"] == reviewed.review_id
    assert decision["engine_outcome"] == "pending_review"
    accepted = Decimal(decision["accepted"]["t_bhtt"])
    assert accepted == reviewed.decision["accepted_t_bhtt"].item()
    lines = detail["lines"]
    assert sum(Decimal(x["accepted_bhtt"]) for x in lines) == accepted
    (changed,) = [x for x in lines if x["accepted_bhtt"] != x["engine_accepted_bhtt"]]
    assert (changed["table"], changed["stt"]) == (line["table"], line["stt"])
    assert Decimal(changed["engine_accepted_bhtt"]) - Decimal(
        changed["accepted_bhtt"]
    ) == Decimal("10.00")
    assert "REVIEW_REDUCED" in changed["reasons"]


def test_claims_show_lists_the_reviews(
    generated_day: GeneratedDay, tmp_path: Path
) -> None:
    settings, row, (reviewed, _, code) = _reviewed(generated_day, tmp_path)
    where = ["--facility", row["ma_cskcb"], "--claim", row["ma_lk"]]
    where += ["--data-dir", str(settings.data_dir)]
    runner = CliRunner()
    result = runner.invoke(app, ["claims", "show", *where, "--format", "json"])
    assert result.exit_code == 0, result.output
    (review,) = json.loads(result.stdout)["reviews"]
    assert review["review_id"] == reviewed.review_id
    assert (review["assessor"], review["reason_code"]) == ("gdv1", code)
    assert review["justification"] == "Giảm theo hồ sơ bệnh án"
    table = runner.invoke(app, ["claims", "show", *where], env={"COLUMNS": "300"})
    assert table.exit_code == 0, table.output
    assert "reviews" in table.stdout
    assert reviewed.review_id in table.stdout
    bare = generated_day.settings.data_dir
    before = runner.invoke(
        app, ["claims", "show", *where[:4], "--data-dir", str(bare), "--format", "json"]
    )
    assert json.loads(before.stdout)["reviews"] == []
