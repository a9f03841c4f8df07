"""Read catalog versions from disk and check them against their manifests.

Layout: ``<root>/<catalog_id>/<version>/manifest.yaml`` + ``rows.csv`` (or ``rows.parquet``).
An overlay root replaces whole catalogs: each catalog id present there wins over the built-in.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import yaml
from pydantic import ValidationError

from catalogs.errors import CatalogError, CatalogIntegrityError, CatalogNotFound
from catalogs.spec import CatalogManifest

BUILTIN_ROOT = Path(__file__).parent / "data"


@dataclass(frozen=True)
class CatalogVersion:
    """One loaded version: its manifest, rows and content hash."""

    manifest: CatalogManifest
    rows: pl.DataFrame
    content_hash: str
    path: Path

    @property
    def label(self) -> str:
        """``<version>#<hash prefix>``, as decisions cite it."""
        return f"{self.manifest.version}#{self.content_hash[:12]}"


def catalog_dir(catalog_id: str, overlay: Path | None = None) -> Path:
    """The directory holding the versions of ``catalog_id``: the overlay's if it has one."""
    if overlay is not None and (overlay / catalog_id).is_dir():
        return overlay / catalog_id
    builtin = BUILTIN_ROOT / catalog_id
    if builtin.is_dir():
        return builtin
    msg = f"catalog {catalog_id!r} not found in {overlay or ''} nor in {BUILTIN_ROOT}"
    raise CatalogNotFound(msg)


def load_versions(catalog_id: str, overlay: Path | None = None) -> list[CatalogVersion]:
    """Every version of a catalog, oldest effective date first, corrections after."""
    base = catalog_dir(catalog_id, overlay)
    versions = [load_version(d) for d in sorted(base.iterdir()) if d.is_dir()]
    if not versions:
        msg = f"catalog {catalog_id!r} has no version directory"
        raise CatalogNotFound(msg, path=base)
    return sorted(
        versions, key=lambda v: (v.manifest.effective_from, v.manifest.recorded_at)
    )


def load_version(directory: Path) -> CatalogVersion:
    """Load one version directory, checking the manifest and the rows' sha256."""
    manifest_path = directory / "manifest.yaml"
    try:
        raw = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))
        manifest = CatalogManifest.model_validate(raw)
    except FileNotFoundError as exc:
        msg = "manifest.yaml is missing"
        raise CatalogError(msg, path=manifest_path) from exc
    except (yaml.YAMLError, ValidationError) as exc:
        msg = f"manifest does not load: {exc}"
        raise CatalogError(msg, path=manifest_path) from exc
    if manifest.version != directory.name:
        msg = f"manifest version {manifest.version!r} differs from its folder name"
        raise CatalogIntegrityError(msg, path=manifest_path)
    rows_path, rows_bytes = _rows_file(directory)
    digest = hashlib.sha256(rows_bytes).hexdigest()
    if digest != manifest.sha256:
        msg = f"sha256 of rows is {digest}, manifest says {manifest.sha256}"
        raise CatalogIntegrityError(msg, path=rows_path)
    rows = _read_rows(rows_path)
    meta = manifest.model_dump(mode="json", exclude={"sha256"})
    content = json.dumps(meta, sort_keys=True).encode() + b"\n" + rows_bytes
    return CatalogVersion(
        manifest, rows, hashlib.sha256(content).hexdigest(), directory
    )


def _rows_file(directory: Path) -> tuple[Path, bytes]:
    for name in ("rows.parquet", "rows.csv"):
        path = directory / name
        if path.is_file():
            return path, path.read_bytes()
    msg = "neither rows.csv nor rows.parquet is present"
    raise CatalogError(msg, path=directory)


def _read_rows(path: Path) -> pl.DataFrame:
    if path.suffix == ".parquet":
        return pl.read_parquet(path)
    try:
        frame = pl.read_csv(path, infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        msg = f"rows do not parse as CSV: {exc}"
        raise CatalogError(msg, path=path) from exc
    return frame.with_columns(pl.all().replace("", None))


def write_version(
    directory: Path, manifest: dict[str, object], rows: pl.DataFrame
) -> CatalogVersion:
    """Write a version directory (rows.csv + manifest.yaml with its sha256) and load it."""
    directory.mkdir(parents=True, exist_ok=True)
    rows_path = directory / "rows.csv"
    rows.write_csv(rows_path, line_terminator="\n")
    body = {**manifest, "sha256": hashlib.sha256(rows_path.read_bytes()).hexdigest()}
    (directory / "manifest.yaml").write_text(
        yaml.safe_dump(body, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    return load_version(directory)
