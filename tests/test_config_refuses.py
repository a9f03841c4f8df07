"""Configuration refuses to guess (issue 12, item 3): a catalog folder or packs folder
that does not exist is an error, a catalog without rows needs ``empty: true`` and a
reason, and a run can tell when a catalog leaves too many lines unpriced."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest
import yaml

from catalogs.errors import CatalogError, CatalogRootError, EmptyCatalogError
from catalogs.loader import BUILTIN_ROOT, load_version, load_versions
from catalogs.resolve import load_catalogs
from claims.config import Settings
from claims.errors import ConfigError
from claims.pipeline.context import Reference
from claims.price import unpriced_warnings
from rules.packs import PackRootError, pack_dirs
from tests.catalogs.helpers import manifest, write_csv
from tests.factories import example_claim, giamdinh, hoso, wrapper

DRUG_HEADER = "ma_cskcb,ma_thuoc,ten_hoat_chat,don_vi_tinh,don_gia,tyle_tt_bh,valid_from,valid_to\n"
GOOD_DRUG = "01001,40.17,Amoxicilin,Viên,1139.000,100,,\n"


def _drugs(root: Path, rows: str = "", **extra: object) -> Path:
    """A drugs version under ``root`` (header + ``rows``), its manifest with ``extra``."""
    text = DRUG_HEADER + rows
    directory = root / "drugs" / "2024-01-01"
    directory.mkdir(parents=True)
    (directory / "rows.csv").write_text(text, encoding="utf-8")
    body = manifest("drugs", "2024-01-01") | extra
    body["sha256"] = hashlib.sha256(text.encode()).hexdigest()
    (directory / "manifest.yaml").write_text(yaml.safe_dump(body), encoding="utf-8")
    return directory


# ---- --catalog-dir


def test_a_catalog_dir_that_does_not_exist_is_refused_not_ignored(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "nope"
    for load in (
        lambda: load_catalogs(missing),
        lambda: load_versions("drugs", missing),
        lambda: Reference.load(missing, "vn-bhyt"),
    ):
        with pytest.raises(CatalogRootError) as caught:
            load()
        assert isinstance(caught.value, ConfigError)
        text = str(caught.value)
        assert str(missing) in text
        assert "does not exist" in text
        assert "--catalog-dir" in text
        assert "GIAMDINH_CATALOG_DIR unset" in text


def test_a_catalog_dir_after_a_good_load_is_still_checked(tmp_path: Path) -> None:
    """Loaded catalogs are cached by their files; a missing overlay has no files of its
    own and must not be answered from the built-in catalogs' cache entry."""
    load_catalogs(None, ["base_salary"])
    with pytest.raises(CatalogRootError, match="does not exist"):
        load_catalogs(tmp_path / "nope", ["base_salary"])


def test_a_catalog_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "catalogs.zip"
    file.write_bytes(b"PK")
    with pytest.raises(CatalogRootError, match="is not a folder"):
        load_catalogs(file)


def test_a_catalog_dir_without_any_catalog_is_refused(tmp_path: Path) -> None:
    (tmp_path / "cat").mkdir()
    with pytest.raises(CatalogRootError, match="holds no catalog") as caught:
        load_catalogs(tmp_path / "cat")
    assert "drugs, services, supplies" in str(caught.value)


def test_a_catalog_dir_with_a_misnamed_folder_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "cat"
    write_csv(root, "drugs", "2024-01-01", DRUG_HEADER + GOOD_DRUG)
    (root / "service" / "2024-01-01").mkdir(parents=True)
    with pytest.raises(CatalogRootError, match="service of the catalog folder") as e:
        load_catalogs(root)
    assert "rename or remove" in str(e.value)


def test_a_good_overlay_still_replaces_its_catalogs_only(tmp_path: Path) -> None:
    root = tmp_path / "cat"
    write_csv(root, "drugs", "2024-01-01", DRUG_HEADER + GOOD_DRUG)
    (root / ".git").mkdir()  # hidden folders are not catalogs, and not refused
    loaded = load_catalogs(root, ["drugs", "base_salary"])
    assert loaded["drugs"].resolve().height == 1
    assert loaded["base_salary"].versions[0].path.parent.parent == BUILTIN_ROOT


# ---- empty catalogs


def test_a_header_only_catalog_is_refused(tmp_path: Path) -> None:
    directory = _drugs(tmp_path / "cat")
    with pytest.raises(EmptyCatalogError) as caught:
        load_version(directory)
    error = caught.value
    assert isinstance(error, ConfigError)
    assert error.path == directory / "rows.csv"
    text = str(error)
    assert str(directory / "rows.csv") in text
    assert "catalog 'drugs' version 2024-01-01 has no rows" in text
    assert "'empty: true' and a 'reason'" in text
    with pytest.raises(EmptyCatalogError):
        load_catalogs(tmp_path / "cat")


def test_an_empty_catalog_with_its_reason_loads(tmp_path: Path) -> None:
    directory = _drugs(tmp_path / "cat", empty=True, reason="no drug listed yet")
    version = load_version(directory)
    assert version.rows.height == 0
    assert version.manifest.reason == "no drug listed yet"
    assert load_catalogs(tmp_path / "cat", ["drugs"])["drugs"].resolve().height == 0


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"empty": True}, "empty: true needs a reason"),
        ({"empty": True, "reason": "  "}, "empty: true needs a reason"),
        ({"reason": "none"}, "reason is only for an empty version"),
    ],
)
def test_the_empty_flag_needs_its_reason(
    tmp_path: Path, extra: dict[str, object], says: str
) -> None:
    directory = _drugs(tmp_path / "cat", **extra)
    with pytest.raises(CatalogError, match=says):
        load_version(directory)


