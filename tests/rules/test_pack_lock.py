"""Released pack versions never change: LOCK.yaml holds their data hashes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from claims.assess import load_packs
from rules.evaluate import select_packs, version_of
from rules.packs import (
    PACKS_ROOT,
    PackError,
    data_hash,
    meta_hash,
    pack_dirs,
    read_lock,
    read_pack,
)


def test_released_versions_match_the_lock() -> None:
    lock = read_lock()
    for directory in pack_dirs():
        spec = read_pack(directory)
        if spec.status == "released":
            assert lock[spec.id][spec.version] == data_hash(spec), directory


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "packs"
    shutil.copytree(PACKS_ROOT, root)
    return root


def test_editing_a_released_rule_fails_the_load(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    pack = root / "vn-bhyt" / "2024.07.0" / "pack.yaml"
    pack.write_text(pack.read_text().replace("max_visits: 8", "max_visits: 9"))
    with pytest.raises(PackError, match="released version changed"):
        load_packs(root)


def test_descriptions_are_outside_the_data_hash(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    pack = root / "vn-bhyt" / "2024.07.0" / "pack.yaml"
    before = read_pack(pack.parent)
    pack.write_text(pack.read_text().replace("Cân nặng phải", "Cân nặng cần"))
    after = read_pack(pack.parent)
    assert data_hash(after) == data_hash(before)
    assert meta_hash(after) != meta_hash(before)
    assert len(load_packs(root)) == len(load_packs())


def test_a_released_version_missing_from_the_lock_is_refused(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "LOCK.yaml").write_text("vn-bhyt: {}\n")
    with pytest.raises(PackError, match=r"not in LOCK\.yaml"):
        load_packs(root)


def test_versions_are_chosen_by_admission_date() -> None:
    import datetime as dt

    import polars as pl

    packs = select_packs(load_packs(), "vn-bhyt")
    days = [
        dt.date(2019, 6, 30),
        dt.date(2019, 7, 1),
        dt.date(2024, 12, 31),
        dt.date(2025, 1, 1),
    ]
    frame = pl.DataFrame({"d": days}).select(version_of(packs, pl.col("d")).alias("v"))
    labels = [v.split("#")[0] if v else None for v in frame["v"]]
    assert labels == [
        None,
        "vn-bhyt@2019.07.3",
        "vn-bhyt@2024.07.3",
        "vn-bhyt@2025.01.3",
    ]
