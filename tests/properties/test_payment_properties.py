"""Properties of payment, settlement and ledger over generated inputs.

- Lowering a catalog price never raises what a claim is paid, as long as the claim is
  not near the low-cost threshold and has at most one surgery and one exam: all three
  are legal exceptions, shown by the examples at the end (the threshold turns 80 % into
  100 %; the "same team" of a second surgery is judged against whichever surgery ranks
  first; exams of a day are ranked by unit price, so a cheaper exam can hand the 100 %
  rank to one billed in a larger quantity).
- The ledger balances per transaction whatever sequence of settlements and advances is
  posted, and the facility accounts always net to the latest amount due.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claims.cli.advance import record_advance
from claims.cli.settle import post_settlement
from claims.money import MONEY
from claims.settle import Settlement
from claims.store.ledger import ledger_of
from tests.claims.paybuild import D, claim, drug, one, run, service, supply

ANCHOR = drug(1, "1000000.000")
"""A line that keeps every generated claim far above the low-cost threshold."""
STAMP = "2026-11-02T08:00:00+00:00"
"""The time stamp of every posting and advance (the caller reads the clock)."""


@st.composite
def _line(draw: st.DrawFn) -> Any:
    qty = draw(st.decimals("0.5", "10", places=1))
    price = draw(st.decimals("1.000", "2000000", places=3))
    kind = draw(st.sampled_from(("drug", "lab", "imaging", "bed", "supply", "exam")))
    if kind == "drug":
        return drug(qty, price, ratio_bh=draw(st.sampled_from((100, 50))))
    if kind == "supply":
        return supply(qty, price, goi_vtyt="G1")
    group = {"lab": "1", "imaging": "2", "bed": "15", "exam": "13"}[kind]
    return service(group, qty, price)


@st.composite
def _claim_and_cut(draw: st.DrawFn) -> tuple[Any, int, Decimal]:
    lines = draw(
        st.lists(_line(), min_size=1, max_size=5).filter(
            lambda drawn: sum(line.ma_nhom == "13" for line in drawn) <= 1
        )
    )
    index = draw(st.integers(0, len(lines) - 1))
    share = draw(st.decimals("0.01", "0.99", places=2))
    made = claim(
        ANCHOR,
        *lines,
        card=f"{draw(st.sampled_from(('TE1', 'CB2', 'HT3', 'DN4', 'QN5')))}010123456789",
        route=draw(st.sampled_from(("1.1", "2", "3.1", "3.3"))),
        tier=draw(st.sampled_from(("central", "district", "commune"))),
        vao=draw(st.sampled_from((datetime(2020, 5, 4, 8), datetime(2026, 8, 3, 8)))),
    )
    return made, index + 1, share


@settings(max_examples=60, deadline=None)
@given(_claim_and_cut())
def test_lowering_a_catalog_price_never_raises_the_claim_payment(
    case: tuple[Any, int, Decimal],
) -> None:
    made, index, share = case
    line = made.lines[index]
    cheaper = replace(
        line, catalog_price=(line.catalog_price * share).quantize(D("0.001"))
    )
    lowered = replace(
        made, lines=(*made.lines[:index], cheaper, *made.lines[index + 1 :])
    )
    before = one(run(made).decisions.claims)
    after = one(run(lowered).decisions.claims)
    assert after["law_t_bhtt"] <= before["law_t_bhtt"]
    assert after["accepted_t_bhtt"] <= before["accepted_t_bhtt"]


def test_the_low_cost_threshold_is_a_legal_exception_to_monotonicity() -> None:
    """On-route, DN4 (80 %), 2025: 352,000 covered pays 281,600; lowering it to 350,000
    crosses below 351,000 (15 % of 2,340,000) and pays 350,000."""
    day = datetime(2025, 3, 4, 8)
    above = one(run(claim(drug(1, "352000"), vao=day, muc=80)).payment.claims)
    below = one(
        run(claim(drug(1, "352000", catalog_price="350000"), vao=day)).payment.claims
    )
    assert above["law_muc_huong"] == 80
    assert below["law_muc_huong"] == 100


def test_the_same_team_rule_is_a_legal_exception_to_monotonicity() -> None:
    """Surgeries A (team X, 100), B (team Y, 90), C (team X, 85): A first, B other team
    80 %, C same team 50 %. A lowered to 89 ranks B first: A and C become other-team
    80 % — C's share rises from 42.50 to 68.00 and the claim is paid more."""

    def surgeries(a: str) -> Any:
        return claim(
            service("8", 1, "100", catalog_price=a, performers="X1;X2"),
            service("8", 1, "90", performers="Y1"),
            service("8", 1, "85", performers="X2;X1"),
            card="CB2010123456789",
        )

    first = run(surgeries("100")).payment.lines["law_bh"].sum()
    second = run(surgeries("89")).payment.lines["law_bh"].sum()
    assert first == D("214.50")
    assert second == D("229.20")


