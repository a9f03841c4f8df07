"""Every case of every pack version gives its expected outcome; every rule has a hit and a miss."""

from __future__ import annotations

import pytest

from claims.assess import load_packs
from claims.schema import rule_frame_schemas
from rules.cases import read_cases, run_cases, uncovered
from rules.packs import pack_dirs

PACKS = load_packs()


@pytest.mark.parametrize("pack", PACKS, ids=[p.label for p in PACKS])
def test_pack_cases(pack) -> None:  # type: ignore[no-untyped-def]
    cases = read_cases(pack.path.parent)
    failures = run_cases(pack, cases, rule_frame_schemas())
    assert not failures, [
        (f.case.rule, f.case.row, f.case.expect, f.got) for f in failures
    ]
    assert uncovered(pack, cases) == []


def test_every_pack_folder_loads() -> None:
    assert len(PACKS) == len(pack_dirs()) >= 6
    builtin = [p for p in PACKS if p.spec.id == "vn-bhyt"]
    assert all(len(p.rules) >= 40 for p in builtin)
