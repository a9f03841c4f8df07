"""Compare two versions of a catalog: added, removed and changed entries, price jumps.

Entries are matched by the catalog's key (facility and code for price catalogs). Where a
key has several rows (validity windows) in a version, its latest-starting row stands for
it. A price change is reported with its percent change, and flagged ``suspicious`` when
the change exceeds the threshold either way. ``overlap`` counts keys of the older version
whose own ``valid_to`` reaches past the newer version's effective date: the newer version
supersedes them from that date, which is worth a look when the older row meant to last.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import polars as pl

from catalogs.loader import CatalogVersion
from catalogs.schema import SCHEMAS

PRICE_COLUMNS = {
    "drugs": "don_gia",
    "services": "don_gia",
    "supplies": "don_gia",
    "base_salary": "amount",
    "benefits": "value",
}
"""The column whose change is measured in percent, per catalog."""
DEFAULT_THRESHOLD = Decimal(30)
"""Percent change (either way) above which a price change is flagged suspicious."""


@dataclass(frozen=True)
class CatalogDiff:
    """What changed from version ``a`` to version ``b``."""

    key: tuple[str, ...]
    changes: pl.DataFrame
    """One row per differing key: ``change`` (added/removed/changed), the key columns,
    ``old``/``new`` price (where the catalog has one), ``pct`` and ``suspicious``."""
    overlap: int

    def counts(self) -> dict[str, int]:
        """Entries per kind of change, plus suspicious jumps and overlaps."""
        by_kind = dict(self.changes.group_by("change").len().iter_rows())
        return {
            "added": by_kind.get("added", 0),
            "removed": by_kind.get("removed", 0),
            "changed": by_kind.get("changed", 0),
            "suspicious": int(self.changes["suspicious"].sum()),
            "overlap": self.overlap,
        }


def _latest(rows: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    return (
        rows.with_columns(pl.col(k).fill_null("") for k in key)
        .sort([*key, "valid_from"], nulls_last=False)
        .unique(subset=key, keep="last", maintain_order=True)
    )


def diff_versions(
    a: CatalogVersion, b: CatalogVersion, threshold: Decimal = DEFAULT_THRESHOLD
) -> CatalogDiff:
    """Differences from ``a`` (older) to ``b`` (newer) of one catalog."""
    schema = SCHEMAS[a.manifest.id]
    key = list(schema.key) or ["valid_from"]
    price = PRICE_COLUMNS.get(schema.id)
    values = [c.name for c in schema.all_columns if c.name not in key]
    old = _latest(a.rows, key).with_columns(_in=pl.lit(True))
    new = _latest(b.rows, key).with_columns(_in=pl.lit(True))
    joined = old.join(new, on=key, how="full", coalesce=True, suffix="_new")
    in_old, in_new = pl.col("_in").is_not_null(), pl.col("_in_new").is_not_null()
    differs = pl.any_horizontal(
        pl.col(v).ne_missing(pl.col(f"{v}_new")) for v in values
    )
    change = (
        pl.when(~in_old)
        .then(pl.lit("added"))
        .when(~in_new)
        .then(pl.lit("removed"))
        .when(differs)
        .then(pl.lit("changed"))
    )
    if price is not None:
        old_p, new_p = pl.col(price), pl.col(f"{price}_new")
        pct = ((new_p - old_p).cast(pl.Float64) * 100 / old_p.cast(pl.Float64)).round(1)
        extra = [old_p.alias("old"), new_p.alias("new"), pct.alias("pct")]
        suspicious = (pct.abs() > float(threshold)).fill_null(False)
    else:
        extra = []
        suspicious = pl.lit(False)
    changes = (
        joined.with_columns(change.alias("change"))
        .filter(pl.col("change").is_not_null())
        .select("change", *key, *extra, suspicious.alias("suspicious"))
        .sort("change", *key)
    )
    return CatalogDiff(tuple(key), changes, _overlap(a, b))


def _overlap(a: CatalogVersion, b: CatalogVersion) -> int:
    start: date = b.manifest.effective_from
    if a.manifest.effective_from >= start:
        return 0
    return a.rows.filter(pl.col("valid_to") >= start).height
