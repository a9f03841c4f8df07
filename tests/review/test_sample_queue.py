"""A claim drawn into a review sample waits in the review queue (held by ``sample``)
until an assessor decides it, even when no rule or score held it; once decided it
counts as reviewed for the extrapolation and leaves the queue."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from claims.cli.app import app
from claims.config import Settings
from tests.conftest import DAY, PERIOD


def test_a_sampled_accepted_claim_is_queued_then_decided(tmp_path: Path) -> None:
    from claims.pipeline.daily import run_inbox
    from claims.pipeline.review import decide, queue
    from claims.review import LineDecision
    from claims.store.runs import open_store
    from claims.store.samples import sampled_claims
    from claims.synthetic import generate

    generate(tmp_path / "inbox", claims=60, facilities=2, day=DAY, seed=9, fmt="xml")
    settings = Settings(data_dir=tmp_path / "data")
    run_inbox(tmp_path / "inbox", settings=settings, move_files=False)
    got = CliRunner().invoke(
        app,
        ["review", "sample", "--period", PERIOD, "--size", "8", "--strata", "",
         "--seed", "4", "--format", "json", "--data-dir", str(settings.data_dir)],
    )  # fmt: skip
    assert got.exit_code == 0, got.stderr
    drawn = {(c["file_id"], c["hoso_idx"]) for c in json.loads(got.stdout)["claims"]}
    with open_store(settings.store_path) as con:
        queued = queue(con, settings, months=[PERIOD])
        by_sample = queued.filter(pl.col("held_by").str.contains("sample"))
        assert {
            (f, h) for f, h in by_sample.select("file_id", "hoso_idx").iter_rows()
        } == drawn
        accepted = con.sql(
            "SELECT d.ma_cskcb, d.ma_lk, d.file_id, d.hoso_idx, l.table, l.stt "
            "FROM decisions d JOIN decision_lines l USING (file_id, hoso_idx) "
            "WHERE d.outcome = 'accepted' AND l.stt IS NOT NULL "
            "ORDER BY d.ma_cskcb, d.ma_lk, l.table, l.stt"
        ).pl()
        only_sampled = accepted.filter(
            pl.struct("file_id", "hoso_idx").is_in(
                by_sample.filter(pl.col("held_by") == "sample")
                .select(pl.struct("file_id", "hoso_idx"))
                .to_series()
                .implode()
            )
        )
        assert only_sampled.height > 0, "the sample holds an accepted claim"
        one = only_sampled.row(0, named=True)
        decide(
            con,
            settings,
            one["ma_cskcb"],
            one["ma_lk"],
            [LineDecision(one["table"], one["stt"], "accept")],
            assessor="gdv07",
            justification="Hồ sơ mẫu: đúng chỉ định",
            reason_code=None,
            decided_at="2026-11-03T09:00:00.000000+00:00",
        )
        waiting = sampled_claims(con, [PERIOD])
        after = queue(con, settings, months=[PERIOD])
    key = (one["file_id"], one["hoso_idx"])
    assert key not in set(waiting.select("file_id", "hoso_idx").iter_rows())
    assert key not in set(after.select("file_id", "hoso_idx").iter_rows())
    assert after.height == queued.height - 1
