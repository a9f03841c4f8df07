"""Intake: read one submission (a GIAMDINHHS XML file or a bulk table folder) into raw
text frames, and answer it with a receipt.

The wrapper is streamed (``wrapper``), its HOSO payloads decoded and parsed per table
(``hoso``: xml2arrow in ``xmlfast``, lxml with DTDs refused in ``xmlsafe``); bulk folders
are read by ``bulk``. A file fails whole only when its wrapper cannot be read.
"""

from claims.intake.receipts import failure_receipt, submission_receipt
from claims.intake.signature import SignaturePolicy, check_signature
from claims.intake.submission import (
    FileFailure,
    FileMeta,
    Scan,
    Submission,
    empty_table,
    file_sha256,
)
from claims.intake.wrapper import facilities_of, read_submission, scan_submission

__all__ = [
    "FileFailure",
    "FileMeta",
    "Scan",
    "SignaturePolicy",
    "Submission",
    "check_signature",
    "empty_table",
    "facilities_of",
    "failure_receipt",
    "file_sha256",
    "read_submission",
    "scan_submission",
    "submission_receipt",
]
