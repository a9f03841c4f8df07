"""The store: idempotent ingest, versions, withdrawal, replay and crash safety."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from claims.config import Settings
from claims.pipeline.daily import run_inbox
from claims.store.faults import POINTS
from tests.conftest import store_snapshot
from tests.factories import example_claim, hoso, with_key, wrapper


def _inbox(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def _day_files() -> dict[str, bytes]:
    claim = example_claim()
    return {
        "a.xml": wrapper([hoso(with_key(claim, f"A{i}")) for i in range(3)]),
        "b.xml": wrapper([hoso(with_key(claim, "B1"))]),
        "broken.xml": b"<GIAMDINHHS><THONGTINDONVI>",
    }


def _claims(settings: Settings) -> pl.DataFrame:
    with duckdb.connect(str(settings.store_path), read_only=True) as con:
        return con.sql(
            "SELECT ma_lk, version, is_current, withdrawn FROM claims ORDER BY ma_lk, version"
        ).pl()


def test_same_inbox_twice_changes_nothing(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    files = _day_files()
    first = run_inbox(_inbox(tmp_path / "in1", files), settings=settings)
    before = store_snapshot(settings.store_path)
    second = run_inbox(_inbox(tmp_path / "in2", files), settings=settings)
    after = store_snapshot(settings.store_path)
    assert first.run_id is not None
    assert second.run_id is None
    assert set(second.files["status"]) == {"already stored"}
    assert before.keys() == after.keys()
    for name, frame in before.items():
        assert_frame_equal(frame, after[name])


def test_a_store_under_a_hidden_folder_shows_its_runs(tmp_path: Path) -> None:
    """The run tables are views over the run folders that skip a folder being written
    (a name starting with "."): a data folder under ``~/.cache`` is not one of those."""
    settings = Settings(data_dir=tmp_path / ".cache" / "giamdinh")
    result = run_inbox(_inbox(tmp_path / "in", _day_files()), settings=settings)
    with duckdb.connect(str(settings.store_path), read_only=True) as con:
        decided = con.sql("SELECT ma_lk FROM decisions ORDER BY ma_lk").pl()
        stored = con.sql("SELECT ma_lk FROM claims ORDER BY ma_lk").pl()
    assert result.run_id is not None
    assert decided["ma_lk"].to_list() == ["A0", "A1", "A2", "B1"]
    assert decided.equals(stored)
    # a run folder still being written (renamed into place when done) is not read
    run_dir = next(settings.runs_dir.glob("*/*"))
    shutil.copytree(run_dir, run_dir.parent / f".{run_dir.name}.tmp")
    with duckdb.connect(str(settings.store_path), read_only=True) as con:
        again = con.sql("SELECT count(*) FROM decisions").fetchall()
    assert again == [(4,)]


def test_resubmission_supersedes_and_both_versions_stay(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    claim = with_key(example_claim(), "R1")
    run_inbox(
        _inbox(tmp_path / "in1", {"r.xml": wrapper([hoso(claim)])}), settings=settings
    )
    claim["XML1"][0]["GHI_CHU"] = "gửi lại sau khi sửa"
    run_inbox(
        _inbox(tmp_path / "in2", {"r2.xml": wrapper([hoso(claim)])}), settings=settings
    )
    rows = _claims(settings)
    assert rows.rows() == [("R1", 1, False, False), ("R1", 2, True, False)]


def test_withdrawal_is_a_new_current_version(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    claim = with_key(example_claim(), "W1")
    run_inbox(
        _inbox(tmp_path / "in1", {"w.xml": wrapper([hoso(claim)])}), settings=settings
    )
    claim["XML1"][0]["MA_DOITUONG_KCB"] = "8"
    run_inbox(
        _inbox(tmp_path / "in2", {"w8.xml": wrapper([hoso(claim)])}), settings=settings
    )
    assert _claims(settings).rows() == [("W1", 1, False, False), ("W1", 2, True, True)]


def test_replay_gives_byte_identical_outputs(tmp_path: Path) -> None:
    files = _day_files()
    outputs = []
    for n in (1, 2):
        settings = Settings(data_dir=tmp_path / f"data{n}")
        result = run_inbox(
            _inbox(tmp_path / f"in{n}", files), settings=settings, run_date="2025-10-06"
        )
        assert result.run_dir is not None
        outputs.append(result.run_dir)
    names = sorted(p.name for p in outputs[0].glob("*.parquet"))
    assert names == sorted(p.name for p in outputs[1].glob("*.parquet"))
    assert outputs[0].name == outputs[1].name  # the run id comes from content
    for name in names:
        assert (outputs[0] / name).read_bytes() == (outputs[1] / name).read_bytes(), (
            name
        )
    receipts = sorted((outputs[0] / "receipts").iterdir())
    for receipt in receipts:
        assert (
            receipt.read_bytes()
            == (outputs[1] / "receipts" / receipt.name).read_bytes()
        )


def _cli_ingest(
    inbox: Path, data: Path, crash_at: str | None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GIAMDINH_CRASH_AT"}
    if crash_at:
        env["GIAMDINH_CRASH_AT"] = crash_at
    code = "from claims.cli.app import app; app()"
    return subprocess.run(
        [sys.executable, "-c", code, "ingest", str(inbox), "--data-dir", str(data)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.e2e
@pytest.mark.parametrize("point", POINTS)
def test_crash_then_rerun_equals_clean_run(tmp_path: Path, point: str) -> None:
    files = _day_files()
    clean = _cli_ingest(_inbox(tmp_path / "clean_in", files), tmp_path / "clean", None)
    assert clean.returncode == 0, clean.stderr
    crashed_in = _inbox(tmp_path / "crash_in", files)
    crashed = _cli_ingest(crashed_in, tmp_path / "crash", point)
    assert crashed.returncode == 137, crashed.stderr
    if point in ("after-run-dir", "in-transaction"):  # nothing of the run is visible
        with duckdb.connect(
            str(tmp_path / "crash" / "giamdinh.duckdb"), read_only=True
        ) as con:
            tables = {
                r[0]
                for r in con.execute(
                    "SELECT table_name FROM information_schema.tables"
                ).fetchall()
            }
            assert "claims" not in tables or con.sql(
                "SELECT count(*) FROM claims"
            ).fetchall() == [(0,)]
    rerun = _cli_ingest(crashed_in, tmp_path / "crash", None)
    assert rerun.returncode == 0, rerun.stderr
    expected = store_snapshot(tmp_path / "clean" / "giamdinh.duckdb")
    got = store_snapshot(tmp_path / "crash" / "giamdinh.duckdb")
    assert expected.keys() == got.keys()
    for name, frame in expected.items():
        assert_frame_equal(frame, got[name], check_row_order=True)
    assert not any(crashed_in.iterdir())  # every file was moved on the rerun
    assert not list((tmp_path / "crash" / "runs").rglob("*.tmp"))
    shutil.rmtree(tmp_path / "crash")


def test_bulk_run_is_dated_by_the_latest_discharge(tmp_path: Path) -> None:
    claim = example_claim()
    folder = tmp_path / "in" / "bulk"
    folder.mkdir(parents=True)
    for table, rows in claim.items():
        frame = pl.DataFrame(rows).rename(str.lower)
        if table != "XML1":
            frame = frame.with_columns(pl.lit("01030").alias("ma_cskcb"))
        frame.write_parquet(folder / f"{table.lower()}.parquet")
    result = run_inbox(tmp_path / "in", settings=Settings(data_dir=tmp_path / "data"))
    assert result.run_date == "2025-10-06"  # NGAY_RA of the example claim
    assert result.claims["status"].to_list() == ["accepted"]


def test_a_store_of_an_older_engine_gains_the_new_columns(tmp_path: Path) -> None:
    """A quarantine table without the kept amounts (an older store) takes the next
    run's rows: the columns are added, null in the older rows."""
    settings = Settings(data_dir=tmp_path / "data")
    claim = example_claim()
    claim["XML2"][0]["NGAY_YL"] = "202510070900"  # outside the stay: quarantined
    first = wrapper([hoso(with_key(claim, "O1"))])
    run_inbox(_inbox(tmp_path / "in1", {"o1.xml": first}), settings=settings)
    with duckdb.connect(str(settings.store_path)) as con:
        con.execute("ALTER TABLE quarantine DROP COLUMN claimed_bh")
        con.execute("ALTER TABLE quarantine DROP COLUMN claimed_bhtt")
    second = wrapper([hoso(with_key(claim, "O2"))])
    result = run_inbox(_inbox(tmp_path / "in2", {"o2.xml": second}), settings=settings)
    assert result.run_id is not None
    with duckdb.connect(str(settings.store_path), read_only=True) as con:
        kept = con.sql(
            "SELECT ma_lk, claimed_bhtt FROM quarantine WHERE \"table\" = 'XML2' "
            "ORDER BY ma_lk"
        ).fetchall()
    assert [lk for lk, _ in kept] == ["O1", "O2"]
    assert kept[0][1] is None
    assert kept[1][1] is not None
