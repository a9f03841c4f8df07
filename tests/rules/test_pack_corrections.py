"""Corrected pack versions and check fragments (``rules/sources.py``): a released correction
replaces the version it corrects by date, the corrected one stays replayable by pinning,
and fragments are locked like the versions that include them."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest
import yaml

from claims.assess import load_packs
from rules.cases import read_cases
from rules.evaluate import select_packs, version_of
from rules.packs import PACKS_ROOT, PackError, data_hash, read_pack

BASE = "2024.07.3"  # a correction of 2024.07.2, of 2024.07.1, of 2024.07.0: a chain
FIX = "2024.07.9"
RULE = {
    "id": "Z9_TEST_ONLY",
    "level": "claim",
    "table": "XML1",
    "expr": "can_nang != null and can_nang > 150",
    "action": "info",
    "reason_code": "Z9_HEAVY",
    "description": {"vi": "Thử", "en": "Test"},
}
CODES = {"Z9_HEAVY": {"bhxh_code": None, "message": {"vi": "Nặng", "en": "Heavy"}}}
CASES = [
    {"rule": "Z9_TEST_ONLY", "expect": True, "row": {"can_nang": "151"}},
    {"rule": "Z9_TEST_ONLY", "expect": False, "row": {"can_nang": "150"}},
]


def _write(path: Path, body: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")


def _root(tmp_path: Path, **fix: object) -> Path:
    """A copy of the built-in packs with fragment ``t9`` and a correction FIX of BASE."""
    root = tmp_path / "packs"
    shutil.copytree(PACKS_ROOT, root)
    _write(
        root / "vn-bhyt" / "checks" / "t9.yaml",
        {"reason_codes": CODES, "rules": [RULE], "cases": CASES},
    )
    body = {
        "id": "vn-bhyt",
        "version": FIX,
        "corrects": BASE,
        "status": "draft",
        "remove": ["A7_WEIGHT_IMPLAUSIBLE"],
        "include": ["t9"],
        "reason_codes": {},
        "rules": [],
    } | fix
    _write(root / "vn-bhyt" / FIX / "pack.yaml", body)
    return root


def _release(root: Path) -> None:
    spec = read_pack(root / "vn-bhyt" / FIX)
    lock = yaml.safe_load((root / "LOCK.yaml").read_text())
    lock["vn-bhyt"][FIX] = data_hash(spec)
    (root / "LOCK.yaml").write_text(yaml.safe_dump(lock))


def test_a_correction_starts_from_the_version_it_corrects(tmp_path: Path) -> None:
    root = _root(tmp_path)
    base = read_pack(root / "vn-bhyt" / BASE)
    fixed = read_pack(root / "vn-bhyt" / FIX)
    ids = [r.id for r in fixed.rules]
    assert "A7_WEIGHT_IMPLAUSIBLE" in {r.id for r in base.rules}
    assert "A7_WEIGHT_IMPLAUSIBLE" not in ids
    assert ids[-1] == "Z9_TEST_ONLY"
    assert len(ids) == len(base.rules)  # one removed, one added
    assert (fixed.effective_from, fixed.effective_to) == (
        base.effective_from,
        base.effective_to,
    )
    assert "Z9_HEAVY" in fixed.reason_codes
    cases = read_cases(root / "vn-bhyt" / FIX)
    rules = {c.rule for c in cases}
    assert "Z9_TEST_ONLY" in rules
    assert "A7_WEIGHT_IMPLAUSIBLE" not in rules
    assert "A6_BIRTH_AFTER_ADMISSION" in rules


def test_a_released_correction_wins_by_date_and_the_old_stays_pinnable(
    tmp_path: Path,
) -> None:
    root = _root(tmp_path, status="released")
    _release(root)
    packs = load_packs(root)
    chosen = select_packs(packs, "vn-bhyt")
    labels = {p.spec.version for p in chosen}
    assert FIX in labels
    assert BASE not in labels
    day = pl.DataFrame({"d": [dt.date(2024, 8, 1)]})
    label = day.select(version_of(chosen, pl.col("d"))).item()
    assert label.startswith(f"vn-bhyt@{FIX}#")
    pinned = select_packs(packs, "vn-bhyt", BASE)
    assert [p.spec.version for p in pinned] == [BASE]


def test_a_draft_correction_does_not_apply_by_date(tmp_path: Path) -> None:
    packs = load_packs(_root(tmp_path))
    assert FIX not in {p.spec.version for p in select_packs(packs, "vn-bhyt")}
    assert select_packs(packs, "vn-bhyt", FIX)[0].spec.version == FIX


def test_editing_a_fragment_a_released_version_includes_fails_the_lock(
    tmp_path: Path,
) -> None:
    root = _root(tmp_path, status="released")
    _release(root)
    fragment = root / "vn-bhyt" / "checks" / "t9.yaml"
    fragment.write_text(fragment.read_text().replace("> 150", "> 160"))
    with pytest.raises(PackError, match="released version changed"):
        load_packs(root)


@pytest.mark.parametrize(
    ("fix", "message"),
    [
        ({"effective_from": "2024-08-01"}, "covers the window"),
        ({"remove": ["NO_SUCH_RULE"]}, "NO_SUCH_RULE"),
        ({"include": ["nope"]}, "fragment 'nope'"),
        ({"corrects": "2024.08.0"}, "not a version of vn-bhyt"),
        (
            {
                "reason_codes": {
                    "Z9_HEAVY": {
                        "bhxh_code": "X",
                        "message": CODES["Z9_HEAVY"]["message"],
                    }
                }
            },
            "declared twice",
        ),
    ],
)
def test_a_correction_that_does_not_fit_is_refused(
    tmp_path: Path, fix: dict[str, object], message: str
) -> None:
    root = _root(tmp_path, **fix)
    with pytest.raises(PackError, match=message):
        load_packs(root)


def test_a_fragment_with_unknown_keys_is_refused(tmp_path: Path) -> None:
    root = _root(tmp_path)
    _write(root / "vn-bhyt" / "checks" / "t9.yaml", {"rules": [RULE], "rulez": []})
    with pytest.raises(PackError, match="rulez"):
        load_packs(root)


def test_the_built_in_corrections_hold_every_fragment() -> None:
    fragments = sorted(
        p.stem for p in (PACKS_ROOT / "vn-bhyt" / "checks").glob("*.yaml")
    )
    for pack in select_packs(load_packs(), "vn-bhyt"):  # the versions in force
        included: list[str] = []
        spec = read_pack(PACKS_ROOT / "vn-bhyt" / pack.spec.version)
        while spec.corrects is not None:  # along the chain of corrections
            included += spec.include
            spec = read_pack(PACKS_ROOT / "vn-bhyt" / spec.corrects)
        assert sorted(included) == fragments, pack.spec.version