def test_a_catalog_declared_empty_with_rows_is_refused(tmp_path: Path) -> None:
    directory = _drugs(tmp_path / "cat", GOOD_DRUG, empty=True, reason="none yet")
    with pytest.raises(EmptyCatalogError, match="has 1 rows but its manifest says"):
        load_version(directory)


def test_the_empty_flag_counts_in_the_hash_only_when_set(tmp_path: Path) -> None:
    """Versions that do not use the flag keep the hashes runs already cite."""
    plain = load_version(_drugs(tmp_path / "a", GOOD_DRUG))
    assert set(plain.manifest.hashed_fields()) == {
        "id",
        "version",
        "effective_from",
        "effective_to",
        "recorded_at",
        "source",
    }
    empty = load_version(_drugs(tmp_path / "b", empty=True, reason="none yet"))
    assert empty.manifest.hashed_fields()["reason"] == "none yet"


def test_every_builtin_catalog_has_rows() -> None:
    for catalog_id, catalog in load_catalogs().items():
        for version in catalog.versions:
            assert version.rows.height > 0, (catalog_id, version.manifest.version)
            assert not version.manifest.empty


# ---- --packs


def test_a_packs_folder_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PackRootError, match="does not exist") as caught:
        pack_dirs(tmp_path / "nope")
    assert isinstance(caught.value, ConfigError)
    assert str(tmp_path / "nope") in str(caught.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(PackRootError, match="holds no pack version"):
        pack_dirs(tmp_path / "empty")


# ---- unpriced share


def _prices(**unpriced: tuple[int, int]) -> pl.DataFrame:
    """Priced lines: per catalog, (lines, of which NOT_IN_CATALOG)."""
    catalogs, reasons = [], []
    for catalog, (lines, off) in unpriced.items():
        catalogs += [catalog] * lines
        reasons += ["NOT_IN_CATALOG"] * off + [None] * (lines - off)
    return pl.DataFrame(
        {"catalog": catalogs, "reason_code": reasons},
        schema={"catalog": pl.String(), "reason_code": pl.String()},
    )


def test_unpriced_warnings_name_the_catalog_above_the_limit() -> None:
    prices = _prices(drugs=(60, 57), services=(40, 1), supplies=(10, 0))
    (warning,) = unpriced_warnings(prices, 0.05)
    assert warning.startswith("drugs: 57 of 60 lines (95.0%) are NOT_IN_CATALOG")
    assert "limit of 5.0%" in warning
    assert "--catalog-dir" in warning
    assert "giamdinh catalogs list" in warning


def test_unpriced_warnings_stay_quiet_within_the_limit() -> None:
    assert unpriced_warnings(_prices(drugs=(60, 3), services=(40, 2)), 0.05) == []
    assert unpriced_warnings(_prices(drugs=(60, 0)), 0.0) == []
    assert unpriced_warnings(_prices(), 0.05) == []


def test_unpriced_warnings_one_per_catalog_in_order() -> None:
    prices = _prices(supplies=(10, 2), services=(40, 40), drugs=(60, 7))
    found = unpriced_warnings(prices, 0.1)
    assert [w.split(":")[0] for w in found] == ["drugs", "services", "supplies"]
    assert unpriced_warnings(prices, 1.0) == []


def test_the_unpriced_limit_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().max_unpriced_share == 0.05
    monkeypatch.setenv("GIAMDINH_MAX_UNPRICED_SHARE", "0.2")
    assert Settings().max_unpriced_share == 0.2
    monkeypatch.setenv("GIAMDINH_MAX_UNPRICED_SHARE", "1.5")
    with pytest.raises(ValueError, match="less than or equal to 1"):
        Settings()


# ---- the command line


def _refused(result: object, *says: str) -> None:
    import subprocess

    assert isinstance(result, subprocess.CompletedProcess)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    text = " ".join(result.stderr.split())  # rich wraps long lines
    assert text.startswith("error:"), text
    for part in says:
        assert part in text, text


@pytest.mark.e2e
def test_giamdinh_refuses_a_catalog_dir_that_does_not_exist(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope")
    listed = giamdinh("catalogs", "list", "--catalog-dir", missing)
    _refused(listed, missing, "does not exist", "GIAMDINH_CATALOG_DIR unset")
    shown = giamdinh("catalogs", "show", "drugs", "--catalog-dir", missing)
    _refused(shown, missing, "does not exist")


@pytest.mark.e2e
def test_giamdinh_run_refuses_a_catalog_dir_before_touching_anything(
    tmp_path: Path,
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.xml").write_bytes(wrapper([hoso(example_claim())]))
    data, missing = tmp_path / "data", str(tmp_path / "nope")
    result = giamdinh(
        "run", "--date", "2025-10-06", "--inbox", str(inbox),
        "--data-dir", str(data), "--catalog-dir", missing,
    )  # fmt: skip
    _refused(result, missing, "does not exist")
    assert (inbox / "a.xml").is_file()
    assert not (data / "giamdinh.duckdb").exists()
    assert not (data / "runs").exists()


@pytest.mark.e2e
def test_giamdinh_refuses_a_header_only_catalog(tmp_path: Path) -> None:
    directory = _drugs(tmp_path / "cat")
    listed = giamdinh("catalogs", "list", "--catalog-dir", str(tmp_path / "cat"))
    _refused(listed, str(directory / "rows.csv"), "has no rows")


@pytest.mark.e2e
def test_giamdinh_rules_refuses_a_packs_folder_that_does_not_exist(
    tmp_path: Path,
) -> None:
    missing = str(tmp_path / "nope")
    _refused(giamdinh("rules", "check", "--packs", missing), missing, "--packs")
    _refused(giamdinh("rules", "test", "--packs", missing), missing, "does not exist")
