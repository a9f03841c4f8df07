"""Bitemporal resolution: versions stacked into one effective-dated table, and as-of lookups.

Two times: *valid* time (when a price applies: the row's ``valid_from``/``valid_to``,
clipped to its release's window) and *recorded* time (when the payer knew it: the
version's ``recorded_at``). Each version is a full snapshot of its catalog for its
window. A later effective date supersedes from that date on; for the same effective date
the version recorded later wins (a correction, which never deletes the corrected version,
so ``resolve(..., as_of_recorded=…)`` can still answer as the payer knew it then).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl

from catalogs.errors import CatalogNotFound
from catalogs.loader import CatalogVersion, catalog_dir, load_versions
from catalogs.schema import SCHEMAS, CatalogSchema

VERSION = "catalog_version"
"""The column naming the version a resolved row comes from."""


@dataclass(frozen=True)
class Catalog:
    """Every loaded version of one catalog."""

    schema: CatalogSchema
    versions: tuple[CatalogVersion, ...]

    @property
    def id(self) -> str:
        """The catalog id."""
        return self.schema.id

    @property
    def labels(self) -> dict[str, str]:
        """``version → version#hash``, as decisions cite them."""
        return {v.manifest.version: v.label for v in self.versions}

    def version(self, name: str) -> CatalogVersion:
        """The version called ``name`` (``2024-07-01`` or ``2024-07-01.2``)."""
        for v in self.versions:
            if v.manifest.version == name:
                return v
        known = ", ".join(v.manifest.version for v in self.versions)
        msg = f"catalog {self.id!r} has no version {name!r}; it has: {known}"
        raise KeyError(msg)

    def resolve(self, as_of_recorded: datetime | None = None) -> pl.DataFrame:
        """See :func:`resolve`."""
        return resolve(self.versions, as_of_recorded)


def load_catalogs(
    overlay: Path | None = None, ids: Iterable[str] | None = None
) -> dict[str, Catalog]:
    """Load catalogs (all by default), ``icd10`` first so others can check codes.

    Loaded catalogs are kept for the process and reused while no file under their
    folders changes (size or modification time).

    Raises:
        CatalogError: the first catalog that does not load; nothing is half-loaded.
    """
    wanted = frozenset(SCHEMAS if ids is None else ids)
    key = (wanted, _fingerprint(overlay, wanted))
    if key not in _CACHE:
        _CACHE.clear()  # one set of catalogs per process is the common case
        _CACHE[key] = _load(overlay, wanted)
    return dict(_CACHE[key])


_CACHE: dict[
    tuple[frozenset[str], tuple[tuple[str, int, int], ...]], dict[str, Catalog]
] = {}


def _fingerprint(
    overlay: Path | None, wanted: frozenset[str]
) -> tuple[tuple[str, int, int], ...]:
    """Every file of the wanted catalogs (and icd10) with its size and mtime."""
    found: list[tuple[str, int, int]] = []
    for catalog_id in sorted(wanted | {"icd10"}):
        try:
            base = catalog_dir(catalog_id, overlay)
        except CatalogNotFound:
            found.append((catalog_id, -1, -1))
            continue
        for path in sorted(base.rglob("*")):
            stat = path.stat()
            found.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(found)


def _load(overlay: Path | None, wanted: frozenset[str]) -> dict[str, Catalog]:
    needs_icd = any(c.icd for i in wanted for c in SCHEMAS[i].columns)
    loaded: dict[str, Catalog] = {}
    icd_codes: set[str] | None = None
    if needs_icd or "icd10" in wanted:
        icd = Catalog(SCHEMAS["icd10"], tuple(load_versions("icd10", overlay)))
        icd_codes = set(pl.concat([v.rows["code"] for v in icd.versions]).to_list())
        if "icd10" in wanted:
            loaded["icd10"] = icd
    for catalog_id in SCHEMAS:
        if catalog_id in wanted and catalog_id != "icd10":
            versions = load_versions(catalog_id, overlay, icd_codes=icd_codes)
            loaded[catalog_id] = Catalog(SCHEMAS[catalog_id], tuple(versions))
    return loaded


def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def effective(
    versions: Sequence[CatalogVersion], as_of_recorded: datetime | None = None
) -> list[tuple[CatalogVersion, date, date | None]]:
    """The versions in force, each with the window it governs (end None: open).

    Versions recorded after ``as_of_recorded`` are ignored. Of versions sharing an
    effective date, the one recorded last wins; each winner governs from its effective
    date to the day before the next winner's (or its own ``effective_to``).
    """
    known = [
        v
        for v in versions
        if as_of_recorded is None
        or _naive_utc(v.manifest.recorded_at) <= _naive_utc(as_of_recorded)
    ]
    winners: dict[date, CatalogVersion] = {}
    for v in sorted(known, key=_order):
        winners[v.manifest.effective_from] = v  # later recorded_at overwrites
    starts = sorted(winners)
    spans: list[tuple[CatalogVersion, date, date | None]] = []
    for i, start in enumerate(starts):
        v = winners[start]
        end = v.manifest.effective_to
        if i + 1 < len(starts):
            cut = starts[i + 1] - timedelta(days=1)
            end = cut if end is None else min(end, cut)
        spans.append((v, start, end))
    return spans


