"""Small catalogs written into a temporary root for tests."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl

from catalogs.loader import CatalogVersion, write_version
from catalogs.spec import CatalogManifest


def manifest(
    catalog_id: str,
    version: str,
    *,
    recorded_at: str = "2024-01-01T00:00:00",
    effective_to: str | None = None,
) -> dict[str, object]:
    """Manifest fields of a test version (effective from the version's date)."""
    return {
        "id": catalog_id,
        "version": version,
        "effective_from": version.split(".")[0],
        "effective_to": effective_to,
        "recorded_at": recorded_at,
        "source": "test",
    }


def write_csv(
    root: Path, catalog_id: str, version: str, csv: str, **fields: str | None
) -> CatalogVersion:
    """Write ``csv`` (header + rows) as a version under ``root`` and load it."""
    rows = pl.read_csv(csv.encode(), infer_schema=False)
    return write_version(
        root / catalog_id / version, manifest(catalog_id, version, **fields), rows
    )  # type: ignore[arg-type]


def write_raw(root: Path, catalog_id: str, version: str, csv: str) -> Path:
    """Write ``csv`` and a manifest with its sha256 without loading it (for bad rows)."""
    import hashlib

    import yaml

    directory = root / catalog_id / version
    directory.mkdir(parents=True)
    (directory / "rows.csv").write_text(csv, encoding="utf-8")
    body = manifest(catalog_id, version) | {
        "sha256": hashlib.sha256(csv.encode()).hexdigest()
    }
    (directory / "manifest.yaml").write_text(yaml.safe_dump(body), encoding="utf-8")
    return directory


def version(
    catalog_id: str,
    name: str,
    rows: pl.DataFrame,
    *,
    recorded_at: datetime,
    effective_to: date | None = None,
) -> CatalogVersion:
    """An in-memory version (no files): for resolution properties."""
    meta = CatalogManifest(
        id=catalog_id,
        version=name,
        effective_from=date.fromisoformat(name.split(".")[0]),
        effective_to=effective_to,
        recorded_at=recorded_at,
        source="test",
        sha256="0" * 64,
    )
    return CatalogVersion(meta, rows, f"{name}-{recorded_at.isoformat()}", Path(name))
