"""What every UI page shares: the templates, the Vietnamese labels, the logged-in
visitor as a dependency, and who may see what.

Patient identity on a claim page: assessors and admins see it in full (they check the
card and the person against the claim), a clinic sees its own patients in full (it
sent them), finance sees it masked (``claims.pipeline.claim_view``'s masking: it pays
facilities, not people). The claim page reads the claim as ``GET /claims/…`` does
(``api.routes.claims.detail_for``), so the page and the API mask alike.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.deps import StateDep
from api.errors import Problem
from api.ui.session import Visitor, visitor

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")

ROLE_LABELS = {
    "clinic": "Cơ sở KCB",
    "assessor": "Giám định viên",
    "finance": "Tài chính",
    "admin": "Quản trị",
}
STATUS_LABELS = {
    "accepted": "Chấp nhận",
    "partially_accepted": "Chấp nhận một phần",
    "pending_review": "Chờ giám định",
    "rejected": "Từ chối",
    "received": "Đã nhận",
    "processing": "Đang giám định",
    "assessed": "Đã giám định",
    "failed": "Lỗi",
    "queued": "Chờ giám định",
    "taken": "Đang được giám định",
    "decided": "Đã quyết định",
    "awaiting_approval": "Chờ phê duyệt (bốn mắt)",
    "approved": "Đã phê duyệt",
    "refused": "Không phê duyệt",
    "contested": "Bị khiếu nại",
    "posted": "Đã ghi sổ",
    "not_posted": "Không ghi sổ (không thay đổi)",
    "superseded": "Đã được thay thế",
    "partly_superseded": "Được thay thế một phần",
    "open": "Chờ giám định",
    "reopened": "Mở lại (cơ sở khiếu nại)",
    "rule": "Quy tắc",
    "score": "Điểm rủi ro",
    "sample": "Mẫu kiểm tra",
}
ACTIONS = {
    "accept": "Chấp nhận",
    "reject": "Từ chối",
    "reduce": "Giảm tiền (T_BHTT)",
    "qty": "Sửa số lượng",
}
"""The per-line choices of the decision form (``claims.review.parse_line``'s)."""
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
"""UI pages run only the package's scripts (no inline script, no other site); htmx
adds its indicator styles inline."""
STAFF = ("assessor", "finance", "admin")
ASSESSORS = ("assessor", "admin")
FINANCE = ("finance", "admin")


def dong(value: object) -> str:
    """Money as Vietnamese read it: ``1.234.567`` (đồng), ``,50`` when not whole."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    whole, _, cents = f"{amount:,.2f}".partition(".")
    text = whole.replace(",", ".")
    return text if cents == "00" else f"{text},{cents}"


def qty(value: object) -> str:
    """A quantity as Vietnamese read it: ``2``, ``0,5``, ``1.500``."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value)).normalize()
    except InvalidOperation:
        return str(value)
    whole, _, part = f"{amount:,f}".partition(".")
    text = whole.replace(",", ".")
    return f"{text},{part}" if part else text


def number_of(text: str) -> str:
    """A number typed the Vietnamese way (``120.000``, ``0,5``) as ``120000``,
    ``0.5``: dots group thousands, the comma is the decimal mark."""
    return text.strip().replace(" ", "").replace(".", "").replace(",", ".")


def label(value: object) -> str:
    return STATUS_LABELS.get(str(value), str(value) if value is not None else "")


def held_label(value: object) -> str:
    """What holds a queued claim (``rule+score``) in words."""
    return " + ".join(label(part) for part in str(value or "").split("+") if part)


TEMPLATES.env.filters["dong"] = dong
TEMPLATES.env.filters["label"] = label
TEMPLATES.env.filters["held_label"] = held_label
TEMPLATES.env.filters["qty"] = qty
TEMPLATES.env.globals["ROLE_LABELS"] = ROLE_LABELS


def current_visitor(request: Request, state: StateDep) -> Visitor:
    return visitor(request, state)


Viewer = Annotated[Visitor, Depends(current_visitor)]


def need(who: Visitor, *roles: str) -> None:
    """403 unless the visitor has one of ``roles``."""
    if who.user.role not in roles:
        raise Problem(
            "FORBIDDEN",
            f"Vai trò {ROLE_LABELS.get(who.user.role, who.user.role)} không được "
            "dùng trang này.",
        )


def page(
    request: Request,
    name: str,
    who: Visitor | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Template ``name`` with the visitor (``user``, ``csrf``) and ``context``."""
    context |= {
        "user": who.user if who else None,
        "csrf": who.session.csrf if who else None,
    }
    response: HTMLResponse = TEMPLATES.TemplateResponse(
        request, name, context, status_code=status_code
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    return response


__all__ = [
    "STATUS_LABELS", "TEMPLATES", "Viewer", "dong", "need", "number_of", "page", "qty",
]  # fmt: skip