def _order(v: CatalogVersion) -> tuple[datetime, int]:
    """Recorded time, then the correction number of the version name."""
    name = v.manifest.version
    suffix = int(name.split(".", 1)[1]) if "." in name else 0
    return _naive_utc(v.manifest.recorded_at), suffix


def resolve(
    versions: Sequence[CatalogVersion], as_of_recorded: datetime | None = None
) -> pl.DataFrame:
    """One effective-dated table of a catalog, as known at ``as_of_recorded``.

    Each row's ``valid_from``/``valid_to`` is clipped to the window its version governs
    (an empty bound takes the window's); rows left with an empty window are dropped. The
    result has the schema's columns plus :data:`VERSION`, and no two rows of a key overlap.
    """
    if not versions:
        msg = "resolve needs at least one version"
        raise ValueError(msg)
    schema = SCHEMAS[versions[0].manifest.id]
    frames = []
    for v, start, end in effective(versions, as_of_recorded):
        lo = pl.max_horizontal(pl.col("valid_from").fill_null(start), pl.lit(start))
        hi = pl.col("valid_to")
        if end is not None:
            hi = pl.min_horizontal(hi.fill_null(end), pl.lit(end))
        frames.append(
            v.rows.with_columns(
                lo.alias("valid_from"),
                hi.alias("valid_to"),
                pl.lit(v.label).alias(VERSION),
            ).filter(
                pl.col("valid_to").is_null()
                | (pl.col("valid_from") <= pl.col("valid_to"))
            )
        )
    empty = pl.DataFrame(schema={**schema.polars_schema, VERSION: pl.String()})
    return pl.concat([empty, *frames], how="vertical_relaxed")


def as_of(
    lines: pl.DataFrame,
    resolved: pl.DataFrame,
    *,
    code: tuple[str, str],
    on: str,
    columns: Sequence[str],
    facility: str | None = "ma_cskcb",
    by: Sequence[str] = (),
) -> pl.DataFrame:
    """Attach to every line the catalog row valid for it on its date.

    A facility's own row wins; where it has none valid on the date, the national row
    (empty ``ma_cskcb``) applies. Two backward ``join_asof`` on ``valid_from`` (by
    facility and code, then by code) with a ``valid_to`` check: rows of a key never
    overlap, so the last start on or before the date is the only candidate.

    Args:
        lines: frame with the facility column, the code column and the date column ``on``.
        resolved: output of :func:`resolve`.
        code: (line column, catalog column) of the code.
        on: the line's date column (Date).
        columns: catalog columns to attach; missing rows give nulls.
        facility: the facility column of both frames, or None for national catalogs.
        by: further columns of both frames that must be equal (e.g. which catalog).

    Returns:
        ``lines`` in their order with ``columns``, :data:`VERSION` and ``catalog_scope``
        (``facility``, ``national`` or null when no row is valid).
    """
    left_code, right_code = code
    keep = [*columns, VERSION]
    indexed = lines.with_row_index("_i")
    probe = indexed.select(
        "_i", left_code, on, *by, *([facility] if facility else [])
    ).filter(pl.col(on).is_not_null() & pl.col(left_code).is_not_null())
    probe = probe.sort(on)
    catalog = resolved.rename(
        {right_code: left_code} if right_code != left_code else {}
    )
    found: list[pl.DataFrame] = []
    passes: list[tuple[list[str], pl.Expr, str]] = []
    if facility is not None:
        own = [facility, *by, left_code]
        passes.append((own, pl.col(facility).is_not_null(), "facility"))
        passes.append(([*by, left_code], pl.col(facility).is_null(), "national"))
    else:
        passes.append(([*by, left_code], pl.lit(True), "national"))
    for keys_, subset, scope in passes:
        right = (
            catalog.filter(subset)
            .select(*keys_, "valid_from", "valid_to", *keep)
            .sort("valid_from")
        )
        if found:
            probe = probe.join(found[-1].select("_i"), on="_i", how="anti")
        hit = probe.join_asof(
            right,
            left_on=on,
            right_on="valid_from",
            by=keys_,
            strategy="backward",
            check_sortedness=False,
        ).filter(
            pl.col(VERSION).is_not_null()
            & (pl.col("valid_to").is_null() | (pl.col(on) <= pl.col("valid_to")))
        )
        found.append(hit.select("_i", *keep, pl.lit(scope).alias("catalog_scope")))
    matched = pl.concat(found)
    return indexed.join(matched, on="_i", how="left", maintain_order="left").drop("_i")
