"""Receipts: per submission, per claim accepted or rejected with reason codes.

In the spirit of the portal's result codes (domain reference §1.3): 200 accepted,
201 XML format wrong, 202 content wrong, 204 empty file. Messages are Vietnamese with
the stable code beside them. A failed file's receipt is also its ``.error.json`` sidecar.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from claims.errors import ReasonCode as R
from claims.intake.submission import FileFailure, Submission

OK, FORMAT_ERROR, CONTENT_ERROR, EMPTY = 200, 201, 202, 204
_FORMAT_CODES = {
    R.HOSO_BASE64_INVALID,
    R.HOSO_XML_INVALID,
    R.HOSO_TRUNCATED,
    R.HOSO_ROWS_MISPLACED,
    R.HOSO_DTD_FORBIDDEN,
    R.HOSO_WRONG_ROOT,
    R.HOSO_UNKNOWN_TABLE,
    R.HOSO_DUPLICATE_TABLE,
    R.HOSO_NO_XML1,
}
_HINTS = {
    R.FILE_EMPTY: "Xuất lại tệp từ phần mềm HIS; tệp không có nội dung.",
    R.FILE_TOO_LARGE: "Chia hồ sơ thành nhiều tệp nhỏ hơn rồi gửi lại.",
    R.FILE_NOT_UTF8: "Lưu tệp với mã hóa UTF-8 (không dùng Windows-1258/TCVN3).",
    R.FILE_NOT_XML: "Tệp phải là XML theo chuẩn QĐ 130/4750; kiểm tra phần mềm xuất dữ liệu.",
    R.FILE_TRUNCATED: "Tệp bị thiếu phần cuối (truyền/lưu chưa xong); gửi lại tệp đầy đủ.",
    R.FILE_WRONG_ROOT: "Thẻ gốc phải là <GIAMDINHHS>; kiểm tra loại tệp đã chọn.",
    R.FILE_DTD_FORBIDDEN: "Bỏ khai báo <!DOCTYPE>/<!ENTITY> khỏi tệp rồi gửi lại.",
    R.FILE_STRUCTURE_INVALID: "Mọi thẻ <HOSO> phải nằm trong THONGTINHOSO/DANHSACHHOSO; "
    "kiểm tra phần mềm xuất dữ liệu.",
    R.BULK_TABLE_INVALID: "Kiểm tra tên cột và tệp xml1 của bộ dữ liệu lô.",
}


def failure_receipt(failure: FileFailure, run_id: str) -> dict[str, Any]:
    """Receipt (and sidecar) of a file whose wrapper could not be read."""
    code = EMPTY if failure.reason is R.FILE_EMPTY else FORMAT_ERROR
    return {
        "file": failure.name,
        "file_id": failure.file_id,
        "size_bytes": failure.size,
        "run_id": run_id,
        "ma_ket_qua": code,
        "code": failure.reason.value,
        "thong_diep": failure.message,
        "huong_dan": _HINTS.get(failure.reason, ""),
        "claims": [],
    }


def _claim_code(reasons: list[str] | None, status: str) -> int:
    if status == "accepted":
        return OK
    if reasons and any(r in _FORMAT_CODES for r in reasons):
        return FORMAT_ERROR
    return CONTENT_ERROR


def submission_receipt(
    sub: Submission,
    claims: pl.DataFrame,
    quarantine: pl.DataFrame,
    run_id: str,
    warnings: pl.DataFrame | None = None,
) -> dict[str, Any]:
    """Receipt of a readable file: every claim with its status, reasons and warnings.

    The receipt says what was stored: a claim is accepted (200) only when its XML1
    row was stored (``stored``); every other claim is rejected with its reasons.

    Args:
        sub: the file.
        claims: the file's claim statuses (validation's ``claims``, this file only:
            ``hoso_idx, ma_lk, status, claim_reasons, stored``).
        quarantine: the file's quarantine entries.
        run_id: the run that read it.
        warnings: the file's line warnings that do not quarantine the line
            (``hoso_idx, code, message, table, line_no, field``), e.g. a code not in
            the facility's catalog.
    """
    # the causes first: claim-level errors, then the claim's own problems, then the
    # rows refused only because their claim was
    cause_first = quarantine.sort(
        "hoso_idx",
        pl.col("line_no").is_not_null(),
        pl.col("reason_code") == R.LINE_OF_REJECTED_CLAIM.value,
        maintain_order=True,
    )
    reasons = cause_first.group_by("hoso_idx", maintain_order=True).agg(
        pl.struct(
            pl.col("reason_code").alias("code"),
            pl.col("message"),
            "table",
            "line_no",
            pl.col("field").str.to_uppercase(),
        ).alias("reasons")
    )
    joined = claims.join(reasons, on="hoso_idx", how="left")
    if warnings is not None and warnings.height:
        notes = warnings.group_by("hoso_idx", maintain_order=True).agg(
            pl.struct(pl.exclude("hoso_idx", "file_id")).alias("warnings")
        )
        joined = joined.join(notes, on="hoso_idx", how="left")
    status = pl.when(pl.col("stored")).then("status").otherwise(pl.lit("rejected"))
    rows = joined.with_columns(status.alias("status")).sort("hoso_idx").to_dicts()
    entries = [
        {
            "stt": row["hoso_idx"] + 1,
            "ma_lk": row["ma_lk"],
            "trang_thai": row["status"],
            "ma_ket_qua": _claim_code(row["claim_reasons"], row["status"]),
            "ly_do": row["reasons"] or [],
            "canh_bao": row.get("warnings") or [],
        }
        for row in rows
    ]
    accepted = sum(e["trang_thai"] != "rejected" for e in entries)
    overall = OK if accepted == len(entries) and not sub.warnings else CONTENT_ERROR
    return {
        "file": sub.meta.name,
        "file_id": sub.meta.file_id,
        "run_id": run_id,
        "ma_cskcb": sub.meta.sender,
        "ngay_lap": sub.meta.ngay_lap,
        "soluonghoso": sub.meta.declared,
        "so_ho_so": sub.meta.hoso_count,
        "so_ho_so_chap_nhan": accepted,
        "so_ho_so_tu_choi": len(entries) - accepted,
        "ma_ket_qua": overall if entries else EMPTY,
        "canh_bao": [{"code": c.value, "thong_diep": m} for c, m in sub.warnings],
        "claims": entries,
    }
