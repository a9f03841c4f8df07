"""Peer groups and their fallback for small groups."""

from __future__ import annotations

import polars as pl
import pytest

from claims.anomalies.peers import assign_peers


def _claims() -> pl.DataFrame:
    # type 01: 35 claims of J00 and 5 of J18 in province 01, 5 of J00 in province 02
    # (same level and department), 3 of J00 in another department in province 02;
    # type 03: 2 claims
    rows = (
        [("basic", "K01", "01", "01", "J00")] * 35
        + [("basic", "K01", "01", "01", "J18")] * 5
        + [("basic", "K01", "02", "01", "J00")] * 5
        + [("basic", "K18", "02", "01", "J00")] * 3
        + [("primary", "K01", "02", "03", "J00")] * 2
    )
    return pl.DataFrame(
        rows,
        schema=["level", "department", "province", "claim_type", "icd3"],
        orient="row",
    )


def test_fallback_drops_province_then_department_then_level() -> None:
    out = assign_peers(_claims(), min_group=30)
    groups = out.group_by("peer_group", "peer_level", "peer_n").len().sort("peer_group")
    assert groups.rows() == [
        # type 03 alone, without its diagnosis: its own group however small
        ("*|*|*|03|*", 7, 2, 2),
        # K18's 3: the level's J00 claims of type 01 (35 + 5 + 3)
        ("basic|*|*|01|J00", 2, 43, 3),
        # province 02's 5 join province 01's 35 at K01, J00
        ("basic|K01|*|01|J00", 1, 40, 5),
        # J18 has 5 claims at every level with a diagnosis: its peers without it
        ("basic|K01|01|01|*", 4, 40, 5),
        ("basic|K01|01|01|J00", 0, 35, 35),
    ]


def test_small_min_group_keeps_finest_groups() -> None:
    out = assign_peers(_claims(), min_group=1)
    assert out["peer_level"].unique().to_list() == [0]


def test_min_group_below_one_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 claim"):
        assign_peers(_claims(), min_group=0)
