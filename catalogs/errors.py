"""Catalog errors: a catalog that fails to load stops the run before any claim is touched."""

from __future__ import annotations

from pathlib import Path

from claims.errors import ClaimsError


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
