"""The settlement service the API calls (``claims.pipeline.settlement`` and
``claims.pipeline.advances``): plain dicts, money as exact decimal strings, on a copy of
the session's generated day (run and settled for 2026-10) in a real DuckDB store."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from claims.config import Settings
from claims.errors import ConfigError
from claims.pipeline import (
    add_advance,
    cancel_advance,
    ledger_diff,
    list_advances,
    list_settlements,
    settlement_files,
    settlement_status,
    start_settlement,
)
from claims.pipeline.settlement import start_audit
from claims.store.events import read_events
from tests.conftest import PERIOD, POSTED_AT, GeneratedDay
from tests.factories import lower_benefit_level_4

AT = "2026-11-05T10:00:00.000001+00:00"
LATER = "2026-11-06T10:00:00.000002+00:00"


@pytest.fixture
def copied(
    generated_day: GeneratedDay, tmp_path: Path
) -> tuple[Settings, GeneratedDay]:
    """A copy of the generated day this test may change."""
    return generated_day.copy(tmp_path / "data"), generated_day


def _ledger_rows(settings: Settings) -> int:
    with duckdb.connect(str(settings.store_path), read_only=True) as con:
        return int(con.execute("SELECT count(*) FROM ledger").fetchall()[0][0])


def test_settling_again_unchanged_gives_the_same_settlement_and_posts_nothing(
    copied: tuple[Settings, GeneratedDay],
) -> None:
    settings, day = copied
    before = _ledger_rows(settings)
    started = start_settlement(
        settings, period=PERIOD, kind="month", actor="tai-chinh", at=AT
    )
    facilities = day.settlement.frames["facilities"]
    assert started["id"] == day.settlement.settlement_id
    assert started["period"] == PERIOD
    assert started["entries_posted"] == 0
    assert _ledger_rows(settings) == before
    assert started["posted_by"] == "tai-chinh"
    assert started["status"] == "posted"  # the fixture's posting still stands
    assert {p["posted_at"] for p in started["postings"]} == {POSTED_AT}
    totals = started["totals"]
    assert totals["facilities"] == facilities.height
    for column in ("requested", "accepted", "rejected", "pending_amount", "due"):
        assert isinstance(totals[column], str)  # money never a float
        assert Decimal(totals[column]) == facilities[column].sum()
    files = started["files"]
    assert {"facilities.csv", "facilities.parquet", "claims.csv"} <= set(files)
    books = {f"excel/{f}.xlsx" for f in facilities["ma_cskcb"]}
    assert books <= set(files)  # 8 facilities: one workbook each
    assert all(Path(p).is_file() for p in files.values())
    assert settlement_status(settings, started["id"]) == {
        k: v
        for k, v in started.items()
        if k not in ("facility", "kind", "posted_by", "posted_at", "entries_posted")
    }


@pytest.mark.parametrize(
    ("period", "kind"), [("2026-10", "quarter"), ("2026-Q4", "month")]
)
def test_a_period_of_the_other_kind_is_refused_and_nothing_is_written(
    copied: tuple[Settings, GeneratedDay], period: str, kind: str
) -> None:
    settings, _ = copied
    before = _ledger_rows(settings)
    listed = list_settlements(settings)
    with pytest.raises(ConfigError, match=rf"period '{period}' is not a {kind}"):
        start_settlement(
            settings,
            period=period,
            kind=kind,  # type: ignore[arg-type]
            actor="tai-chinh",
            at=AT,
        )
    assert _ledger_rows(settings) == before
    assert list_settlements(settings) == listed


def test_an_advance_supersedes_one_facility_and_a_facility_settlement_posts_nothing(
    copied: tuple[Settings, GeneratedDay],
) -> None:
    settings, day = copied
    first = day.settlement.settlement_id
    facilities = day.settlement.frames["facilities"]
    facility = facilities["ma_cskcb"][0]
    advance = add_advance(
        settings,
        facility=facility,
        period=PERIOD,
        amount="1000000.00",
        actor="tai-chinh",
        at=AT,
    )
    assert advance["amount"] == "1000000.00"
    second = start_settlement(
        settings, period=PERIOD, kind="month", actor="tai-chinh", at=LATER
    )
    assert second["id"] != first
    assert second["entries_posted"] > 0
    assert second["status"] == "posted"
    assert [p["ma_cskcb"] for p in second["postings"]] == [facility]
    with duckdb.connect(str(settings.store_path)) as con:
        events = read_events(con, action="settlement.posted")
    mine = [e for e in events if e["subject"] == f"settlement:{second['id']}"]
    assert [(e["actor"], e["at"]) for e in mine] == [("tai-chinh", LATER)]
    old = settlement_status(settings, first)
    assert old is not None
    assert old["status"] == "partly_superseded"
    inactive = [p["ma_cskcb"] for p in old["postings"] if not p["active"]]
    assert inactive == [facility]
    # the same claims, the same accepted amounts: an advance changes no claim
    assert ledger_diff(settings, first, second["id"]) == []

    # one facility alone: the same entries as its posting, so nothing is posted
    other = facilities["ma_cskcb"][1]
    alone = start_settlement(
        settings,
        period=PERIOD,
        kind="month",
        facility=other,
        actor="tai-chinh",
        at=LATER,
    )
    assert alone["entries_posted"] == 0
    assert alone["status"] == "not_posted"
    assert alone["facilities"] == [other]
    listed = {s["id"]: s["status"] for s in list_settlements(settings)}
    assert listed == {
        first: "partly_superseded",
        second["id"]: "posted",
        alone["id"]: "not_posted",
    }
    # everything against one facility's settlement: every other facility's accepted
    # amount is gone
    changes = ledger_diff(settings, first, alone["id"])
    per_facility = {
        r["ma_cskcb"]: Decimal(r["change"]) for r in changes if r["level"] == "facility"
    }
    expected = {
        r["ma_cskcb"]: -r["accepted"]
        for r in facilities.filter(pl.col("ma_cskcb") != other).iter_rows(named=True)
        if r["accepted"] != 0
    }
    assert per_facility == expected
    assert {r["level"] for r in changes} == {"facility", "claim", "cost_group"}


def test_a_reversed_advance_is_listed_and_names_the_period_to_settle_again(
    copied: tuple[Settings, GeneratedDay],
) -> None:
    settings, day = copied
    facility = day.settlement.frames["facilities"]["ma_cskcb"][2]
    added = add_advance(
        settings,
        facility=facility,
        period=PERIOD,
        amount="250000",
        actor="tai-chinh",
        at=AT,
    )
    listed = list_advances(settings, facility=facility, period="2026-Q4")
    assert [a["advance_id"] for a in listed["advances"]] == [added["advance_id"]]
    assert listed["standing"] == [
        {"ma_cskcb": facility, "advances": 1, "amount": "250000.00"}
    ]
    cancelled = cancel_advance(
        settings, added["advance_id"], actor="tai-chinh", at=LATER
    )
    assert cancelled["settle_again"] == [PERIOD]  # the fixture posted 2026-10
    assert cancelled["amount"] == "250000.00"
    listed = list_advances(settings, facility=facility)
    assert listed["advances"][0]["reversal_id"] == cancelled["reversal_id"]
    assert listed["standing"] == []
    with pytest.raises(ConfigError, match="reversed already"):
        cancel_advance(settings, added["advance_id"], actor="tai-chinh", at=LATER)
    with pytest.raises(ConfigError, match="not a positive amount"):
        add_advance(
            settings,
            facility=facility,
            period=PERIOD,
            amount="-5",
            actor="tai-chinh",
            at=AT,
        )


def test_unknown_or_malformed_ids_are_nothing_and_files_stay_in_their_folder(
    copied: tuple[Settings, GeneratedDay],
) -> None:
    settings, day = copied
    for wrong in ("0123456789abcdef", "../../store", "*", ""):
        assert settlement_status(settings, wrong) is None
        assert settlement_files(settings, wrong) == {}
    with pytest.raises(ConfigError, match=r"no settlement '\.\./x'"):
        ledger_diff(settings, day.settlement.settlement_id, "../x")
    files = settlement_files(settings, day.settlement.settlement_id)
    folder = day.folder.name
    assert files
    for name, path in files.items():
        assert path.parent.name in (folder, "excel")
        assert path.name == Path(name).name


def test_an_audit_started_for_the_api_posts_its_recoveries_once(
    copied: tuple[Settings, GeneratedDay], tmp_path: Path
) -> None:
    settings, _ = copied
    with duckdb.connect(str(settings.store_path), read_only=True) as con:
        packs = con.sql("SELECT pack FROM decisions").pl()
    pack = packs["pack"].drop_nulls().mode()[0].split("#")[0]
    overlay = lower_benefit_level_4(tmp_path / "overlay")
    audit_settings = Settings(data_dir=settings.data_dir, catalog_dir=overlay)
    before = _ledger_rows(settings)
    # a request of the API server reading the store meanwhile: its connections are
    # read-write, and DuckDB refuses a read-only one beside them in the same process
    with duckdb.connect(str(settings.store_path)) as reading:
        started = start_audit(
            audit_settings,
            period=PERIOD,
            pack=pack,
            post=True,
            actor="tai-chinh",
            at=AT,
        )
        assert reading.execute("SELECT count(*) FROM ledger").fetchall()[0][0] > before
    totals = started["totals"]
    assert Decimal(totals["recovery"]) > 0
    assert started["entries_posted"] > 0
    assert _ledger_rows(settings) == before + started["entries_posted"]
    assert {"facilities.csv", "ledger_proposal.csv", "audit.json"} <= set(
        started["files"]
    )
    again = start_audit(
        audit_settings, period=PERIOD, pack=pack, post=True, actor="tai-chinh", at=AT
    )
    assert again["id"] == started["id"]
    assert again["entries_posted"] == 0
    with duckdb.connect(str(settings.store_path)) as con:
        events = read_events(con, action="audit.posted")
    assert [(e["subject"], e["actor"]) for e in events] == [
        (f"audit:{started['id']}", "tai-chinh")
    ]
    assert _ledger_rows(settings) == before + started["entries_posted"]
