"""Read catalog versions from disk and check them against their manifests.

Layout: ``<root>/<catalog_id>/<version>/manifest.yaml`` + ``rows.csv`` (or ``rows.parquet``).
An overlay root replaces whole catalogs: each catalog id present there wins over the built-in.
An overlay that does not exist, is not a folder, or holds a folder that is no catalog (or
no catalog at all) is refused: it is never passed over for the built-in catalogs. A version
without rows is refused unless its manifest says ``empty: true`` with a ``reason``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import yaml
from pydantic import ValidationError

from catalogs.errors import (
    CatalogError,
    CatalogIntegrityError,
    CatalogNotFound,
    CatalogRootError,
    EmptyCatalogError,
)
from catalogs.rows import Window, type_rows
from catalogs.schema import SCHEMAS, CatalogSchema
from catalogs.spec import CatalogManifest

_YAML = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML was built with it (several times faster), else
the pure-Python one: the same documents either way."""

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


_FIX = (
    "give a folder with one sub-folder per catalog it replaces ({ids}), such as one "
    "written by `giamdinh catalogs export`, or leave --catalog-dir and "
    "GIAMDINH_CATALOG_DIR unset to use the built-in catalogs"
)


def check_overlay(overlay: Path) -> None:
    """Refuse an overlay root that would leave the built-in catalogs deciding unseen.

    Raises:
        CatalogRootError: ``overlay`` does not exist or is not a folder, one of its
            folders is not named after a catalog, or none is.
    """
    fix = _FIX.format(ids=", ".join(SCHEMAS))
    if not overlay.exists():
        msg = f"the catalog folder (--catalog-dir) does not exist; {fix}"
        raise CatalogRootError(msg, path=overlay)
    if not overlay.is_dir():
        msg = f"the catalog folder (--catalog-dir) is not a folder; {fix}"
        raise CatalogRootError(msg, path=overlay)
    folders = [p.name for p in overlay.iterdir() if p.is_dir()]
    unknown = sorted(n for n in folders if n not in SCHEMAS and not n.startswith("."))
    if unknown:
        msg = (
            f"folder(s) {', '.join(unknown)} of the catalog folder (--catalog-dir) "
            f"are not catalogs; rename or remove them; the catalogs are: "
            f"{', '.join(SCHEMAS)}"
        )
        raise CatalogRootError(msg, path=overlay)
    if not any(n in SCHEMAS for n in folders):
        msg = f"the catalog folder (--catalog-dir) holds no catalog; {fix}"
        raise CatalogRootError(msg, path=overlay)


def catalog_dir(catalog_id: str, overlay: Path | None = None) -> Path:
    """The directory holding the versions of ``catalog_id``: the overlay's if it has one.

    Raises:
        CatalogRootError: an overlay :func:`check_overlay` refuses.
        CatalogNotFound: no folder for ``catalog_id`` in the overlay nor built in.
    """
    if overlay is not None:
        check_overlay(overlay)
    if overlay is not None and (overlay / catalog_id).is_dir():
        return overlay / catalog_id
    builtin = BUILTIN_ROOT / catalog_id
    if builtin.is_dir():
        return builtin
    msg = f"catalog {catalog_id!r} not found in {overlay or ''} nor in {BUILTIN_ROOT}"
    raise CatalogNotFound(msg)


def load_versions(
    catalog_id: str,
    overlay: Path | None = None,
    *,
    icd_codes: Collection[str] | None = None,
) -> list[CatalogVersion]:
    """Every version of a catalog, oldest effective date first, corrections after.

    Args:
        catalog_id: the catalog's id (see :data:`catalogs.schema.SCHEMAS`).
        overlay: a catalog root whose catalogs replace the built-in ones of the same id.
        icd_codes: known ICD-10 codes; columns marked ``icd`` are checked against them.
    """
    base = catalog_dir(catalog_id, overlay)
    return load_root(base, catalog_id, icd_codes=icd_codes)


def load_root(
    base: Path, catalog_id: str, *, icd_codes: Collection[str] | None = None
) -> list[CatalogVersion]:
    """Every version directory under ``base`` (the folder of one catalog id)."""
    if catalog_id not in SCHEMAS:
        msg = f"unknown catalog {catalog_id!r}; the catalogs are: {', '.join(SCHEMAS)}"
        raise CatalogNotFound(msg, path=base)
    versions = [
        load_version(d, icd_codes=icd_codes)
        for d in sorted(base.iterdir())
        if d.is_dir()
    ]
    if not versions:
        msg = f"catalog {catalog_id!r} has no version directory"
        raise CatalogNotFound(msg, path=base)
    return sorted(
        versions, key=lambda v: (v.manifest.effective_from, v.manifest.recorded_at)
    )


