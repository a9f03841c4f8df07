"""Errors as problem details (RFC 9457, ``application/problem+json``).

Every error the API answers has a stable ``code`` (SCREAMING_SNAKE, never reused) and a
``detail`` in Vietnamese a clinic's staff understands, beside the HTTP ``status`` and an
English ``title``. Routes raise :class:`Problem` (or let an engine error through);
:func:`install` maps the engine's errors: bad input or configuration → 4xx, a store
that stayed busy → 503 with ``Retry-After``, anything unexpected → 500 with an id to
quote, its traceback logged, never sent.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from claims.errors import ClaimsError, TransientError
from claims.review.decisions import ReviewError
from claims.store.review import ReviewLocked

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("giamdinh.api")

_TEXTS: dict[str, tuple[int, str, str]] = {
    "UNAUTHENTICATED": (
        401,
        "Missing or unknown API key",
        "Thiếu khóa API hoặc khóa không hợp lệ (đã thu hồi?). Gửi tiêu đề "
        "'Authorization: Bearer <khóa>' với khóa được cấp.",
    ),
    "FORBIDDEN": (
        403,
        "The key's role may not use this route",
        "Vai trò của khóa API này không được dùng chức năng này.",
    ),
    "FACILITY_MISMATCH": (
        403,
        "The file is from another facility",
        "Tệp gửi lên có MACSKCB khác với cơ sở của khóa API; chỉ gửi hồ sơ của "
        "chính cơ sở mình.",
    ),
    "NOT_FOUND": (404, "Not found", "Không tìm thấy."),
    "METHOD_NOT_ALLOWED": (
        405,
        "Method not allowed",
        "Phương thức HTTP không được hỗ trợ ở địa chỉ này.",
    ),
    "PAYLOAD_TOO_LARGE": (
        413,
        "Body too large",
        "Tệp quá lớn so với giới hạn của cổng tiếp nhận; chia hồ sơ thành nhiều tệp "
        "nhỏ hơn rồi gửi lại.",
    ),
    "UNSUPPORTED_MEDIA_TYPE": (
        415,
        "Unsupported content type",
        "Gửi tệp XML (Content-Type: application/xml) hoặc biểu mẫu multipart có "
        "trường 'file'.",
    ),
    "INVALID_REQUEST": (
        422,
        "Invalid request",
        "Yêu cầu không hợp lệ; xem chi tiết các trường bị lỗi.",
    ),
    "FILE_REFUSED": (
        422,
        "The file cannot be received",
        "Tệp không đọc được theo chuẩn QĐ 130/4750.",
    ),
    "CONFLICT": (409, "Conflict", "Yêu cầu xung đột với trạng thái hiện tại."),
    "REVIEW_REFUSED": (
        422,
        "The review action is refused",
        "Thao tác giám định không hợp lệ với trạng thái hồ sơ; xem 'message'.",
    ),
    "RATE_LIMITED": (
        429,
        "Too many requests",
        "Quá nhiều yêu cầu trong một phút với khóa API này; thử lại sau ít giây.",
    ),
    "STORE_BUSY": (
        503,
        "The store is busy",
        "Hệ thống đang bận ghi dữ liệu; thử lại sau ít phút.",
    ),
    "INTERNAL_ERROR": (
        500,
        "Internal error",
        "Lỗi hệ thống; báo cho quản trị viên kèm mã lỗi.",
    ),
}
CODES = frozenset(_TEXTS)


class Problem(Exception):
    """An answer other than success: a stable code, and what to tell the caller.

    ``detail`` replaces the code's standard Vietnamese text; ``extra`` adds fields
    (e.g. ``errors`` of a validation, ``retry_after``).
    """

    def __init__(
        self,
        code: str,
        detail: str | None = None,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        if code not in _TEXTS and status is None:
            msg = f"unknown problem code {code!r}: add it to api.errors._TEXTS"
            raise ValueError(msg)
        default_status, self.title, default_detail = _TEXTS.get(code, (0, code, ""))
        self.code = code
        self.status = status or default_status
        self.detail = detail or default_detail
        self.headers = headers or {}
        self.extra = extra
        super().__init__(f"{code}: {self.detail}")


def problem_response(problem: Problem) -> JSONResponse:
    body = {
        "type": f"urn:giamdinh:problem:{problem.code.lower()}",
        "title": problem.title,
        "status": problem.status,
        "code": problem.code,
        "detail": problem.detail,
        **problem.extra,
    }
    return JSONResponse(
        body, status_code=problem.status, media_type=MEDIA_TYPE, headers=problem.headers
    )


def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND"}.get(
        exc.status_code,
        "METHOD_NOT_ALLOWED" if exc.status_code == 405 else "INVALID_REQUEST",
    )
    return problem_response(Problem(code, status=exc.status_code))


def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e["type"]}
        for e in exc.errors()
    ]
    return problem_response(Problem("INVALID_REQUEST", errors=errors))


def _engine(_: Request, exc: Exception) -> JSONResponse:
    """An engine error: its stable problem code, a Vietnamese ``detail`` and the
    engine's own message (which names the bad value and the fix) in ``message``."""
    message = str(exc)
    if isinstance(exc, ReviewLocked):
        problem = Problem("CONFLICT", _LOCKED, message=message)
    elif isinstance(exc, ReviewError):
        problem = Problem("REVIEW_REFUSED", message=message)
    elif isinstance(exc, TransientError):
        problem = Problem(
            "STORE_BUSY", headers={"Retry-After": "30"}, retry_after=30, message=message
        )
    else:
        problem = Problem("INVALID_REQUEST", _INVALID, message=message)
    return problem_response(problem)


_LOCKED = "Hồ sơ đang được một giám định viên khác xử lý; chọn hồ sơ khác."
_INVALID = (
    "Yêu cầu không thực hiện được; xem 'message' để biết giá trị sai và cách sửa."
)


def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    error_id = uuid.uuid4().hex[:12]
    log.exception("unexpected error %s", error_id, exc_info=exc)
    return problem_response(
        Problem("INTERNAL_ERROR", f"Lỗi hệ thống (mã {error_id}).", error_id=error_id)
    )


def _problem(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc)


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` as problem details."""
    app.add_exception_handler(Problem, _problem)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(ClaimsError, _engine)
    app.add_exception_handler(Exception, _unexpected)
