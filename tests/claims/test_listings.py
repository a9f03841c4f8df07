"""Listings never cut codes or amounts, and every listing has ``--format
table|json|csv``: each listing command run as a real process with its stdout piped at
60 columns, then in JSON and CSV in process."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from rich.console import Console
from typer.testing import CliRunner

from claims.cli.app import app
from claims.cli.listing import print_table, table_of
from tests.conftest import PERIOD, GeneratedDay

NARROW = {**os.environ, "COLUMNS": "60"}


def _narrow(*args: str) -> str:
    """``giamdinh ARGS`` with stdout piped and COLUMNS=60: its stdout (exit 0)."""
    code = "from claims.cli.app import app; app()"
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=NARROW,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def copied(
    generated_day: GeneratedDay, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A copy of the generated day, with an advance recorded (the listings read it)."""
    data = generated_day.copy(tmp_path_factory.mktemp("listings") / "data").data_dir
    facility = generated_day.settlement.frames["facilities"]["ma_cskcb"][0]
    _cli(
        "settle", "advance", "--facility", facility, "--period", PERIOD,
        "--amount", "112846123.45", "--data-dir", str(data),
    )  # fmt: skip
    return data


def _cut_claim(day: GeneratedDay) -> tuple[str, str, Decimal, Decimal]:
    """A claim the payment cut: facility, MA_LK, claimed and accepted T_BHTT."""
    row = day.sql(
        "SELECT ma_cskcb, ma_lk, claimed_t_bhtt, accepted_t_bhtt FROM decisions "
        "WHERE outcome = 'partially_accepted' ORDER BY ma_lk LIMIT 1"
    ).row(0)
    return row[0], row[1], row[2], row[3]


def test_a_table_is_wider_than_the_terminal_rather_than_cut() -> None:
    """At 40 columns on a terminal, ids and amounts stay whole; text wraps."""
    frame = pl.DataFrame(
        {
            "ma_lk": ["0100220261015000043"],
            "message": ["Đơn giá cao hơn giá trong danh mục của cơ sở tại ngày"],
            "accepted": [Decimal("112846123.45")],
        },
        schema_overrides={"accepted": pl.Decimal(38, 2)},
    )
    console = Console(width=40, force_terminal=True, record=True)
    print_table(console, table_of("t", frame))
    text = console.export_text()
    assert "0100220261015000043" in text
    assert "112846123.45" in text
    assert "Đơn giá cao hơn giá" not in text  # the message wrapped
    assert max(len(line) for line in text.splitlines()) > 40


@pytest.mark.e2e
def test_settle_listings_keep_ids_and_amounts(
    generated_day: GeneratedDay, copied: Path
) -> None:
    where = ("--data-dir", str(copied))
    shown = _narrow("settle", "run", "--period", PERIOD, "--no-excel", *where)
    facilities = generated_day.settlement.frames["facilities"]
    for row in facilities.head(20).iter_rows(named=True):
        assert row["ma_cskcb"] in shown
        assert str(row["requested"]) in shown
        assert str(row["accepted"]) in shown
    assert str(facilities["requested"].sum()) in shown
    listed = _narrow("settle", "advance", "list", *where)
    assert "112846123.45" in listed
    advance = json.loads(_cli("settle", "advance", "list", "--format", "json", *where))
    assert advance["advances"][0]["amount"] == "112846123.45"
    assert len(advance["advances"][0]["advance_id"]) >= 16
    assert advance["advances"][0]["advance_id"] in listed


@pytest.mark.e2e
def test_rules_and_claims_listings_keep_ids_and_amounts(
    generated_day: GeneratedDay, copied: Path
) -> None:
    facility, claim, claimed, accepted = _cut_claim(generated_day)
    where = ("--data-dir", str(copied))
    for command in ("rules explain", "claims show"):
        shown = _narrow(
            *command.split(), "--facility", facility, "--claim", claim, *where
        )
        assert claim in shown, command
        assert str(claimed) in shown, command
        assert str(accepted) in shown, command
    shadow = _narrow(
        "rules", "shadow", "vn-bhyt@2026.07.1", "--since", "2026-01-01", *where
    )
    assert "claims admitted since" in shadow


@pytest.mark.e2e
def test_catalog_listings_keep_codes_and_prices() -> None:
    shown = _narrow("catalogs", "show", "services", "--date", "2026-10-15")
    rows = json.loads(
        _cli("catalogs", "show", "services", "--date", "2026-10-15", "--format", "json")
    )["services"]
    for row in rows[:50]:
        assert row["ma_dich_vu"] in shown
        assert row["don_gia"] in shown
    listed = _narrow("catalogs", "list")
    versions = list(
        csv.DictReader(io.StringIO(_cli("catalogs", "list", "--format", "csv")))
    )
    assert {"drugs", "services", "icd10"} <= {v["catalog"] for v in versions}
    for v in versions:
        assert v["hash"][:12] in listed
        assert len(v["hash"]) == 64  # JSON and CSV give the whole hash


def test_every_listing_command_offers_the_three_formats() -> None:
    commands = (
        ("settle", "run"), ("settle", "diff"), ("audit",), ("settle", "advance", "list"),
        ("catalogs", "list"), ("catalogs", "show"), ("catalogs", "diff"),
        ("rules", "explain"), ("rules", "shadow"), ("claims", "show"),
    )  # fmt: skip
    for command in commands:
        help_text = _cli(*command, "--help")
        assert "--format" in help_text, command
        for name in ("table", "json", "csv"):
            assert name in help_text, (command, name)


def test_json_and_csv_give_every_row_with_exact_amounts(
    generated_day: GeneratedDay,
) -> None:
    where = ("--data-dir", str(generated_day.settings.data_dir))
    facility, claim, claimed, accepted = _cut_claim(generated_day)
    args = ("claims", "show", "--facility", facility, "--claim", claim, *where)
    body = json.loads(_cli(*args, "--format", "json"))
    assert body["current"]["claimed"]["t_bhtt"] == str(claimed)
    assert body["current"]["accepted"]["t_bhtt"] == str(accepted)
    sections = _cli(*args, "--format", "csv")
    assert sections.startswith("# versions\n")
    assert f"{claimed}," in sections or f",{claimed}" in sections


@pytest.mark.e2e
def test_a_run_piped_at_60_columns_keeps_its_amounts(
    generated_day: GeneratedDay, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for path in generated_day.files:
        (inbox / path.name).write_bytes(path.read_bytes())
    shown = _narrow("ingest", str(inbox), "--data-dir", str(tmp_path / "data"))
    tally = generated_day.sql(
        "SELECT outcome, sum(claimed_t_bhtt), sum(accepted_t_bhtt), "
        "sum(rejected_amount) FROM decisions GROUP BY outcome"
    )
    for outcome, *amounts in tally.iter_rows():
        assert outcome in shown
        for amount in amounts:
            assert f"{amount:,.2f}" in shown, (outcome, amount)
