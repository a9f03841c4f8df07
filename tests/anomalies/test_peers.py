"""Peer groups and their fallback for small groups."""

from __future__ import annotations

import polars as pl
import pytest

from claims.anomalies.peers import assign_peers


def _claims() -> pl.DataFrame:
    # 40 claims of province 01, 5 of province 02 (same level, department, type),
    # 3 of another department in province 02, 2 of type 03
    rows = (
        [("basic", "K01", "01", "01")] * 40
        + [("basic", "K01", "02", "01")] * 5
        + [("basic", "K18", "02", "01")] * 3
        + [("primary", "K01", "02", "03")] * 2
    )
    return pl.DataFrame(
        rows, schema=["level", "department", "province", "claim_type"], orient="row"
    )


def test_fallback_drops_province_then_department_then_level() -> None:
    out = assign_peers(_claims(), min_group=30)
    groups = out.group_by("peer_group", "peer_level", "peer_n").len().sort("peer_group")
    assert groups.rows() == [
        ("*|*|*|03", 3, 2, 2),  # type 03 alone: its own group however small
        ("basic|*|*|01", 2, 48, 3),  # K18 has 3 claims of its department: level only
        ("basic|K01|*|01", 1, 45, 5),  # province 02's 5 join province 01 at K01
        ("basic|K01|01|01", 0, 40, 40),
    ]


def test_small_min_group_keeps_finest_groups() -> None:
    out = assign_peers(_claims(), min_group=1)
    assert out["peer_level"].unique().to_list() == [0]


def test_min_group_below_one_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 claim"):
        assign_peers(_claims(), min_group=0)
