"""A request body larger than ``Settings.api_max_upload_bytes`` is refused (413).

A pure ASGI middleware: a declared ``Content-Length`` above the limit is answered at
once, before the body is read; a body without one (chunked) is counted as it arrives
and the request fails with 413 as soon as it passes the limit, so no route ever holds
more than the limit, whatever it does with the body.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import Problem, problem_response


class BodyTooLarge(Problem):
    def __init__(self, limit: int) -> None:
        super().__init__(
            "PAYLOAD_TOO_LARGE",
            f"Tệp quá lớn: giới hạn là {limit // (1024 * 1024)} MB mỗi yêu cầu; chia "
            "hồ sơ thành nhiều tệp nhỏ hơn rồi gửi lại.",
            limit_bytes=limit,
        )


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            response = problem_response(BodyTooLarge(self.max_bytes))
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
