"""Catalog manifests: one per version directory (``<root>/<id>/<version>/manifest.yaml``)."""

from __future__ import annotations

import re
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

VERSION_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}(\.\d+)?$")


class CatalogManifest(BaseModel):
    """What a catalog version declares about itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    version: str
    effective_from: date
    effective_to: date | None = None
    recorded_at: datetime
    source: str
    sha256: str
    empty: bool = False
    """The version has no rows on purpose; only then may its rows file be header-only."""
    reason: str | None = None
    """Why an ``empty: true`` version has no rows (required with it, refused without)."""

    @field_validator("version")
    @classmethod
    def _version_format(cls, value: str) -> str:
        if not VERSION_PATTERN.match(value):
            msg = f"version {value!r} must be YYYY-MM-DD or YYYY-MM-DD.N"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _empty_needs_reason(self) -> CatalogManifest:
        if self.empty and not (self.reason or "").strip():
            msg = "empty: true needs a reason (why this version has no rows)"
            raise ValueError(msg)
        if not self.empty and self.reason is not None:
            msg = "reason is only for an empty version; add empty: true or remove it"
            raise ValueError(msg)
        return self

    def hashed_fields(self) -> dict[str, object]:
        """The fields a version's content hash covers: all but ``sha256``.

        ``empty`` and ``reason`` count only when the version is declared empty, so
        the hashes of versions that do not use them stay as they were.
        """
        leave_out = {"sha256"} if self.empty else {"sha256", "empty", "reason"}
        return self.model_dump(mode="json", exclude=leave_out)
