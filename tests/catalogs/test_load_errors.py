"""Every load error names its file, its row and the bad value, and stops the run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from catalogs.errors import CatalogError
from catalogs.loader import load_version
from catalogs.resolve import load_catalogs
from claims.config import Settings
from claims.pipeline import run_inbox
from tests.catalogs.helpers import write_csv
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
    error = _error(_drugs(tmp_path, *rows))
    assert error.row == 3
    assert "overlapping validity" in str(error)
    assert "ma_thuoc='40.18'" in str(error)
    assert "clashes with row 2" in str(error)


def test_adjacent_windows_do_not_overlap(tmp_path: Path) -> None:
    rows = (
        "01001,40.18,X,Viên,10,100,2024-01-01,2024-06-29",
        "01001,40.18,X,Viên,11,100,2024-06-30,",
    )
    assert load_version(_drugs(tmp_path, *rows)).rows.height == 2


def test_duplicate_key(tmp_path: Path) -> None:
    error = _error(_drugs(tmp_path, GOOD_DRUG, "01002,40.17,Y,Viên,9,100,,", GOOD_DRUG))
    assert error.row == 3
    assert "duplicate key ma_cskcb='01001', ma_thuoc='40.17'" in str(error)


def test_national_and_facility_rows_are_different_keys(tmp_path: Path) -> None:
    national = ",40.17,Amoxicilin,Viên,1000.000,100,,"
    assert load_version(_drugs(tmp_path, GOOD_DRUG, national)).rows.height == 2


def test_unknown_column(tmp_path: Path) -> None:
    directory = _drugs(tmp_path, GOOD_DRUG + ",x", header=DRUG_HEADER + ",gia_moi")
    error = _error(directory)
    assert "unknown column(s) gia_moi" in str(error)
    assert "don_gia" in str(error)  # the valid columns are listed
    assert str(directory / "rows.csv") in str(error)


def test_missing_required_column(tmp_path: Path) -> None:
    header = DRUG_HEADER.replace("don_gia,", "")
    error = _error(_drugs(tmp_path, "01001,40.17,Amoxicilin,Viên,100,,", header=header))
    assert "required column(s) don_gia missing" in str(error)


def test_hash_mismatch(tmp_path: Path) -> None:
    directory = _drugs(tmp_path, GOOD_DRUG)
    rows = directory / "rows.csv"
    rows.write_text(rows.read_text(encoding="utf-8").replace("1139.000", "9139.000"))
    error = _error(directory)
    assert error.path == rows
    assert re.search(
        r"sha256 of rows is [0-9a-f]{64}, manifest says [0-9a-f]{64}", str(error)
    )


def test_manifest_version_differs_from_folder(tmp_path: Path) -> None:
    directory = _drugs(tmp_path, GOOD_DRUG)
    manifest = directory / "manifest.yaml"
    manifest.write_text(
        manifest.read_text().replace("version: '2024-01-01'", "version: '2024-02-01'")
    )
    error = _error(directory)
    assert error.path == manifest
    assert "'2024-02-01' differs from its folder name" in str(error)


def test_manifest_id_differs_from_folder(tmp_path: Path) -> None:
    directory = _drugs(tmp_path, GOOD_DRUG)
    target = tmp_path / "services" / "2024-01-01"
    target.parent.mkdir()
    directory.rename(target)
    error = _error(target)
    assert "manifest id 'drugs' differs from the catalog folder 'services'" in str(
        error
    )


def test_bad_version_name(tmp_path: Path) -> None:
    directory = _drugs(tmp_path, GOOD_DRUG)
    manifest = directory / "manifest.yaml"
    manifest.write_text(
        manifest.read_text().replace("version: '2024-01-01'", "version: v1")
    )
    error = _error(directory)
    assert "must be YYYY-MM-DD or YYYY-MM-DD.N" in str(error)
    assert str(manifest) in str(error)


def test_icd_code_unknown_to_icd10(tmp_path: Path) -> None:
    csv = (
        "kind,key,icd,value,source\n"
        "disease_list,PL1,J18.9,100,TT 01/2025\n"
        "disease_list,PL1,Q99.99,100,TT 01/2025\n"
    )
    write_csv(tmp_path, "benefits", "2025-01-01", csv)  # loads: ICD not checked alone
    with pytest.raises(CatalogError) as caught:
        load_catalogs(tmp_path, ["benefits"])
    text = str(caught.value)
    assert caught.value.row == 2
    assert "icd is not an ICD-10 code known to icd10: 'Q99.99'" in text
    assert str(tmp_path / "benefits" / "2025-01-01" / "rows.csv") in text


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