def load_version(
    directory: Path, *, icd_codes: Collection[str] | None = None
) -> CatalogVersion:
    """Load one version directory, checking the manifest, the rows' sha256 and the rows."""
    manifest_path = directory / "manifest.yaml"
    try:
        raw = yaml.load(manifest_path.read_text(encoding="utf-8"), Loader=_YAML)
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
    schema = _schema(manifest.id, directory, manifest_path)
    window = Window(manifest.effective_from, manifest.effective_to)
    rows = type_rows(
        _read_rows(rows_path), schema, rows_path, window=window, icd_codes=icd_codes
    )
    _check_empty(manifest, rows.height, rows_path)
    meta = manifest.hashed_fields()
    content = json.dumps(meta, sort_keys=True).encode() + b"\n" + rows_bytes
    return CatalogVersion(
        manifest, rows, hashlib.sha256(content).hexdigest(), directory
    )


def _check_empty(manifest: CatalogManifest, height: int, rows_path: Path) -> None:
    """Refuse rows that disagree with the manifest's ``empty`` flag."""
    if height == 0 and not manifest.empty:
        msg = (
            f"catalog {manifest.id!r} version {manifest.version} has no rows (a header "
            "alone), so every lookup in it would find nothing (a price catalog would "
            "leave every line NOT_IN_CATALOG); fill in its rows, or if it is empty on "
            "purpose add 'empty: true' and a 'reason' to its manifest.yaml"
        )
        raise EmptyCatalogError(msg, path=rows_path)
    if height > 0 and manifest.empty:
        msg = (
            f"catalog {manifest.id!r} version {manifest.version} has {height:,} rows "
            "but its manifest says empty: true; remove 'empty' and 'reason' from "
            "manifest.yaml"
        )
        raise EmptyCatalogError(msg, path=rows_path)


def _schema(catalog_id: str, directory: Path, manifest_path: Path) -> CatalogSchema:
    if catalog_id != directory.parent.name:
        folder = directory.parent.name
        msg = f"manifest id {catalog_id!r} differs from the catalog folder {folder!r}"
        raise CatalogIntegrityError(msg, path=manifest_path)
    if catalog_id not in SCHEMAS:
        msg = f"unknown catalog {catalog_id!r}; the catalogs are: {', '.join(SCHEMAS)}"
        raise CatalogIntegrityError(msg, path=manifest_path)
    return SCHEMAS[catalog_id]


def _rows_file(directory: Path) -> tuple[Path, bytes]:
    for name in ("rows.parquet", "rows.csv"):
        path = directory / name
        if path.is_file():
            return path, path.read_bytes()
    msg = "neither rows.csv nor rows.parquet is present"
    raise CatalogError(msg, path=directory)


def _read_rows(path: Path) -> pl.DataFrame:
    if path.suffix == ".parquet":
        try:
            frame = pl.read_parquet(path)
        except pl.exceptions.PolarsError as exc:
            msg = f"rows do not read as Parquet: {exc}"
            raise CatalogError(msg, path=path) from exc
        return frame.select(pl.all().cast(pl.String))
    try:
        frame = pl.read_csv(path, infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        msg = f"rows do not parse as CSV: {exc}"
        raise CatalogError(msg, path=path) from exc
    return frame.with_columns(pl.all().replace("", None))


def write_version(
    directory: Path,
    manifest: Mapping[str, object],
    rows: pl.DataFrame,
    *,
    parquet: bool = False,
    icd_codes: Collection[str] | None = None,
) -> CatalogVersion:
    """Write a version directory (rows file + manifest.yaml with its sha256) and load it.

    Args:
        directory: ``<root>/<catalog_id>/<version>``; created if missing.
        manifest: the manifest fields but ``sha256``.
        rows: the rows, typed or text.
        parquet: write ``rows.parquet`` (big catalogs) instead of ``rows.csv``.
        icd_codes: known ICD-10 codes for the check at load.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for stale in ("rows.csv", "rows.parquet"):
        (directory / stale).unlink(missing_ok=True)
    if parquet:
        rows_path = directory / "rows.parquet"
        rows.write_parquet(rows_path, compression="zstd", statistics=False)
    else:
        rows_path = directory / "rows.csv"
        rows.write_csv(rows_path, line_terminator="\n")
    body = {**manifest, "sha256": hashlib.sha256(rows_path.read_bytes()).hexdigest()}
    (directory / "manifest.yaml").write_text(
        yaml.safe_dump(body, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    return load_version(directory, icd_codes=icd_codes)
