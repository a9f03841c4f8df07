"""Receipts: per submission, per claim received or refused, and what was decided.

Reception is told in the spirit of the portal's result codes (domain reference §1.3):
``ma_ket_qua`` 200 received into assessment, 201 XML format wrong, 202 content wrong,
204 empty file, with ``trang_thai`` and validation's reasons (``ly_do``). A receipt
of a run also carries each claim's decision, in the ``giamdinh check`` contract's
shape: ``outcome`` (accepted, partially_accepted, pending_review, rejected), the
claimed and accepted amounts, ``rejected_amount``, every reason (validation, rules,
payment: each naming its line by table, STT and item code, and the values compared)
and the versions; ``thong_diep`` says it in Vietnamese. A 200 is not a payment: the
outcome is. Personal values (names, ids, addresses) are masked in the reasons.
Messages are Vietnamese with the stable code beside them. A failed file's receipt is
also its ``.error.json`` sidecar.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import polars as pl

from claims.errors import ReasonCode as R
from claims.intake.submission import FileFailure, Submission
from claims.xml130 import PARSED_TABLES

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
    R.SIGNATURE_MISSING: "Ký số tệp bằng chứng thư số đã đăng ký của cơ sở "
    "(chữ ký XML-DSig trong thẻ CHUKYDONVI) rồi gửi lại.",
    R.SIGNATURE_INVALID: "Ký lại tệp sau lần sửa cuối cùng, bằng chứng thư số đã đăng "
    "ký của chính cơ sở còn hiệu lực tại ngày lập tệp, rồi gửi lại; không sửa tệp "
    "sau khi ký.",
}
OUTCOMES = ("accepted", "partially_accepted", "pending_review", "rejected")
_SAID = {
    "accepted": "Hồ sơ được chấp nhận thanh toán",
    "partially_accepted": "Hồ sơ được chấp nhận một phần",
    "pending_review": "Hồ sơ chờ giám định viên xem xét (số tiền chấp nhận là tạm tính)",
    "rejected": "Hồ sơ bị từ chối thanh toán",
}
_DECISION_KEYS = (
    "hoso_idx", "ma_cskcb", "outcome", "claimed", "accepted", "rejected_amount",
    "reasons", "versions",
)  # fmt: skip
_PERSONAL = frozenset(
    name
    for spec in PARSED_TABLES.values()
    for f in spec.fields
    if f.pii
    for name in (f.column, f.column.upper())
)


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


def _reasons_by_claim(quarantine: pl.DataFrame) -> pl.DataFrame:
    """``hoso_idx, reasons``: the causes first (claim-level errors, then the claim's own
    problems, then the rows refused only because their claim was)."""
    cause_first = quarantine.sort(
        "hoso_idx",
        pl.col("line_no").is_not_null(),
        pl.col("reason_code") == R.LINE_OF_REJECTED_CLAIM.value,
        maintain_order=True,
    )
    return cause_first.group_by("hoso_idx", maintain_order=True).agg(
        pl.struct(
            pl.col("reason_code").alias("code"),
            pl.col("message"),
            "table",
            "line_no",
            pl.col("field").str.to_uppercase(),
        ).alias("reasons")
    )


def submission_receipt(
    sub: Submission,
    claims: pl.DataFrame,
    quarantine: pl.DataFrame,
    run_id: str,
    warnings: pl.DataFrame | None = None,
    decided: Mapping[int, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Receipt of a readable file: every claim with its status, reasons and warnings,
    and with ``decided`` the decision of each.

    The reception says what was stored: a claim is received (200) only when its XML1
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
        decided: per claim (``hoso_idx``) of the file, its ``giamdinh check``
            contract object (``claims.pipeline.selfcheck.claim_objects``): its
            outcome, amounts, reasons and versions join its entry.
    """
    joined = claims.join(_reasons_by_claim(quarantine), on="hoso_idx", how="left")
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
    if decided is not None:
        entries = [_with_decision(e, decided.get(e["stt"] - 1)) for e in entries]
    accepted = sum(e["trang_thai"] != "rejected" for e in entries)
    overall = OK if accepted == len(entries) and not sub.warnings else CONTENT_ERROR
    tally = {"ket_qua_giam_dinh": _tally(entries)} if decided is not None else {}
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
        **tally,
        "claims": entries,
    }


def _with_decision(
    entry: dict[str, Any], decision: Mapping[str, Any] | None
) -> dict[str, Any]:
    """``entry`` with its claim's decision, reasons masked, and a sentence saying it.

    Raises:
        ValueError: the run neither decided nor refused the claim (a bug).
    """
    if decision is None:
        msg = f"claim {entry['stt']} of the receipt has no decision"
        raise ValueError(msg)
    shown = {k: decision[k] for k in _DECISION_KEYS if k in decision}
    shown["reasons"] = [_masked(r) for r in decision.get("reasons") or []]
    outcome = shown["outcome"]
    said = _SAID.get(outcome, outcome)
    if entry["trang_thai"] == "rejected":
        said = "Hồ sơ bị từ chối tiếp nhận do lỗi dữ liệu; sửa và gửi lại"
    elif outcome != "accepted":
        said += (
            f": đề nghị {shown['claimed']['t_bhtt']}, chấp nhận "
            f"{shown['accepted']['t_bhtt']}, không chấp nhận "
            f"{shown['rejected_amount']} đồng (T_BHTT)"
        )
    else:
        said += f": {shown['accepted']['t_bhtt']} đồng (T_BHTT)"
    n = len(shown["reasons"])
    shown["thong_diep"] = f"{said}. {n} lý do." if n else f"{said}."
    return {**entry, **shown}


def _masked(reason: Mapping[str, Any]) -> dict[str, Any]:
    """A reason with the values of personal fields masked (first character, ***)."""
    values = reason.get("values") or {}
    return {
        **reason,
        "values": {
            k: (f"{v[:1]}***" if k in _PERSONAL and v else v) for k, v in values.items()
        },
    }


def _tally(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Claims per decision outcome, and the file's T_BHTT claimed, accepted and not."""

    def total(part: str) -> str:
        amounts = [e[part]["t_bhtt"] for e in entries if e.get(part)]
        return f"{sum((Decimal(a) for a in amounts if a is not None), Decimal(0)):.2f}"

    rejected = [e["rejected_amount"] for e in entries if e["rejected_amount"]]
    return {
        **{o: sum(e["outcome"] == o for e in entries) for o in OUTCOMES},
        "claimed_t_bhtt": total("claimed"),
        "accepted_t_bhtt": total("accepted"),
        "rejected_amount": f"{sum((Decimal(a) for a in rejected), Decimal(0)):.2f}",
    }
