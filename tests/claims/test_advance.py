"""Advances (tạm ứng): paid only to a known facility under contract, listed, reversed by a
balanced transaction, and never turned into a negative amount due: what an advance
exceeds a period's accepted amount by is carried forward and netted by the next period."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from claims.cli.advance import record_advance, reverse_advance
from claims.cli.settle import (
    carried_forward_messages,
    post_settlement,
    run_settlement,
)
from claims.config import Settings
from claims.errors import ConfigError
from claims.money import MONEY
from claims.settle import (
    Settlement,
    earlier,
    next_period,
    period_days,
    refuse_unknown_facility,
)
from claims.store.events import read_events
from claims.store.ledger import (
    advance_balances,
    advances_for,
    advances_of,
    ledger_of,
    ledger_periods,
)
from claims.store.runs import open_store
from tests.conftest import PERIOD, GeneratedDay
from tests.factories import giamdinh

D = Decimal
A, B = "01001", "01002"
STAMP = "2026-11-02T08:00:00+00:00"

# ---- who may be paid


def _catalog(rows: list[tuple[str, str | None, str | None]]) -> pl.DataFrame:
    """(facility, contract from, contract to) rows of a ``facilities`` catalog."""
    dates = ("contract_from", "contract_to")
    return pl.DataFrame(rows, schema=["ma_cskcb", *dates], orient="row").with_columns(
        pl.col(dates).str.to_date(),
        pl.lit(date(2000, 1, 1)).alias("valid_from"),
        pl.lit(None, pl.Date).alias("valid_to"),
    )


CATALOG = _catalog(
    [
        (A, "2019-07-01", None),
        (B, "2019-07-01", "2026-08-15"),  # its contract ended in August 2026
    ]
)


def test_an_advance_needs_a_known_facility_with_a_contract_issue12() -> None:
    refuse_unknown_facility(CATALOG, A, "2026-10")
    refuse_unknown_facility(CATALOG, B, "2026-Q3")  # covers part of the quarter
    with pytest.raises(ConfigError, match="'99999' is not in the facilities catalog"):
        refuse_unknown_facility(CATALOG, "99999", "2026-10")
    with pytest.raises(ConfigError, match="01002 has no contract with the fund during"):
        refuse_unknown_facility(CATALOG, B, "2026-10")


def test_periods_have_days_a_next_and_earlier_ones() -> None:
    assert period_days("2026-Q4") == (date(2026, 10, 1), date(2026, 12, 31))
    assert period_days("2024-02") == (date(2024, 2, 1), date(2024, 2, 29))
    assert [next_period(p) for p in ("2026-10", "2026-12", "2026-Q3", "2026-Q4")] == [
        "2026-11",
        "2027-01",
        "2026-Q4",
        "2027-Q1",
    ]
    posted = ["2026-09", "2026-Q3", "2026-10", "2026-Q4", "2025-12"]
    assert earlier("2026-11", posted) == ["2025-12", "2026-09", "2026-10", "2026-Q3"]
    assert earlier("2026-Q4", posted) == ["2025-12", "2026-09", "2026-Q3"]


# ---- listed and reversed


def _settlement(sid: str, period: str, accepted: str, advances: str) -> Settlement:
    """Settlement ``sid`` of ``period`` paying facility A ``accepted`` (drugs) and
    netting ``advances``."""
    groups = pl.DataFrame(
        [(A, "outpatient", "drugs", D(accepted))],
        schema={
            "ma_cskcb": pl.String,
            "treatment": pl.String,
            "cost_group": pl.String,
            "accepted_bhtt": MONEY,
        },
        orient="row",
    )
    facilities = pl.DataFrame(
        [(A, D(accepted), D(advances))],
        schema={"ma_cskcb": pl.String, "accepted": MONEY, "advances": MONEY},
        orient="row",
    )
    return Settlement(sid, period, {"groups": groups, "facilities": facilities})


def _balance(con: duckdb.DuckDBPyConnection, account: str) -> Decimal:
    rows = ledger_of(con).filter(
        (pl.col("account") == account) & (pl.col("ma_cskcb") == A)
    )
    return Decimal(rows["debit"].sum() - rows["credit"].sum())


def test_a_reversed_advance_is_listed_balanced_and_no_longer_netted(
    tmp_path: Path,
) -> None:
    with duckdb.connect(str(tmp_path / "store.duckdb")) as con:
        kept = record_advance(con, A, "2026-10", D("300.00"), recorded_at=STAMP)
        wrong = record_advance(con, A, "2026-10", D("5000.00"), recorded_at=STAMP)
        reversal, row = reverse_advance(con, wrong, recorded_at="2026-11-03T00:00:00")
        assert row["amount"] == D("5000.00")
        listed = advances_of(con)
        assert sorted(listed["advance_id"]) == sorted([kept, wrong])
        reversed_ = listed.filter(pl.col("advance_id") == wrong).row(0, named=True)
        assert reversed_["reversal_id"] == reversal
        assert listed.filter(pl.col("advance_id") == kept)["reversal_id"][0] is None
        assert advances_for(con, ["2026-10"], None)["amount"].to_list() == [D("300.00")]
        entries = ledger_of(con).filter(pl.col("settlement_id") == reversal)
        assert set(entries["kind"]) == {"advance_reversal"}
        assert entries["debit"].sum() == entries["credit"].sum() == D("5000.00")
        assert _balance(con, "facility_advance") == D("300.00")
        assert _balance(con, "fund_cash") == D("-300.00")
        with pytest.raises(ConfigError, match=f"{wrong} was reversed already"):
            reverse_advance(con, wrong, recorded_at="2026-11-04T00:00:00")
        with pytest.raises(ConfigError, match="no advance 'nope'"):
            reverse_advance(con, "nope", recorded_at="2026-11-04T00:00:00")
        assert advances_of(con, facility=B).height == 0
        assert advances_of(con, periods=["2026-11"]).height == 0


def test_an_advance_above_the_amount_due_is_carried_to_the_next_period(
    tmp_path: Path,
) -> None:
    """October: 1,000 advanced, 600 accepted: 400 carried to November, which accepts
    300 (100 carried on to December). Settling November again carries in the same."""
    with duckdb.connect(str(tmp_path / "store.duckdb")) as con:
        record_advance(con, A, "2026-10", D("1000.00"), recorded_at=STAMP)
        post_settlement(
            con, _settlement("oct", "2026-10", "600", "1000"), posted_at=STAMP
        )

        def carried(period: str) -> dict[str, Decimal]:
            found = advance_balances(con, earlier(period, ledger_periods(con)), None)
            return dict(found.rows())

        assert carried("2026-10") == {}
        assert carried("2026-11") == {A: D("400.00")}
        post_settlement(
            con, _settlement("nov", "2026-11", "300", "400"), posted_at=STAMP
        )
        assert carried("2026-12") == {A: D("100.00")}
        assert carried("2026-11") == {A: D("400.00")}  # November's own offset is not
        # what the fund owes A: everything accepted net of the advance
        assert -_balance(con, "facility_payable") == D("0.00")
        assert _balance(con, "facility_advance") == D("100.00")


# ---- on the generated day


@pytest.fixture
def copied(generated_day: GeneratedDay, tmp_path: Path) -> tuple[GeneratedDay, Path]:
    return generated_day, generated_day.copy(tmp_path / "data").data_dir


def test_the_next_period_nets_the_advance_carried_forward(
    copied: tuple[GeneratedDay, Path], tmp_path: Path
) -> None:
    from claims.pipeline.daily import run_inbox
    from claims.synthetic import generate

    day, data_dir = copied
    settings = Settings(data_dir=data_dir)
    november = generate(
        tmp_path / "november",
        claims=40,
        facilities=8,
        day=date(2026, 11, 15),
        seed=5,
        error_rate=0.0,
        fmt="xml",
    )
    run_inbox(november.files[0].parent, settings=settings, move_files=False)
    both = {p.name.split("_")[0] for p in november.files}
    october = day.settlement.frames["facilities"].filter(pl.col("ma_cskcb").is_in(both))
    facility, accepted = october.sort("accepted").select("ma_cskcb", "accepted").row(0)
    advance = accepted + D("1000000.00")
    with open_store(settings.store_path) as con:
        record_advance(con, facility, PERIOD, advance, recorded_at=STAMP)
    first, _, _ = run_settlement(settings, PERIOD, None, excel=False, posted_at=STAMP)
    row = (
        first.frames["facilities"]
        .filter(pl.col("ma_cskcb") == facility)
        .row(0, named=True)
    )
    assert (row["due"], row["carried_forward"]) == (0, D("1000000.00"))
    assert (first.frames["facilities"]["due"] >= 0).all()
    [message] = carried_forward_messages(first.frames["facilities"])
    assert f"{facility} was advanced {advance:,.2f}" in message
    assert "1,000,000.00 is carried forward to 2026-11" in message
    second, _, _ = run_settlement(
        settings, "2026-11", None, excel=False, posted_at=STAMP
    )
    then = (
        second.frames["facilities"]
        .filter(pl.col("ma_cskcb") == facility)
        .row(0, named=True)
    )
    assert (then["carried_in"], then["advances"]) == (D("1000000.00"),) * 2
    assert then["due"] - then["carried_forward"] == then["accepted"] - D("1000000.00")
    with open_store(settings.store_path) as con:
        ledger = ledger_of(con).filter(pl.col("ma_cskcb") == facility)
    advance_left = ledger.filter(pl.col("account") == "facility_advance")
    left = advance_left["debit"].sum() - advance_left["credit"].sum()
    assert left == then["carried_forward"]  # what is still to be netted, after November


@pytest.mark.e2e
def test_the_advance_commands_refuse_list_and_reverse(
    copied: tuple[GeneratedDay, Path],
) -> None:
    day, data_dir = copied
    facility = day.settlement.frames["facilities"]["ma_cskcb"][0]
    where = ("--data-dir", str(data_dir))
    unknown = giamdinh(
        "settle", "advance", "--facility", "99999", "--period", PERIOD,
        "--amount", "100", *where,
    )  # fmt: skip
    assert unknown.returncode == 1
    assert "not in the facilities catalog" in unknown.stderr
    done = giamdinh(
        "settle", "advance", "--facility", facility, "--period", PERIOD,
        "--amount", "2500000.00", "--as", "ke-toan-1", *where,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    advance = done.stderr.split()[1].rstrip(":")
    listed = giamdinh("settle", "advance", "list", "--period", "2026-Q4", *where)
    assert listed.returncode == 0, listed.stderr
    assert advance in listed.stdout
    assert "2500000.00" in listed.stdout
    undone = giamdinh(
        "settle", "advance", "reverse", advance, "--as", "ke-toan-2", *where
    )  # fmt: skip
    assert undone.returncode == 0, undone.stderr
    assert f"advance {advance}" in undone.stderr
    assert "reversed by" in undone.stderr
    with open_store(Settings(data_dir=data_dir).store_path) as con:
        assert advances_for(con, [PERIOD], facility).height == 0
        trail = read_events(con, subject=f"advance:{advance}")
    assert [(e["action"], e["actor"]) for e in trail] == [
        ("advance.recorded", "ke-toan-1"),
        ("advance.reversed", "ke-toan-2"),
    ]
    assert trail[0]["after"]["amount"] == "2500000.00"
