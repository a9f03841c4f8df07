"""Versioned reference data: facility registers, prices, ICD-10, base salary, benefit tables."""

from catalogs.errors import CatalogError as CatalogError
from catalogs.loader import BUILTIN_ROOT as BUILTIN_ROOT
from catalogs.loader import CatalogVersion as CatalogVersion
from catalogs.loader import load_versions as load_versions
from catalogs.resolve import Catalog as Catalog
from catalogs.resolve import as_of as as_of
from catalogs.resolve import load_catalogs as load_catalogs
from catalogs.resolve import resolve as resolve
from catalogs.schema import SCHEMAS as SCHEMAS
from catalogs.spec import CatalogManifest as CatalogManifest

__all__ = [
    "BUILTIN_ROOT",
    "SCHEMAS",
    "Catalog",
    "CatalogError",
    "CatalogManifest",
    "CatalogVersion",
    "as_of",
    "load_catalogs",
    "load_versions",
    "resolve",
]
