"""Validation: raw text frames → typed frames + quarantine, with nothing lost.

``tables`` runs the stage (``validate``); ``checks`` holds the per-field checks and
type conversions; ``codes`` the dated code lists.
"""

from claims.validate.tables import (
    COUNTS_SCHEMA,
    QUARANTINE_SCHEMA,
    ConservationError,
    Validated,
    empty_tables,
    validate,
)

__all__ = [
    "COUNTS_SCHEMA",
    "QUARANTINE_SCHEMA",
    "ConservationError",
    "Validated",
    "empty_tables",
    "validate",
]
