"""The engine's error hierarchy and its own stable reason codes."""

from __future__ import annotations

from enum import StrEnum


class ClaimsError(Exception):
    """Base of every error the engine raises on purpose."""


class ConfigError(ClaimsError):
    """Bad configuration: a setting, path or option that cannot be used."""


class TransientError(ClaimsError):
    """An I/O failure that may succeed when retried."""


class ReasonCode(StrEnum):
    """Stable reason codes of the engine (ingest, validation and payment stages).

    Values never change meaning and are never reused; packs declare their own codes.
    """

    # file level: the wrapper cannot be read
    FILE_EMPTY = "FILE_EMPTY"
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    FILE_NOT_UTF8 = "FILE_NOT_UTF8"
    FILE_NOT_XML = "FILE_NOT_XML"
    FILE_TRUNCATED = "FILE_TRUNCATED"
    FILE_WRONG_ROOT = "FILE_WRONG_ROOT"
    FILE_DTD_FORBIDDEN = "FILE_DTD_FORBIDDEN"
    FILE_UNREADABLE = "FILE_UNREADABLE"
    FILE_STRUCTURE_INVALID = "FILE_STRUCTURE_INVALID"
    SIGNATURE_MISSING = "SIGNATURE_MISSING"
    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    BULK_TABLE_INVALID = "BULK_TABLE_INVALID"
    # submission level warnings
    COUNT_MISMATCH = "COUNT_MISMATCH"
    SENDER_MISSING = "SENDER_MISSING"
    # claim (HOSO) level: the claim is rejected whole
    HOSO_BASE64_INVALID = "HOSO_BASE64_INVALID"
    HOSO_XML_INVALID = "HOSO_XML_INVALID"
    HOSO_DTD_FORBIDDEN = "HOSO_DTD_FORBIDDEN"
    HOSO_WRONG_ROOT = "HOSO_WRONG_ROOT"
    HOSO_UNKNOWN_TABLE = "HOSO_UNKNOWN_TABLE"
    HOSO_DUPLICATE_TABLE = "HOSO_DUPLICATE_TABLE"
    HOSO_NO_XML1 = "HOSO_NO_XML1"
    HOSO_TRUNCATED = "HOSO_TRUNCATED"
    HOSO_ROWS_MISPLACED = "HOSO_ROWS_MISPLACED"
    HOSO_FACILITY_MISMATCH = "HOSO_FACILITY_MISMATCH"
    CLAIM_DUPLICATE_KEY = "CLAIM_DUPLICATE_KEY"
    CLAIM_INVALID = "CLAIM_INVALID"
    CARD_INVALID = "CARD_INVALID"
    CARD_DATES_MISALIGNED = "CARD_DATES_MISALIGNED"
    DATE_ORDER = "DATE_ORDER"
    FACILITY_UNKNOWN = "FACILITY_UNKNOWN"
    # eligibility (facts for rules and payment; they do not quarantine)
    CARD_OBJECT_UNKNOWN = "CARD_OBJECT_UNKNOWN"
    CARD_LEVEL_MISMATCH = "CARD_LEVEL_MISMATCH"
    CARD_NOT_COVERING_STAY = "CARD_NOT_COVERING_STAY"
    NO_CONTRACT = "NO_CONTRACT"
    # field and line level
    REQUIRED_MISSING = "REQUIRED_MISSING"
    TOO_LONG = "TOO_LONG"
    BAD_INTEGER = "BAD_INTEGER"
    BAD_PERCENT = "BAD_PERCENT"
    BAD_MONEY = "BAD_MONEY"
    BAD_QUANTITY = "BAD_QUANTITY"
    BAD_DATE = "BAD_DATE"
    BAD_DATETIME = "BAD_DATETIME"
    BAD_MONTH = "BAD_MONTH"
    CODE_NOT_IN_LIST = "CODE_NOT_IN_LIST"
    LINE_DUPLICATE_KEY = "LINE_DUPLICATE_KEY"
    LINE_ORPHAN = "LINE_ORPHAN"
    LINE_DATE_OUTSIDE_STAY = "LINE_DATE_OUTSIDE_STAY"
    LINE_OF_REJECTED_CLAIM = "LINE_OF_REJECTED_CLAIM"
    # pricing: the line stays with its claim and is paid nothing
    NOT_IN_CATALOG = "NOT_IN_CATALOG"
    # payment stage: where the law's amount differs from the claimed one
    CATALOG_PRICE = "CATALOG_PRICE"
    PAYMENT_RATIO = "PAYMENT_RATIO"
    EXAM_RATIO = "EXAM_RATIO"
    BED_RATIO = "BED_RATIO"
    PROCEDURE_RATIO = "PROCEDURE_RATIO"
    SERVICE_RATIO = "SERVICE_RATIO"
    SUPPLIES_CEILING = "SUPPLIES_CEILING"
    LINE_ARITHMETIC = "LINE_ARITHMETIC"
    BENEFIT_RATE_MISMATCH = "BENEFIT_RATE_MISMATCH"
    LOW_COST_THRESHOLD = "LOW_COST_THRESHOLD"
    ROUTE_UNKNOWN = "ROUTE_UNKNOWN"
    CLAIM_WITHDRAWN = "CLAIM_WITHDRAWN"
    CLAIM_TOTAL_CAP = "CLAIM_TOTAL_CAP"
    UNDERCLAIMED = "UNDERCLAIMED"
    TRANSPORT_NOT_COVERED = "TRANSPORT_NOT_COVERED"
    CARD_NOT_COVERING_LINE = "CARD_NOT_COVERING_LINE"
    PROGRAMME_FUNDED = "PROGRAMME_FUNDED"
    ITEM_CEILING = "ITEM_CEILING"
    BED_TRANSFER_DAY = "BED_TRANSFER_DAY"
    EXAM_DAY_CAP = "EXAM_DAY_CAP"
    # settlement: the part of a claim's XML1 total that no valid line carries
    TOTAL_NOT_IN_LINES = "TOTAL_NOT_IN_LINES"
    # assessment: a pack rule that could not be evaluated on a row (the claim is reviewed)
    RULE_NOT_EVALUABLE = "RULE_NOT_EVALUABLE"
