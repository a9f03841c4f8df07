"""Catalog errors: a catalog that fails to load stops the run before any claim is touched."""

from __future__ import annotations

from pathlib import Path

from claims.errors import ClaimsError, ConfigError


class CatalogError(ClaimsError):
    """A catalog version that cannot be used, with the file and row at fault."""

    def __init__(
        self, message: str, *, path: Path | None = None, row: int | None = None
    ):
        self.path = path
        self.row = row
        where = f"{path}" if path else ""
        if row is not None:
            where += f", row {row}"
        super().__init__(f"{where}: {message}" if where else message)


class CatalogNotFound(CatalogError):
    """No version of the asked catalog exists under the catalog roots."""


class CatalogIntegrityError(CatalogError):
    """A version whose rows do not match its manifest, or whose rows break the schema."""


class CatalogRootError(CatalogError, ConfigError):
    """A catalog root (``--catalog-dir``) the engine cannot use as it is.

    It does not exist, is not a folder, holds a folder that is not a catalog, or holds
    no catalog at all. It is refused, never passed over for the built-in catalogs.
    """


class EmptyCatalogError(CatalogIntegrityError, ConfigError):
    """A version whose rows disagree with its manifest's ``empty`` flag.

    No rows without ``empty: true`` (and a reason), or rows under ``empty: true``.
    """
