"""Content ids: every id the engine makes, from the parts that decide it, in one place.

An id is the first 16 hex digits of the sha256 of its parts as sorted JSON, so the same
parts give the same id on any machine and at any time, and nothing else enters it (no
clock, no random). :data:`ID_PARTS` lists, per kind of id, the parts it must be given:
:func:`content_id` refuses a missing or an extra part, so no caller can leave one out.
Frames enter an id through :func:`frame_digest`.
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import PackageNotFoundError, version

import polars as pl

ID_PARTS: dict[str, tuple[str, ...]] = {
    "run": ("catalogs", "date", "engine", "inputs"),
    "check": ("catalogs", "date", "engine", "inputs"),
    "audit": ("audit", "catalogs", "decisions", "facility", "pack"),
    "settlement": ("advances", "decisions", "period", "scope"),
    "advance": ("amount", "facility", "period", "recorded_at"),
    "advance_reversal": ("advance", "recorded_at"),
    "scoring": ("catalogs", "claims", "engine", "parameters", "period"),
    "review": ("assessor", "claim", "decided_at", "lines"),
    "sample": ("allocation", "period", "population", "seed", "size", "strata"),
    "submission": ("sha256",),
    "event": ("action", "actor", "at", "seq", "subject"),
}
"""The parts of each kind of id.

- ``run``: the run date, the new inputs' sha256s (sorted), the catalog labels (with the
  pack labels under ``packs``) and the engine version.
- ``check``: the same, for a self-check that stores nothing.
- ``audit``: the period, the facility scope (null: every facility), the pinned pack's
  label, the catalog labels and the digest of the settled decisions it compares with.
- ``settlement``: the period, the facility scope, the digest of the decisions it pays
  and the digest of the advances it nets.
- ``advance``: the facility, the period, the amount and when it was recorded.
- ``advance_reversal``: the advance's id and when its reversal was recorded.
- ``scoring``: a period's anomaly scores: the period, the digest of the scored claims'
  keys, the catalog and pack labels, the scoring parameters and the engine version.
- ``review``: an assessor's decision on a claim: the claim version (``ma_cskcb``,
  ``ma_lk``, ``file_id``, ``hoso_idx``), the digest of its line decisions, the assessor and
  when it was decided (to the microsecond).
- ``sample``: a review sample's period, seed, strata spec (JSON), size, allocation rule
  and the digest of the population it was drawn from (strata and keys, in key order).
- ``submission``: a file received over the API: its sha256 (the same bytes sent twice
  are one submission).
- ``event``: an audit-trail row: its place in the store's trail (``seq``), when, who,
  the action and its subject (``claims.store.events``).
"""


def content_id(kind: str, **parts: object) -> str:
    """The id of kind ``kind`` (a key of :data:`ID_PARTS`) from exactly its parts.

    Example:
        >>> content_id("advance", facility="01002", period="2026-Q4",
        ...            amount="150000000.00", recorded_at="2026-10-01T08:00:00+00:00")
        '…16 hex digits…'
    """
    if kind not in ID_PARTS:
        msg = f"unknown id kind {kind!r}; the kinds are {', '.join(ID_PARTS)}"
        raise ValueError(msg)
    expected = set(ID_PARTS[kind])
    if set(parts) != expected:
        missing = ", ".join(sorted(expected - set(parts))) or "none"
        extra = ", ".join(sorted(set(parts) - expected)) or "none"
        msg = f"a {kind} id needs {sorted(expected)}: missing {missing}, extra {extra}"
        raise ValueError(msg)
    body = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def frame_digest(*frames: pl.DataFrame) -> str:
    """sha256 of frames as JSON lines, in the order given (their rows in their order;
    nested columns such as reason-code lists included)."""
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(frame.write_ndjson().encode())
    return digest.hexdigest()


def engine_version() -> str:
    """The installed ``giamdinh`` distribution's version (the package metadata)."""
    try:
        return version("giamdinh")
    except PackageNotFoundError:  # pragma: no cover - only when run from a bare tree
        return "0+unknown"
