"""The generator's labelled structural faults are exactly what validation finds."""

from __future__ import annotations

import polars as pl

from claims.synthetic.faults import STRUCTURAL
from tests.conftest import GeneratedDay


def test_every_injected_fault_is_found_and_nothing_else(
    generated_day: GeneratedDay,
) -> None:
    truth = generated_day.truth
    result = generated_day.result
    assert result.run_id is not None
    found = generated_day.sql(
        'SELECT DISTINCT c.ma_cskcb, q.ma_lk, q."table", q.reason_code AS expected_reason '
        "FROM quarantine q JOIN claim_status c USING (file_id, hoso_idx) "
        "WHERE q.reason_code <> 'LINE_OF_REJECTED_CLAIM'"
    )
    # validation's kinds; rule and payment kinds: tests/claims/test_truth_rules.py
    expected = truth.filter(pl.col("kind").is_in(list(STRUCTURAL)))
    # not vacuous: every validation kind is injected (the day's 120 faults are more
    # than the generator's kinds, and choose_faults places one of each kind first)
    assert set(expected["kind"]) == set(STRUCTURAL)
    keys = ["ma_cskcb", "ma_lk", "table", "expected_reason"]
    missed = expected.join(found, on=keys, how="anti")
    assert missed.height == 0, missed
    unexplained = found.join(
        truth.select("ma_cskcb", "ma_lk").unique(), on=["ma_cskcb", "ma_lk"], how="anti"
    )
    assert unexplained.height == 0, unexplained
    rejected = (
        result.claims.filter(pl.col("status") == "rejected").select("ma_lk").to_series()
    )
    claim_faults = expected.filter(pl.col("level") == "claim")["ma_lk"]
    assert claim_faults.len() > 0
    assert set(claim_faults) <= set(rejected)
