"""Who may do what: no key 401, a role's foreign route 403, another clinic's thing
answered exactly as a thing that does not exist (404), on every route."""

from __future__ import annotations

import re

import httpx
import pytest

from claims.pipeline.identity import revoke_user
from claims.store.runs import open_store
from tests.api.conftest import AT, Server

XML = {"Content-Type": "application/xml"}


def _submit_and_wait(server: Server, facility: str) -> tuple[str, str]:
    """Submit ``facility``'s file; its submission id and a stored claim's MA_LK."""
    who = f"clinic:{facility}"
    with server.client(who) as http:
        sent = http.post(
            "/submissions", content=server.files[facility].read_bytes(), headers=XML
        )
        assert sent.status_code == 202, sent.text
    done = server.wait_assessed(who, sent.json()["id"])
    stored = [c for c in done["receipt"]["claims"] if c["trang_thai"] != "rejected"]
    return sent.json()["id"], stored[0]["ma_lk"]


def _routes(sub_id: str, facility: str, ma_lk: str) -> list[tuple[str, str, dict]]:
    return [
        ("GET", f"/submissions/{sub_id}", {}),
        ("GET", f"/claims/{facility}/{ma_lk}", {}),
        ("GET", f"/claims/{facility}/{ma_lk}/fhir", {}),
        ("POST", f"/claims/{facility}/{ma_lk}/contest", {"json": {"reason": "sai"}}),
    ]


def test_another_clinics_things_are_answered_as_missing_ones(server: Server) -> None:
    mine, other = sorted(server.files)[:2]
    sub_id, ma_lk = _submit_and_wait(server, mine)
    with server.client(f"clinic:{mine}") as owner:
        assert owner.get(f"/claims/{mine}/{ma_lk}").status_code == 200
        assert owner.get(f"/claims/{mine}/{ma_lk}/fhir").status_code == 200
    with server.client(f"clinic:{other}") as stranger:
        seen = _routes(sub_id, mine, ma_lk)
        missing = _routes("0123456789abcdef", mine, "NO-SUCH-CLAIM")
        for (method, url, kw), (_, absent, akw) in zip(seen, missing, strict=True):
            got = stranger.request(method, url, **kw)
            none = stranger.request(method, absent, **akw)
            assert got.status_code == 404, (url, got.text)
            assert none.status_code == 404, (absent, none.text)
            assert got.json() == none.json()
            assert got.headers["content-type"] == "application/problem+json"
        listed = stranger.get("/submissions").json()["submissions"]
        assert sub_id not in {s["id"] for s in listed}
        wrong = stranger.post(
            "/submissions", content=server.files[mine].read_bytes(), headers=XML
        )
        assert wrong.status_code == 403
        assert wrong.json()["code"] == "FACILITY_MISMATCH"


@pytest.mark.parametrize(
    ("who", "method", "url"),
    [
        ("clinic", "GET", "/review/queue"),
        ("clinic", "POST", "/review/X/Y/decision"),
        ("clinic", "GET", "/settlements"),
        ("clinic", "GET", "/events"),
        ("assessor", "POST", "/submissions"),
        ("assessor", "GET", "/settlements"),
        ("finance", "GET", "/review/queue"),
        ("finance", "POST", "/claims/X/Y/contest"),
    ],
)
def test_a_route_of_another_role_is_forbidden(
    server: Server, who: str, method: str, url: str
) -> None:
    key = who if who != "clinic" else f"clinic:{sorted(server.files)[0]}"
    with server.client(key) as http:
        got = http.request(method, url, json={"reason": "xyz", "justification": "xyz"})
    assert got.status_code == 403, got.text
    assert got.json()["code"] == "FORBIDDEN"
    assert got.headers["content-type"] == "application/problem+json"


def test_no_key_a_bad_key_and_a_revoked_key_are_unauthenticated(
    server: Server,
) -> None:
    facility = sorted(server.files)[0]
    routes = [r.path for r in _app_routes(server) if "{" not in r.path]
    with httpx.Client(base_url=server.url) as anonymous:
        for path in routes:
            got = anonymous.get(path)
            assert got.status_code in (401, 405), (path, got.status_code)
            if got.status_code == 401:
                assert got.json()["code"] == "UNAUTHENTICATED"
                assert got.headers["www-authenticate"] == "Bearer"
        bad = anonymous.get("/submissions", headers={"Authorization": "Bearer gd_x"})
        assert bad.status_code == 401
    with server.client(f"clinic:{facility}") as http:
        assert http.get("/submissions").status_code == 200
        with open_store(server.settings.store_path) as con:
            user_id = _user_id_of(con, facility)
            revoke_user(con, user_id, actor="test", at=AT)
        assert http.get("/submissions").status_code == 401


def test_a_key_over_its_rate_is_told_when_to_come_back(make_server) -> None:
    server = make_server(api_rate_per_minute=5)
    with server.client("finance") as http:
        answers = [http.get("/settlements") for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert answers[-1].json()["code"] == "RATE_LIMITED"
    assert 1 <= int(answers[-1].headers["retry-after"]) <= 60


def test_the_schema_and_the_docs_are_served(server: Server) -> None:
    with httpx.Client(base_url=server.url) as http:
        schema = http.get("/openapi.json").json()
        assert "/submissions" in schema["paths"]
        assert "/review/queue" in schema["paths"]
        docs = http.get("/docs")
        assert docs.status_code == 200
        assert not re.search(r"https?://(cdn|unpkg|fastly)", docs.text)


def _app_routes(server: Server) -> list:
    schema = httpx.get(f"{server.url}/openapi.json").json()

    class Route:
        def __init__(self, path: str) -> None:
            self.path = path

    return [
        Route(p)
        for p, ops in schema["paths"].items()
        if "get" in ops and p not in ("/health",)
    ]


def _user_id_of(con, facility: str) -> str:
    rows = con.execute(
        "SELECT user_id FROM users WHERE facility = ? AND revoked_at IS NULL",
        [facility],
    ).fetchall()
    return str(rows[0][0])
