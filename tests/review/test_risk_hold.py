"""The daily run scores its months after its commit; a claim the rules accepted whose
risk reaches ``Settings.review_risk_threshold`` is held: settlement leaves it pending
(reason ``RISK_HOLD``) until an assessor decides it, then pays what the review says."""

from __future__ import annotations

import polars as pl
import pytest

from claims.config import Settings
from tests.conftest import DAY, PERIOD

THRESHOLD = 0.9


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, list[str]]:
    from claims.pipeline.daily import run_inbox
    from claims.synthetic import generate

    root = tmp_path_factory.mktemp("hold")
    generate(
        root / "inbox", claims=240, facilities=3, day=DAY, days=20, seed=21,
        fmt="xml", anomaly_rate=0.05,
    )  # fmt: skip
    settings = Settings(data_dir=root / "data", review_risk_threshold=THRESHOLD)
    result = run_inbox(root / "inbox", settings=settings, move_files=False)
    return settings, list(result.notices)


def _held(settings: Settings) -> pl.DataFrame:
    """What the store says is held: an engine-payable current claim scored at or
    above the threshold."""
    import duckdb

    with duckdb.connect(str(settings.store_path), read_only=True) as con:
        return con.sql(
            "SELECT d.ma_cskcb, d.ma_lk, d.file_id, d.hoso_idx, d.claimed_t_bhtt, "
            "d.accepted_t_bhtt FROM decisions d JOIN claims c USING (file_id, hoso_idx) "
            "JOIN anomaly_scores s USING (file_id, hoso_idx) WHERE c.is_current "
            "AND d.outcome IN ('accepted', 'partially_accepted') AND s.risk >= ? "
            "ORDER BY d.ma_cskcb, d.ma_lk",
            params=[THRESHOLD],
        ).pl()


def test_the_daily_run_scores_and_settlement_holds(
    day: tuple[Settings, list[str]],
) -> None:
    from claims.cli.settle import compute_settlement
    from claims.settle import reconcile
    from claims.store.runs import open_store

    settings, notices = day
    held = _held(settings)
    assert held.height > 0, "the anomalous day holds claims"
    told = [n for n in notices if "held for review by their anomaly risk" in n]
    assert told
    assert told[0].startswith(f"{held.height:,} claims")
    with open_store(settings.store_path, read_only=True) as con:
        plain = compute_settlement(con, PERIOD, None)
        holding = compute_settlement(con, PERIOD, None, THRESHOLD)
    reconcile(holding.frames)
    pending = holding.frames["pending"]
    keys = set(held.select("ma_cskcb", "ma_lk").iter_rows())
    assert keys <= set(pending.select("ma_cskcb", "ma_lk").iter_rows())
    assert keys.isdisjoint(
        plain.frames["pending"].select("ma_cskcb", "ma_lk").iter_rows()
    )
    for row in pending.filter(
        pl.struct("ma_cskcb", "ma_lk").is_in(
            held.select(pl.struct("ma_cskcb", "ma_lk")).to_series().implode()
        )
    ).iter_rows(named=True):
        assert "RISK_HOLD" in row["reason_codes"]
    # what the hold keeps back is exactly the held claims' accepted money
    paid = {
        name: frames["facilities"]["accepted"].sum()
        for name, frames in (("plain", plain.frames), ("holding", holding.frames))
    }
    assert paid["plain"] - paid["holding"] == held["accepted_t_bhtt"].sum()


def test_a_held_claim_decided_by_an_assessor_is_paid(
    day: tuple[Settings, list[str]],
) -> None:
    from claims.cli.settle import compute_settlement
    from claims.pipeline.review import decide, queue
    from claims.review import LineDecision
    from claims.store.runs import open_store

    settings, _ = day
    held = _held(settings)
    with open_store(settings.store_path) as con:
        queued = queue(con, settings, months=[PERIOD])
        by_score = queued.filter(pl.col("held_by").str.contains("score"))
        assert set(held.select("file_id", "hoso_idx").iter_rows()) <= set(
            by_score.select("file_id", "hoso_idx").iter_rows()
        )
        one = held.row(0, named=True)
        line = con.execute(
            'SELECT "table", stt FROM decision_lines WHERE file_id = ? AND '
            'hoso_idx = ? AND stt IS NOT NULL ORDER BY "table", stt LIMIT 1',
            [one["file_id"], one["hoso_idx"]],
        ).fetchone()
        assert line is not None
        decide(
            con, settings, one["ma_cskcb"], one["ma_lk"],
            [LineDecision(line[0], line[1], "accept")],
            assessor="gdv02", justification="Đã đối chiếu bệnh án: hợp lý",
            reason_code=None, decided_at="2026-11-04T08:00:00.000000+00:00",
        )  # fmt: skip
        after = compute_settlement(con, PERIOD, None, THRESHOLD)
    claims = after.frames["claims"].filter(
        (pl.col("ma_cskcb") == one["ma_cskcb"]) & (pl.col("ma_lk") == one["ma_lk"])
    )
    assert claims["accepted_bhtt"].sum() == one["accepted_t_bhtt"]
    assert (one["ma_cskcb"], one["ma_lk"]) not in set(
        after.frames["pending"].select("ma_cskcb", "ma_lk").iter_rows()
    )
