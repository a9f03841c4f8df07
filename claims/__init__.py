"""giamdinh core: claim tables, validation, storage, payment, settlement and the daily
pipeline.

Re-exports leaf modules only; the pipeline is imported from its own module.
"""

from claims.errors import ClaimsError as ClaimsError
from claims.errors import ReasonCode as ReasonCode
from claims.money import MONEY as MONEY
from claims.money import QUANTITY as QUANTITY
from claims.xml130 import DOC_TABLES as DOC_TABLES
from claims.xml130 import PARSED_TABLES as PARSED_TABLES

__all__ = [
    "DOC_TABLES",
    "MONEY",
    "PARSED_TABLES",
    "QUANTITY",
    "ClaimsError",
    "ReasonCode",
]
