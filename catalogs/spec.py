"""Catalog manifests: one per version directory (``<root>/<id>/<version>/manifest.yaml``)."""

from __future__ import annotations

import re
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, field_validator

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

    @field_validator("version")
    @classmethod
    def _version_format(cls, value: str) -> str:
        if not VERSION_PATTERN.match(value):
            msg = f"version {value!r} must be YYYY-MM-DD or YYYY-MM-DD.N"
            raise ValueError(msg)
        return value
