"""Every load error names its file, its row and the bad value, and stops the run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from catalogs.errors import CatalogError
from catalogs.loader import load_version, write_version
from catalogs.resolve import load_catalogs
from claims.config import Settings
from claims.pipeline.daily import run_inbox
from tests.catalogs.helpers import manifest, write_csv
from tests.factories import example_claim, hoso, wrapper

DRUG_HEADER = (
    "ma_cskcb,ma_thuoc,ten_hoat_chat,don_vi_tinh,don_gia,tyle_tt_bh,valid_from,valid_to"
)
GOOD_DRUG = "01001,40.17,Amoxicilin,Viên,1139.000,100,,"


def _drugs(root: Path, *rows: str, header: str = DRUG_HEADER) -> Path:
    """Write a drugs version with the given rows; return its directory."""
    text = "\n".join([header, *rows]) + "\n"
    directory = root / "drugs" / "2024-01-01"
    directory.mkdir(parents=True)
    (directory / "rows.csv").write_text(text, encoding="utf-8")
    import hashlib

    digest = hashlib.sha256(text.encode()).hexdigest()
    (directory / "manifest.yaml").write_text(
        "id: drugs\nversion: '2024-01-01'\neffective_from: '2024-01-01'\n"
        f"recorded_at: '2024-01-01T00:00:00'\nsource: test\nsha256: {digest}\n",
        encoding="utf-8",
    )
    return directory


def _error(directory: Path) -> CatalogError:
    with pytest.raises(CatalogError) as caught:
        load_version(directory)
    return caught.value


def _names(
    error: CatalogError, path: Path, *, row: int | None = None, value: str = ""
) -> str:
    """Assert the message names the file, the row (if any) and the value; return it."""
    text = str(error)
    assert error.path == path
    assert str(path) in text
    if row is not None:
        assert error.row == row
        assert f"row {row}:" in text
    assert value in text
    return text


@pytest.mark.parametrize(
    ("rows", "row", "needle"),
    [
        (
            (GOOD_DRUG, "01001,40.18,X,Viên,0,100,,"),
            2,
            "don_gia must be greater than 0, not",
        ),
        ((GOOD_DRUG, "01001,40.18,X,Viên,-5.000,100,,"), 2, "-5.000"),
        (
            ("01001,40.18,X,Viên,10,0,,",),
            1,
            "tyle_tt_bh must be a percent 1–100, not '0'",
        ),
        (("01001,40.18,X,Viên,10,101,,",), 1, "101"),
        ((GOOD_DRUG, "01001,40.18,X,Viên,12.3456,100,,"), 2, "'12.3456'"),
        (("01001,40.18,X,Viên,10,100,2024-13-01,",), 1, "'2024-13-01'"),
        (("01001,40.18,,Viên,10,100,,",), 1, "ten_hoat_chat is required and empty"),
        (("01001,40.18,X,Viên,10,100,2024-06-01,2024-03-01",), 1, "is after valid_to"),
        (
            ("01001,40.18,X,Viên,10,100,,2023-12-31",),
            1,
            "wholly outside the release window",
        ),
    ],
)
def test_bad_value_names_file_row_and_value(
    tmp_path: Path, rows: tuple[str, ...], row: int, needle: str
) -> None:
    error = _error(_drugs(tmp_path, *rows))
    assert error.row == row
    assert error.path == tmp_path / "drugs" / "2024-01-01" / "rows.csv"
    text = str(error)
    assert str(error.path) in text
    assert f"row {row}" in text
    assert needle in text


def test_overlapping_validity_for_one_key(tmp_path: Path) -> None:
    rows = (
        GOOD_DRUG,
        "01001,40.18,X,Viên,10,100,2024-01-01,2024-06-30",
        "01001,40.18,X,Viên,11,100,2024-06-30,",
    )
    directory = _drugs(tmp_path, *rows)
    error = _error(directory)
    text = _names(error, directory / "rows.csv", row=3, value="ma_thuoc='40.18'")
    assert "overlapping validity" in text
    assert "clashes with row 2" in text


def test_open_ended_rows_of_one_key_overlap(tmp_path: Path) -> None:
    rows = (
        "01001,40.18,X,Viên,10,100,,2024-06-30",
        "01001,40.18,X,Viên,11,100,2024-03-01,",
    )
    directory = _drugs(tmp_path, *rows)
    text = _names(_error(directory), directory / "rows.csv", row=2, value="40.18")
    assert "overlapping validity" in text


def test_adjacent_windows_do_not_overlap(tmp_path: Path) -> None:
    rows = (
        "01001,40.18,X,Viên,10,100,2024-01-01,2024-06-29",
        "01001,40.18,X,Viên,11,100,2024-06-30,",
    )
    assert load_version(_drugs(tmp_path, *rows)).rows.height == 2


def test_duplicate_key(tmp_path: Path) -> None:
    directory = _drugs(tmp_path, GOOD_DRUG, "01002,40.17,Y,Viên,9,100,,", GOOD_DRUG)
    text = _names(
        _error(directory),
        directory / "rows.csv",
        row=3,
        value="duplicate key ma_cskcb='01001', ma_thuoc='40.17'",
    )
    assert "clashes with row 1" in text


def test_duplicate_national_key(tmp_path: Path) -> None:
    national = ",40.17,Amoxicilin,Viên,1000.000,100,,"
    directory = _drugs(tmp_path, national, GOOD_DRUG, national)
    _names(
        _error(directory),
        directory / "rows.csv",
        row=3,
        value="duplicate key ma_cskcb=None, ma_thuoc='40.17'",
    )


def test_national_and_facility_rows_are_different_keys(tmp_path: Path) -> None:
    national = ",40.17,Amoxicilin,Viên,1000.000,100,,"
    assert load_version(_drugs(tmp_path, GOOD_DRUG, national)).rows.height == 2


def test_unknown_column(tmp_path: Path) -> None:
    directory = _drugs(tmp_path, GOOD_DRUG + ",x", header=DRUG_HEADER + ",gia_moi")
    text = _names(_error(directory), directory / "rows.csv", value="gia_moi")
    assert "unknown column(s) gia_moi" in text
    assert "don_gia" in text  # the valid columns are listed


def test_missing_required_column(tmp_path: Path) -> None:
    header = DRUG_HEADER.replace("don_gia,", "")
    directory = _drugs(tmp_path, "01001,40.17,Amoxicilin,Viên,100,,", header=header)
    _names(
        _error(directory),
        directory / "rows.csv",
        value="required column(s) don_gia missing",
    )


def test_required_value_of_blanks_is_empty(tmp_path: Path) -> None:
    """The loader strips cells, so a cell of spaces is as empty as a missing one."""
    directory = _drugs(tmp_path, GOOD_DRUG, "01001,40.18,   ,Viên,10,100,,")
    _names(
        _error(directory),
        directory / "rows.csv",
        row=2,
        value="ten_hoat_chat is required and empty",
    )


def _text_drugs(ma_cskcb: str, ten_hoat_chat: str) -> pl.DataFrame:
    """Two drug rows as text, the second with the given facility and substance."""
    return pl.DataFrame(
        {
            "ma_cskcb": ["01001", ma_cskcb],
            "ma_thuoc": ["40.17", "40.17"],
            "ten_hoat_chat": ["Amoxicilin", ten_hoat_chat],
            "don_vi_tinh": ["Viên", "Viên"],
            "don_gia": ["1139.000", "900"],
            "tyle_tt_bh": ["100", "100"],
        }
    )


@pytest.mark.parametrize("blank", ["", "  "])
def test_blank_facility_in_parquet_is_a_national_row(
    tmp_path: Path, blank: str
) -> None:
    loaded = write_version(
        tmp_path / "drugs" / "2024-01-01",
        manifest("drugs", "2024-01-01"),
        _text_drugs(blank, "Amoxicilin"),
        parquet=True,
    )
    assert loaded.rows["ma_cskcb"].to_list() == ["01001", None]


def test_blank_facility_in_csv_is_a_national_row(tmp_path: Path) -> None:
    national = "  ,40.17,Amoxicilin,Viên,900,100,,"
    loaded = load_version(_drugs(tmp_path, GOOD_DRUG, national))
    assert loaded.rows["ma_cskcb"].to_list() == ["01001", None]


@pytest.mark.parametrize("blank", ["", "  "])
def test_empty_required_text_in_parquet(tmp_path: Path, blank: str) -> None:
    directory = tmp_path / "drugs" / "2024-01-01"
    with pytest.raises(CatalogError) as caught:
        write_version(
            directory,
            manifest("drugs", "2024-01-01"),
            _text_drugs("01002", blank),
            parquet=True,
        )
    _names(
        caught.value,
        directory / "rows.parquet",
        row=2,
        value="ten_hoat_chat is required and empty",
    )


def test_hash_mismatch(tmp_path: Path) -> None:
    directory = _drugs(tmp_path, GOOD_DRUG)
    rows = directory / "rows.csv"
    rows.write_text(rows.read_text(encoding="utf-8").replace("1139.000", "9139.000"))
    text = _names(_error(directory), rows)
    assert re.search(
        r"sha256 of rows is [0-9a-f]{64}, manifest says [0-9a-f]{64}", text
    )


def test_hash_mismatch_after_write_version(tmp_path: Path) -> None:
    directory = tmp_path / "services" / "2024-01-01"
    rows = pl.DataFrame(
        {"ma_dich_vu": ["01.0001"], "ten_dich_vu": ["Khám"], "ma_nhom": ["13"]}
    ).with_columns(don_gia=pl.lit("37500"))
    written = write_version(directory, manifest("services", "2024-01-01"), rows)
    declared = written.manifest.sha256
    path = directory / "rows.csv"
    path.write_bytes(path.read_bytes().replace(b"37500", b"375000"))
    text = _names(_error(directory), path, value=f"manifest says {declared}")
    assert "sha256 of rows is" in text


def test_manifest_version_differs_from_folder(tmp_path: Path) -> None:
    directory = _drugs(tmp_path, GOOD_DRUG)
    manifest = directory / "manifest.yaml"
    manifest.write_text(
        manifest.read_text().replace("version: '2024-01-01'", "version: '2024-02-01'")
    )
    _names(
        _error(directory), manifest, value="'2024-02-01' differs from its folder name"
    )


def test_manifest_id_differs_from_folder(tmp_path: Path) -> None:
    directory = _drugs(tmp_path, GOOD_DRUG)
    target = tmp_path / "services" / "2024-01-01"
    target.parent.mkdir()
    directory.rename(target)
    _names(
        _error(target),
        target / "manifest.yaml",
        value="manifest id 'drugs' differs from the catalog folder 'services'",
    )


def test_bad_version_name(tmp_path: Path) -> None:
    directory = _drugs(tmp_path, GOOD_DRUG)
    manifest = directory / "manifest.yaml"
    manifest.write_text(
        manifest.read_text().replace("version: '2024-01-01'", "version: v1")
    )
    text = _names(
        _error(directory), manifest, value="must be YYYY-MM-DD or YYYY-MM-DD.N"
    )
    assert "'v1'" in text


def test_icd_code_unknown_to_icd10(tmp_path: Path) -> None:
    csv = (
        "kind,key,icd,value,source\n"
        "disease_list,PL1,J18.9,100,TT 01/2025\n"
        "disease_list,PL1,Q99.99,100,TT 01/2025\n"
    )
    write_csv(tmp_path, "benefits", "2025-01-01", csv)  # loads: ICD not checked alone
    with pytest.raises(CatalogError) as caught:
        load_catalogs(tmp_path, ["benefits"])
    _names(
        caught.value,
        tmp_path / "benefits" / "2025-01-01" / "rows.csv",
        row=2,
        value="icd is not an ICD-10 code known to icd10: 'Q99.99'",
    )


def test_row_wholly_after_the_release_window(tmp_path: Path) -> None:
    csv = (
        "ma_cskcb,ma_thuoc,ten_hoat_chat,don_vi_tinh,don_gia,tyle_tt_bh,valid_from\n"
        "01001,40.17,Amoxicilin,Viên,1139.000,100,2024-06-30\n"
        "01001,40.18,X,Viên,10,100,2024-07-01\n"
    )
    directory = tmp_path / "drugs" / "2024-01-01"
    directory.mkdir(parents=True)
    (directory / "rows.csv").write_text(csv, encoding="utf-8")
    import hashlib

    import yaml

    body = manifest("drugs", "2024-01-01", effective_to="2024-06-30") | {
        "sha256": hashlib.sha256(csv.encode()).hexdigest()
    }
    (directory / "manifest.yaml").write_text(yaml.safe_dump(body), encoding="utf-8")
    _names(
        _error(directory),
        directory / "rows.csv",
        row=2,
        value="validity 2024-07-01… lies wholly outside the release window "
        "2024-01-01…2024-06-30",
    )


def test_bad_catalog_stops_the_run_before_any_file_is_touched(tmp_path: Path) -> None:
    overlay = tmp_path / "catalogs"
    _drugs(overlay, GOOD_DRUG, "01001,40.18,X,Viên,0,100,,")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.xml").write_bytes(wrapper([hoso(example_claim())]))
    settings = Settings(data_dir=tmp_path / "data", catalog_dir=overlay)
    with pytest.raises(CatalogError, match="don_gia must be greater than 0"):
        run_inbox(inbox, settings=settings)
    assert (inbox / "a.xml").is_file()
    assert not settings.store_path.exists()
    assert not settings.runs_dir.exists()


@pytest.mark.e2e
def test_giamdinh_run_with_a_bad_catalog_exits_before_touching_anything(
    tmp_path: Path,
) -> None:
    overlay = tmp_path / "catalogs"
    _drugs(overlay, GOOD_DRUG, "01001,40.18,X,Viên,-1,100,,")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.xml").write_bytes(wrapper([hoso(example_claim())]))
    data = tmp_path / "data"
    args = ["run", "--date", "2025-10-20", "--inbox", str(inbox)]
    args += ["--data-dir", str(data), "--catalog-dir", str(overlay)]
    result = subprocess.run(
        [sys.executable, "-c", "from claims.cli.app import app; app()", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    flat = "".join(result.stderr.split())  # the console wraps long paths
    assert "rows.csv,row2:don_gia" in flat
    assert "not'-1" in flat  # the value as typed: -1.000
    assert (inbox / "a.xml").is_file()
    assert not (data / "processed").exists()
    assert not (data / "failed").exists()
    assert not Settings(data_dir=data).store_path.exists()
