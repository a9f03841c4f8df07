"""Signed submissions over HTTP: once signatures are mandatory an unsigned or a
changed file is refused with its code in the receipt; a signed one is assessed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tests.api.conftest import Server, sender_of

XML = {"Content-Type": "application/xml"}


@pytest.fixture(scope="module")
def signed_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from claims.synthetic import generate

    root = tmp_path_factory.mktemp("signed-day")
    summary = generate(
        root / "inbox",
        claims=40,
        facilities=4,
        day=date(2026, 10, 15),
        seed=16,
        error_rate=0.0,
        fmt="xml",
        sign=True,
    )
    return {sender_of(path): path for path in summary.files}


def _send(server: Server, facility: str, body: bytes) -> dict:
    who = f"clinic:{facility}"
    with server.client(who) as http:
        sent = http.post("/submissions", content=body, headers=XML)
        assert sent.status_code == 202, sent.text
    return server.wait_assessed(who, sent.json()["id"])


def test_signatures_are_checked_once_mandatory(
    make_server, signed_files: dict[str, Path]
) -> None:
    server = make_server(signatures_required_from="2026-01-01")
    facility = sorted(set(signed_files) & set(server.files))[0]
    unsigned = _send(server, facility, server.files[facility].read_bytes())
    assert unsigned["status"] == "failed"
    assert unsigned["receipt"]["code"] == "SIGNATURE_MISSING"
    signed = signed_files[facility].read_bytes()
    ok = _send(server, facility, signed)
    assert ok["status"] == "assessed", ok
    assert ok["receipt"]["claims"]
    start = signed.index(b"<NGAYLAP>")
    changed = signed[:start] + signed[start:].replace(b"<HOSO>", b"<HOSO> ", 1)
    tampered = _send(server, facility, changed)
    assert tampered["status"] == "failed"
    assert tampered["receipt"]["code"] == "SIGNATURE_INVALID"
