"""Hostile bodies get 4xx problem details and change nothing: XXE, billion laughs,
truncated, not UTF-8, not XML, too large (declared or streamed)."""

from __future__ import annotations

import base64
import contextlib
import socket
from urllib.parse import urlparse

import pytest

from tests.api.conftest import Server

XXE = b"""<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE GIAMDINHHS [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<GIAMDINHHS><THONGTINDONVI><MACSKCB>&xxe;</MACSKCB></THONGTINDONVI></GIAMDINHHS>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<GIAMDINHHS>&lol3;</GIAMDINHHS>"""


def _bodies(server: Server) -> dict[str, bytes]:
    facility = sorted(server.files)[0]
    real = server.files[facility].read_bytes()
    latin = real.replace(b'encoding="utf-8"', b'encoding="windows-1258"')
    return {
        "xxe": XXE,
        "billion laughs": LAUGHS,
        "truncated": real[: len(real) // 2],
        "not utf-8": latin.replace(b"<MACSKCB>", b"<MACSKCB>\xe9\xff", 1),
        "not xml": base64.b64encode(real[:300]),
        "empty": b"",
    }


def _nothing_changed(server: Server) -> None:
    root = server.settings.data_dir / "api" / "submissions"
    assert not root.exists() or not list(root.iterdir())
    assert not (server.settings.data_dir / "processed").exists()


def test_hostile_bodies_are_refused_with_problem_details(server: Server) -> None:
    facility = sorted(server.files)[0]
    with server.client(f"clinic:{facility}") as http:
        for name, body in _bodies(server).items():
            got = http.post(
                "/submissions",
                content=body,
                headers={"Content-Type": "application/xml"},
            )
            assert 400 <= got.status_code < 500, (name, got.status_code, got.text)
            assert got.headers["content-type"] == "application/problem+json", name
            assert got.json()["code"] in ("FILE_REFUSED", "INVALID_REQUEST"), name
            assert "/etc/passwd" not in got.text
            assert "root:" not in got.text
            check = http.post(
                "/self-check", content=body, headers={"Content-Type": "text/xml"}
            )
            assert 400 <= check.status_code < 500, (name, check.text)
        wrong_type = http.post(
            "/submissions", content=b"x", headers={"Content-Type": "text/plain"}
        )
        assert wrong_type.status_code == 415
        assert wrong_type.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"
    _nothing_changed(server)


def _raw_post(url: str, key: str, head: dict[str, str], body: bytes) -> bytes:
    """Send a request by hand (to declare a length it does not send, or to stream a
    chunked body); the status line and headers the server answers."""
    where = urlparse(url)
    lines = [
        "POST /submissions HTTP/1.1",
        f"Host: {where.hostname}:{where.port}",
        f"Authorization: Bearer {key}",
        "Content-Type: application/xml",
        *(f"{k}: {v}" for k, v in head.items()),
    ]
    with socket.create_connection((where.hostname, where.port), timeout=60) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        # the server may answer and close before it has read it all
        with contextlib.suppress(OSError):
            s.sendall(body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer


def test_a_300_mb_body_is_refused_before_it_is_read(server: Server) -> None:
    facility = sorted(server.files)[0]
    answer = _raw_post(
        server.url,
        server.keys[f"clinic:{facility}"],
        {"Content-Length": str(300 * 1024 * 1024)},
        b"<" * 65536,
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"application/problem+json" in answer
    _nothing_changed(server)


@pytest.mark.parametrize("limit", [256 * 1024])
def test_a_streamed_body_is_cut_at_the_limit(make_server, limit: int) -> None:
    server = make_server(api_max_upload_bytes=limit)
    facility = sorted(server.files)[0]
    chunk = b"<" * 65536
    body = (
        b"".join(
            f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
            for _ in range(3 * limit // 65536)
        )
        + b"0\r\n\r\n"
    )
    answer = _raw_post(
        server.url,
        server.keys[f"clinic:{facility}"],
        {"Transfer-Encoding": "chunked"},
        body,
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    _nothing_changed(server)
