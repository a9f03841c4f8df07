"""Peer groups: the claims a claim is compared with (reference §4.3 J8, §3.6).

The peer group is facility level (``level_2025``) × department (the first MA_KHOA) ×
province (MA_CSKCB characters 1–2) × claim type (MA_LOAI_KCB), and, first, the
principal diagnosis (ICD-10 3-character category): J8 compares a claim's cost, stay
and service mix with "the peer distribution for the same diagnosis/facility rank", and
without the diagnosis a pneumonia's stay is compared with a delivery's. A group with
fewer than ``min_group`` claims of the frame is too small for a median and a MAD to
mean anything, so the claim falls back, in order: drop the province, then the
department, then the level (the diagnosis and claim type alone); then the same without
the diagnosis (level × department × province × type, and so on to the claim type
alone, whatever its size). The group a claim ended in (``peer_group``, ``peer_level``,
``peer_n``) is part of its explanation.
"""

from __future__ import annotations

import polars as pl

_WITHOUT_DIAGNOSIS: tuple[tuple[str, ...], ...] = (
    ("level", "department", "province", "claim_type"),
    ("level", "department", "claim_type"),
    ("level", "claim_type"),
    ("claim_type",),
)
PEER_LEVELS: tuple[tuple[str, ...], ...] = (
    *((*keys, "icd3") for keys in _WITHOUT_DIAGNOSIS),
    *_WITHOUT_DIAGNOSIS,
)
"""The peer keys from the finest to the coarsest (the documented fallback). Claims of
different types (an outpatient visit, an inpatient stay) are never compared: a claim
type with fewer than ``min_group`` claims is its own group whatever its size."""
PEER_PARTS = ("level", "department", "province", "claim_type", "icd3")
"""The parts a ``peer_group`` label names, ``*`` where the group spans them all."""
MIN_GROUP = 30
"""The default smallest peer group (``Settings.anomaly_min_group``)."""


def peer_label(keys: tuple[str, ...]) -> pl.Expr:
    """The ``peer_group`` label of a level: ``level|department|province|type|icd3``
    with ``*`` for the parts the level does not hold."""
    return pl.concat_str(
        [pl.col(p) if p in keys else pl.lit("*") for p in PEER_PARTS], separator="|"
    )


def assign_peers(profiles: pl.DataFrame, min_group: int = MIN_GROUP) -> pl.DataFrame:
    """``profiles`` with ``peer_level`` (index into :data:`PEER_LEVELS`),
    ``peer_group`` (its label) and ``peer_n`` (the group's claims): the finest level
    whose group holds at least ``min_group`` claims of the frame.

    Raises:
        ValueError: ``min_group`` is below 1.
    """
    if min_group < 1:
        msg = f"the smallest peer group must hold at least 1 claim, not {min_group}"
        raise ValueError(msg)
    sizes = [pl.len().over(list(keys)).cast(pl.Int64) for keys in PEER_LEVELS]
    level = pl.lit(len(PEER_LEVELS) - 1, dtype=pl.Int32)
    for index in range(len(PEER_LEVELS) - 2, -1, -1):
        level = (
            pl.when(sizes[index] >= min_group)
            .then(pl.lit(index, pl.Int32))
            .otherwise(level)
        )
    framed = profiles.with_columns(level.alias("peer_level"))
    label = pl.lit(None, pl.String)
    count = pl.lit(None, pl.Int64)
    for index, keys in enumerate(PEER_LEVELS):
        chosen = pl.col("peer_level") == index
        label = pl.when(chosen).then(peer_label(keys)).otherwise(label)
        count = pl.when(chosen).then(sizes[index]).otherwise(count)
    return framed.with_columns(label.alias("peer_group"), count.alias("peer_n"))
