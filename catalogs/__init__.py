"""Versioned reference data: facility registers, code lists, prices."""

from catalogs.errors import CatalogError as CatalogError
from catalogs.loader import BUILTIN_ROOT as BUILTIN_ROOT
from catalogs.loader import CatalogVersion as CatalogVersion
from catalogs.loader import load_versions as load_versions
from catalogs.spec import CatalogManifest as CatalogManifest

__all__ = [
    "BUILTIN_ROOT",
    "CatalogError",
    "CatalogManifest",
    "CatalogVersion",
    "load_versions",
]
