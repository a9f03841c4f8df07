"""``giamdinh catalogs``: list, check, show, diff and export on real folders."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from catalogs.loader import load_version
from tests.catalogs.helpers import write_csv, write_raw
from tests.factories import giamdinh

pytestmark = pytest.mark.e2e
SERVICES = (
    "ma_cskcb,ma_dich_vu,ten_dich_vu,ma_nhom,don_gia,valid_from,valid_to\n"
    ",S1,Siêu âm,2,100.000,,\n"
    ",S2,Xét nghiệm,1,50.000,,\n"
    "01001,S1,Siêu âm,2,90.000,,\n"
)


def _giamdinh(*args: str) -> subprocess.CompletedProcess[str]:
    return giamdinh("catalogs", *args)


def _root(tmp_path: Path) -> Path:
    root = tmp_path / "cat"
    write_csv(root, "services", "2024-01-01", SERVICES)
    changed = SERVICES.replace(",S2,Xét nghiệm,1,50.000,,\n", "").replace(
        "90.000", "180.000"
    )
    changed += ",S3,Nội soi,2,300.000,,\n"
    write_csv(
        root, "services", "2024-01-01.2", changed, recorded_at="2024-02-01T00:00:00"
    )
    return root


def test_check_passes_a_good_root_and_names_the_bad_row(tmp_path: Path) -> None:
    root = _root(tmp_path)
    ok = _giamdinh("check", str(root))
    assert ok.returncode == 0, ok.stderr
    assert "ok services: 2 version(s), 6 rows" in ok.stdout
    bad = tmp_path / "bad"
    write_raw(bad, "services", "2024-01-01", SERVICES.replace("50.000", "-1"))
    failed = _giamdinh("check", str(bad))
    assert failed.returncode == 1
    assert "row 2" in failed.stderr
    assert "don_gia must be" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_diff_reports_added_removed_changed_and_jumps(tmp_path: Path) -> None:
    root = _root(tmp_path)
    done = _giamdinh(
        "diff", "services", "2024-01-01", "2024-01-01.2", "--catalog-dir", str(root)
    )
    assert done.returncode == 0, done.stderr
    assert "added 1, removed 1, changed 1, suspicious 1" in done.stdout
    assert "100.0" in done.stdout  # 90 → 180 is +100 %


def test_show_answers_as_known_at_a_recorded_time(tmp_path: Path) -> None:
    root = _root(tmp_path)
    args = (
        "show",
        "services",
        "--code",
        "S1",
        "--facility",
        "01001",
        "--date",
        "2024-03-01",
    )
    now = _giamdinh(*args, "--catalog-dir", str(root))
    before = _giamdinh(
        *args, "--as-of-recorded", "2024-01-15T00:00", "--catalog-dir", str(root)
    )
    assert now.returncode == before.returncode == 0
    assert "180.000" in now.stdout
    assert "90.000" in before.stdout
    assert "180.000" not in before.stdout
    assert "(applies)" in now.stdout


def test_unknown_catalog_and_version_are_clear_errors(tmp_path: Path) -> None:
    root = _root(tmp_path)
    unknown = _giamdinh("show", "prices", "--catalog-dir", str(root))
    assert unknown.returncode == 2
    assert "the catalogs are: icd10" in unknown.stderr
    missing = _giamdinh(
        "diff", "services", "2024-01-01", "2030-01-01", "--catalog-dir", str(root)
    )
    assert missing.returncode == 2
    assert "has no version '2030-01-01'" in missing.stderr


def test_export_writes_loadable_csv_versions(tmp_path: Path) -> None:
    root = _root(tmp_path)
    target = tmp_path / "out"
    done = _giamdinh("export", str(target), "--catalog-dir", str(root))
    assert done.returncode == 0, done.stderr
    exported = load_version(target / "services" / "2024-01-01.2")
    original = load_version(root / "services" / "2024-01-01.2")
    assert exported.rows.equals(original.rows)
    assert (target / "drugs" / "2019-01-01" / "rows.csv").is_file()  # built-ins too
    assert _giamdinh("check", str(target)).returncode == 0
    again = _giamdinh("export", str(target))
    assert again.returncode == 2
    assert "not empty" in again.stderr


def test_list_names_every_catalog(tmp_path: Path) -> None:
    done = _giamdinh("list", "--catalog-dir", str(_root(tmp_path)))
    assert done.returncode == 0, done.stderr
    for catalog_id in ("drugs", "services", "icd10", "benefits", "base_salary"):
        assert catalog_id in done.stdout
    assert "overlay" in done.stdout
