"""The receipt a clinic reads of an assessor's decision (``claims.intake.receipts``'
shape for a decided claim: outcome, claimed and accepted T_BHTT, the amount not
accepted, every reason naming its line, ``thong_diep`` in Vietnamese), plus the review's
id, state, assessor and how to contest it. Pure."""

from __future__ import annotations

from typing import Any

import polars as pl

from claims.review.decisions import BHXH_REASONS

_STATE_SAID = {
    "decided": "Giám định viên đã quyết định",
    "awaiting_approval": "Quyết định giảm trừ đang chờ giám định viên thứ hai phê duyệt "
    "(chưa có hiệu lực thanh toán)",
    "approved": "Quyết định đã được giám định viên thứ hai phê duyệt",
    "refused": "Quyết định giảm trừ không được giám định viên thứ hai phê duyệt; hồ sơ "
    "chờ giám định lại (không có hiệu lực)",
}
_OUTCOME_SAID = {
    "accepted": "hồ sơ được chấp nhận thanh toán",
    "partially_accepted": "hồ sơ được chấp nhận một phần",
    "rejected": "hồ sơ bị từ chối thanh toán",
}


def review_receipt(
    decision: pl.DataFrame,
    reasons: pl.DataFrame,
    *,
    review_id: str,
    state: str,
    assessor: str,
    decided_at: str,
    approved_by: str | None = None,
) -> dict[str, Any]:
    """The receipt of review ``review_id``: ``decision`` its reviewed decision row,
    ``reasons`` the reasons it added (source ``review``)."""
    row = decision.row(0, named=True)
    shown = reasons.filter(pl.col("source") == "review").sort("table", "line_no")
    items = [
        {
            "code": r["code"],
            "bhxh_code": r["bhxh_code"],
            "bhxh_y_nghia": BHXH_REASONS.get(r["bhxh_code"] or ""),
            "table": r["table"],
            "stt": r["stt"],
            "item_code": r["item_code"],
            "message": r["message"],
        }
        for r in shown.iter_rows(named=True)
    ]
    claimed, accepted = row["claimed_t_bhtt"], row["accepted_t_bhtt"]
    said = (
        f"{_STATE_SAID.get(state, state)}: {_OUTCOME_SAID.get(row['outcome'], row['outcome'])}"
        f", đề nghị {claimed}, chấp nhận {accepted}, không chấp nhận "
        f"{row['rejected_amount']} đồng (T_BHTT). {len(items)} lý do."
    )
    return {
        "review_id": review_id,
        "ma_cskcb": row["ma_cskcb"],
        "ma_lk": row["ma_lk"],
        "file_id": row["file_id"],
        "hoso_idx": row["hoso_idx"],
        "trang_thai": state,
        "outcome": row["outcome"],
        "claimed": {"t_bhtt": str(claimed)},
        "accepted": {"t_bhtt": str(accepted)},
        "rejected_amount": str(row["rejected_amount"]),
        "giam_dinh_vien": assessor,
        "ngay_quyet_dinh": decided_at,
        "phe_duyet": approved_by,
        "reasons": items,
        "thong_diep": said,
        "huong_dan": (
            "Nếu không đồng ý, cơ sở KCB có thể khiếu nại: giamdinh review contest "
            f'{row["ma_cskcb"]} {row["ma_lk"]} --reason "…" (một giám định viên khác '
            "sẽ xem xét lại)."
        ),
    }