def test_the_exam_ranking_is_a_legal_exception_to_monotonicity() -> None:
    """Exams of a day are ranked by unit price (100 %, then 30 %): B (1 × 100,001) ranks
    before A (2 × 100,000). B's catalog price lowered to 1,000 ranks A first, and A's
    two units at 100 % (200,000, the exam-day cap of 2 × its price) pay more than B's
    one and A's at 30 % did (100,001 + 60,000 = 160,001)."""

    def exams(b: str) -> Any:
        return claim(
            ANCHOR,
            service("13", 2, "100000"),
            service("13", 1, "100001", catalog_price=b),
        )

    before = run(exams("100001"))
    after = run(exams("1000"))

    def ratios(lines: pl.DataFrame) -> list[int]:
        return (
            lines.filter(pl.col("ma_nhom") == "13")
            .sort("line_no")["law_ratio_dv"]
            .to_list()
        )

    assert ratios(before.payment.lines) == [30, 100]
    assert ratios(after.payment.lines) == [100, 30]
    paid_before = one(before.decisions.claims)["law_t_bhtt"]
    assert one(after.decisions.claims)["law_t_bhtt"] > paid_before


# --- ledger ---------------------------------------------------------------------------

FACILITIES = ("01001", "01002", "79010")
GROUPS = ("drugs", "exam", "beds")


@st.composite
def _settlement(draw: st.DrawFn, seq: int) -> Settlement:
    rows = []
    for facility in draw(
        st.lists(st.sampled_from(FACILITIES), min_size=1, unique=True)
    ):
        for group in draw(st.lists(st.sampled_from(GROUPS), min_size=1, unique=True)):
            cents = draw(st.integers(0, 10**9))
            rows.append((facility, "outpatient", group, Decimal(cents) / 100))
    groups = pl.DataFrame(
        rows,
        schema={
            "ma_cskcb": pl.String,
            "treatment": pl.String,
            "cost_group": pl.String,
            "accepted_bhtt": MONEY,
        },
        orient="row",
    )
    facilities = groups.group_by("ma_cskcb").agg(
        pl.col("accepted_bhtt").sum().alias("accepted")
    )
    return Settlement(
        f"s{seq}",
        "2026-10",
        {
            "groups": groups,
            "facilities": facilities.with_columns(advances=pl.lit(0).cast(MONEY)),
        },
    )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.data())
def test_the_ledger_balances_after_any_sequence_of_postings(
    tmp_path: Path, data: st.DataObject
) -> None:
    store = Path(tempfile.mkdtemp(dir=tmp_path)) / "ledger.duckdb"  # fresh per example
    with duckdb.connect(str(store)) as con:
        accepted: dict[str, Decimal] = dict.fromkeys(FACILITIES, Decimal(0))
        advanced: dict[str, Decimal] = dict.fromkeys(FACILITIES, Decimal(0))
        for seq in range(data.draw(st.integers(1, 4))):
            if data.draw(st.booleans()):
                facility = data.draw(st.sampled_from(FACILITIES))
                amount = Decimal(data.draw(st.integers(1, 10**8))) / 100
                record_advance(con, facility, "2026-10", amount, recorded_at=STAMP)
                advanced[facility] += amount
            settlement = data.draw(_settlement(seq))
            frame = settlement.frames["facilities"].with_columns(
                pl.col("ma_cskcb")
                .replace_strict(advanced, default=Decimal(0), return_dtype=MONEY)
                .alias("advances")
            )
            settlement.frames["facilities"] = frame
            post_settlement(con, settlement, posted_at=STAMP)
            accepted.update(dict(frame.select("ma_cskcb", "accepted").iter_rows()))
            ledger = ledger_of(con)
            per_txn = ledger.group_by("txn_id").agg(
                pl.col("debit").sum() - pl.col("credit").sum()
            )
            assert per_txn.filter(pl.col("debit") != 0).height == 0
            for facility in FACILITIES:
                # settled amount net of every advance (an unsettled one is owed back)
                due = accepted[facility] - advanced[facility]
                mine = ledger.filter(pl.col("ma_cskcb") == facility)
                payable = mine.filter(pl.col("account") == "facility_payable")
                advance = mine.filter(pl.col("account") == "facility_advance")
                owed = (payable["credit"].sum() - payable["debit"].sum()) - (
                    advance["debit"].sum() - advance["credit"].sum()
                )
                assert owed == due
