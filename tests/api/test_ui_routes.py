"""The web UI's rules over HTTP against a real uvicorn: logging in, CSRF tokens,
sessions that close and expire, who sees which page, patient identity masked for
finance, assets served from the package."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from api.ui.render import dong
from claims.config import Settings
from claims.pipeline.identity import authenticate
from claims.pipeline.pictures import write_report
from claims.pipeline.settlement import list_settlements
from claims.store.runs import open_store
from tests.api.conftest import Server, add_keys, run_server

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
PERIOD = "2026-10"
"""The month of the generated day's claims."""


@pytest.fixture(scope="module")
def assessed(
    tmp_path_factory: pytest.TempPathFactory, api_files: dict[str, Path]
) -> Iterator[Server]:
    """A server whose store holds every generated file, assessed."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("ui") / "data", lock_wait=30)
    keys = add_keys(settings, sorted(api_files))
    for url in run_server(settings):
        server = Server(url, settings, api_files, keys)
        for facility, path in sorted(api_files.items()):
            with server.client(f"clinic:{facility}") as http:
                sent = http.post(
                    "/submissions",
                    content=path.read_bytes(),
                    headers={"Content-Type": "application/xml"},
                )
                assert sent.status_code == 202, sent.text
                server.wait_assessed(f"clinic:{facility}", sent.json()["id"])
        # the pictures of `giamdinh anomalies report`, drawn while the server is idle
        write_report(settings, PERIOD, sorted(api_files)[0], formats=("svg",))
        yield server


def browser(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=60)


def log_in(server: Server, who: str) -> tuple[httpx.Client, str]:
    """A client logged in as ``who`` and its session's CSRF token."""
    http = browser(server)
    form = http.get("/ui/login")
    token = CSRF.search(form.text)
    assert token is not None
    done = http.post("/ui/login", data={"key": server.keys[who], "csrf": token[1]})
    assert done.status_code == 303, done.text
    page = http.get(done.headers["location"])
    assert page.status_code == 200, page.text
    csrf = CSRF.search(page.text)
    assert csrf is not None
    return http, csrf[1]


def test_login_needs_a_valid_key_and_its_forms_token(assessed: Server) -> None:
    with browser(assessed) as http:
        assert http.get("/ui/queue").headers["location"] == "/ui/login"
        token = CSRF.search(http.get("/ui/login").text)
        assert token is not None
        wrong = http.post("/ui/login", data={"key": "gd_nope", "csrf": token[1]})
        assert wrong.status_code == 401
        assert "Khóa API không đúng" in wrong.text
        assert "gd_session" not in wrong.cookies
    with browser(assessed) as other:  # a page of another site: no login cookie
        forged = other.post(
            "/ui/login", data={"key": assessed.keys["assessor"], "csrf": token[1]}
        )
        assert forged.status_code == 403
        assert "gd_session" not in other.cookies


def test_the_session_cookie_is_httponly_and_samesite_strict(assessed: Server) -> None:
    with browser(assessed) as http:
        token = CSRF.search(http.get("/ui/login").text)
        assert token is not None
        done = http.post(
            "/ui/login", data={"key": assessed.keys["finance"], "csrf": token[1]}
        )
        cookie = next(
            v
            for v in done.headers.get_list("set-cookie")
            if v.startswith("gd_session=")
        )
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
        assert "Path=/ui" in cookie


def test_a_post_without_the_sessions_csrf_token_is_refused(assessed: Server) -> None:
    http, csrf = log_in(assessed, "finance")
    with closing(http):
        for sent in ({"period": "2026-10"}, {"period": "2026-10", "csrf": "forged"}):
            refused = http.post("/ui/settlements", data=sent)
            assert refused.status_code == 403
            assert "CSRF" in refused.text
        assert list_settlements(assessed.settings) == []
        assert http.post("/ui/logout", data={}).status_code == 403
        assert http.get("/ui/settlements").status_code == 200  # still logged in
        other, other_csrf = log_in(assessed, "admin")  # another session's token
        with closing(other):
            assert other_csrf != csrf
            refused = http.post(
                "/ui/settlements", data={"period": "2026-10", "csrf": other_csrf}
            )
            assert refused.status_code == 403


def test_logging_out_closes_the_session(assessed: Server) -> None:
    http, csrf = log_in(assessed, "assessor")
    with closing(http):
        token = http.cookies["gd_session"]
        out = http.post("/ui/logout", data={"csrf": csrf})
        assert out.status_code == 303
        assert out.headers["location"] == "/ui/login?thoat=1"
        assert "gd_session" not in http.cookies
        http.cookies.set("gd_session", token, path="/ui")  # the old cookie again
        again = http.get("/ui/queue")
        assert again.status_code == 303
        assert again.headers["location"] == "/ui/login?het_han=1"


def test_an_idle_session_expires(tmp_path: Path, api_files: dict[str, Path]) -> None:
    settings = Settings(data_dir=tmp_path / "data", api_session_minutes=0.02)
    keys = add_keys(settings, sorted(api_files)[:1])
    for url in run_server(settings):
        server = Server(url, settings, api_files, keys)
        http, _ = log_in(server, "finance")
        with closing(http):
            time.sleep(0.6)
            assert http.get("/ui/settlements").status_code == 200  # used: kept
            time.sleep(0.6)
            assert http.get("/ui/settlements").status_code == 200
            time.sleep(1.6)  # idle longer than 1.2 s
            gone = http.get("/ui/settlements")
            assert gone.status_code == 303
            assert gone.headers["location"] == "/ui/login?het_han=1"


def test_each_role_sees_its_pages_only(assessed: Server) -> None:
    facility, other = sorted(assessed.files)[:2]
    http, _ = log_in(assessed, f"clinic:{facility}")
    with closing(http):
        mine = http.get("/ui/clinic")
        assert mine.status_code == 200
        ids = re.findall(r"/ui/clinic/submissions/(\w+)", mine.text)
        assert len(ids) == 1
        for page in ("/ui/queue", "/ui/settlements", "/ui/events", "/ui/pictures"):
            refused = http.get(page)
            assert refused.status_code == 403, page
            assert refused.headers["content-type"].startswith("text/html"), page
            assert "Vai trò Cơ sở KCB không được dùng trang này" in refused.text
        unknown = http.get("/ui/no-such-page")
        assert unknown.status_code == 404
        assert "Không tìm thấy" in unknown.text
        assert unknown.headers["content-type"].startswith("text/html")
        api = http.get("/no-such-route")  # outside the UI: problem details
        assert api.status_code == 404
        assert api.headers["content-type"] == "application/problem+json"
        with assessed.client(f"clinic:{other}") as api:
            theirs = api.get("/submissions").json()["submissions"][0]["id"]
        missing = http.get("/ui/clinic/submissions/0000000000000000")
        hidden = http.get(f"/ui/clinic/submissions/{theirs}")
        assert hidden.status_code == missing.status_code == 404
    http, _ = log_in(assessed, "finance")
    with closing(http):
        assert http.get("/ui/queue").status_code == 403
        assert http.get("/ui/settlements").status_code == 200
        assert http.get("/ui/events").status_code == 200


def _a_claim(server: Server) -> tuple[str, str, dict]:
    """A stored claim of the first facility and its full detail (API, assessor)."""
    facility = sorted(server.files)[0]
    with server.client(f"clinic:{facility}") as api:
        sub = api.get("/submissions").json()["submissions"][0]["id"]
        receipt = api.get(f"/submissions/{sub}").json()["receipt"]
    ma_lk = next(c["ma_lk"] for c in receipt["claims"] if c["status"] != "rejected")
    with server.client("assessor") as api:
        detail = api.get(f"/claims/{facility}/{ma_lk}").json()
    return facility, ma_lk, detail


def test_patient_identity_is_masked_for_finance_only(assessed: Server) -> None:
    facility, ma_lk, detail = _a_claim(assessed)
    name = detail["patient"]["ho_ten"]
    card = detail["patient"]["ma_the_bhyt"]
    assert len(name) > 3
    assert len(card) > 5
    url = f"/ui/claims/{facility}/{ma_lk}"
    for who in ("assessor", f"clinic:{facility}"):
        http, _ = log_in(assessed, who)
        with closing(http):
            page = http.get(url)
            assert page.status_code == 200, who
            assert name in page.text, who
            assert card in page.text, who
    http, _ = log_in(assessed, "finance")
    with closing(http):
        page = http.get(url)
        assert page.status_code == 200
        assert name not in page.text
        assert card not in page.text
        assert f"{name[0]}***" in page.text
        assert card[:5] + "*" * (len(card) - 5) in page.text
    other = sorted(assessed.files)[1]
    http, _ = log_in(assessed, f"clinic:{other}")
    with closing(http):
        hidden = http.get(url)
        missing = http.get(f"/ui/claims/{facility}/NO-SUCH-CLAIM")
        assert hidden.status_code == missing.status_code == 404
        assert name not in hidden.text


def test_a_decision_without_justification_is_refused_and_nothing_changes(
    assessed: Server,
) -> None:
    http, csrf = log_in(assessed, "assessor")
    with closing(http):
        queue = http.get("/ui/queue")
        found = re.search(
            r'href="/ui/claims/(\w+)/(\w+)" class="claim-link"', queue.text
        )
        assert found is not None
        facility, ma_lk = found.groups()
        url = f"/ui/claims/{facility}/{ma_lk}"
        line = re.search(r'name="action_(XML[23])_(\d+)"', http.get(url).text)
        assert line is not None
        refused = http.post(
            f"{url}/decide",
            data={"csrf": csrf, f"action_{line[1]}_{line[2]}": "reject"},
        )
        assert refused.status_code == 422
        assert "Chưa ghi được quyết định" in refused.text
        assert "nhập căn cứ, lý do giám định" in refused.text
        key = f"{line[1]}_{line[2]}"
        no_amount = http.post(
            f"{url}/decide",
            data={"csrf": csrf, f"action_{key}": "reduce", "justification": "Giảm"},
        )
        assert no_amount.status_code == 422
        assert f"dòng {line[1]} STT {line[2]}" in no_amount.text
        assert "cần số tiền được trả" in no_amount.text
        with assessed.client("assessor") as api:
            assert api.get(f"/claims/{facility}/{ma_lk}").json()["reviews"] == []


def test_assets_and_swagger_ui_come_from_the_package(assessed: Server) -> None:
    with browser(assessed) as http:
        docs = http.get("/docs")
        assert docs.status_code == 200
        sources = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
        assert sources
        assert all(s.startswith("/static/") for s in sources), sources
        for path in (
            *sources,
            "/static/htmx/htmx.min.js",
            "/static/ui.css",
            "/static/htmx/LICENSE",
            "/static/swagger-ui/LICENSE",
        ):
            assert http.get(path).status_code == 200, path
        login = http.get("/ui/login").text
        assert "http://" not in login
        assert "https://" not in login


def test_the_facility_pictures_are_shown_and_served(assessed: Server) -> None:
    facility = sorted(assessed.files)[0]
    http, _ = log_in(assessed, "assessor")
    with closing(http):
        index = http.get("/ui/pictures")
        assert f'href="/ui/pictures/{PERIOD}/{facility}"' in index.text
        page = http.get(f"/ui/pictures/{PERIOD}/{facility}")
        assert page.status_code == 200
        images = re.findall(r'<img src="([^"]+\.svg)"', page.text)
        assert images
        for src in images:
            shown = http.get(src)
            assert shown.status_code == 200
            assert shown.headers["content-type"].startswith("image/svg+xml")
            assert shown.content.lstrip().startswith((b"<?xml", b"<svg"))
        assert (
            http.get(f"/ui/pictures/{PERIOD}/{facility}/index.html").status_code == 404
        )
        assert http.get(f"/ui/pictures/{PERIOD}/..%2F..%2Fx/a.svg").status_code == 404
        none = http.get(f"/ui/pictures/{PERIOD}/99999")
        assert "giamdinh anomalies report" in none.text


@pytest.mark.e2e
def test_revoking_a_key_ends_its_sessions(assessed: Server) -> None:
    http, _ = log_in(assessed, "assessor2")
    with closing(http):
        assert http.get("/ui/queue").status_code == 200
        with open_store(assessed.settings.store_path) as con:
            user = authenticate(con, assessed.keys["assessor2"])
        assert user is not None
        done = subprocess.run(
            [str(Path(sys.executable).parent / "giamdinh"), "users", "revoke",
             user.user_id, "--data-dir", str(assessed.settings.data_dir), "--as", "test"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        gone = http.get("/ui/queue")
        assert gone.status_code == 303
        assert gone.headers["location"] == "/ui/login?het_han=1"


def test_an_upload_needs_the_csrf_token_and_the_clinics_own_file(
    assessed: Server,
) -> None:
    facility, other = sorted(assessed.files)[:2]
    before = assessed.client(f"clinic:{facility}")
    with before:
        count = len(before.get("/submissions").json()["submissions"])
    theirs = assessed.files[other].read_bytes()
    http, csrf = log_in(assessed, f"clinic:{facility}")
    with closing(http):
        files = {"file": ("b.xml", theirs, "application/xml")}
        forged = http.post("/ui/clinic/upload", files=files, data={"csrf": "x"})
        assert forged.status_code == 403
        wrong = http.post("/ui/clinic/upload", files=files, data={"csrf": csrf})
        assert wrong.status_code == 403
        assert "MACSKCB khác với cơ sở" in wrong.text
        assert "text/html" in wrong.headers["content-type"]
        again = http.post(
            "/ui/clinic/upload",
            files={"file": ("a.xml", assessed.files[facility].read_bytes())},
            data={"csrf": csrf},
        )
        assert again.status_code == 303  # the same bytes: the first submission
        assert again.headers["location"].endswith("?gui_lai=1")
        shown = http.get(again.headers["location"])
        assert "đã được gửi trước đó" in shown.text
    with assessed.client(f"clinic:{facility}") as api:
        assert len(api.get("/submissions").json()["submissions"]) == count


def test_a_settlement_of_a_period_with_no_claims_says_so(assessed: Server) -> None:
    http, csrf = log_in(assessed, "finance")
    with closing(http):
        refused = http.post("/ui/settlements", data={"csrf": csrf, "period": "2019-01"})
        assert refused.status_code == 422
        assert "Chưa quyết toán được" in refused.text
        assert "2019-01" in refused.text
    assert list_settlements(assessed.settings) == []


def test_an_assessor_takes_a_claim_and_another_cannot_until_it_is_released(
    assessed: Server,
) -> None:
    first, first_csrf = log_in(assessed, "assessor")
    second, second_csrf = log_in(assessed, "admin")
    with closing(first), closing(second):
        found = re.search(
            r'href="(/ui/claims/\w+/\w+)" class="claim-link"',
            first.get("/ui/queue").text,
        )
        assert found is not None
        url = found[1]
        taken = first.post(f"{url}/lock/take", data={"csrf": first_csrf})
        assert taken.status_code == 303
        assert "Đã nhận xử lý" in first.get(taken.headers["location"]).text
        refused = second.post(f"{url}/lock/take", data={"csrf": second_csrf})
        assert refused.status_code == 422
        assert "Nhận xử lý không được" in refused.text
        assert "đang được giám định viên" in refused.text
        forged = first.post(f"{url}/lock/release", data={"csrf": second_csrf})
        assert forged.status_code == 403
        released = first.post(f"{url}/lock/release", data={"csrf": first_csrf})
        assert released.status_code == 303
        again = second.post(f"{url}/lock/take", data={"csrf": second_csrf})
        assert again.status_code == 303
        second.post(f"{url}/lock/release", data={"csrf": second_csrf})
    with assessed.client("admin") as api:
        trail = api.get("/events", params={"action": "review.taken"})
        assert trail.status_code == 200, trail.text
        actors = [e["actor"] for e in trail.json()["events"]]
    with open_store(assessed.settings.store_path) as con:
        ids = [authenticate(con, assessed.keys[k]) for k in ("assessor", "admin")]
    assert actors[-2:] == [u.user_id for u in ids if u is not None]


def test_a_line_reduced_to_an_amount_written_the_vietnamese_way(
    assessed: Server,
) -> None:
    with assessed.client("assessor") as api:
        queued = api.get("/review/queue", params={"limit": 5000}).json()["claims"]
        last = queued[-1]  # the others' tests take the first
        facility, ma_lk = last["ma_cskcb"], last["ma_lk"]
        before = api.get(f"/claims/{facility}/{ma_lk}").json()
    line = next(
        item for item in before["lines"] if Decimal(item["accepted_bhtt"]) > 2000
    )
    paid = Decimal(line["accepted_bhtt"]) - Decimal("1000.50")
    http, csrf = log_in(assessed, "assessor")
    with closing(http):
        key = f"{line['table']}_{line['stt']}"
        done = http.post(
            f"/ui/claims/{facility}/{ma_lk}/decide",
            data={
                "csrf": csrf,
                f"action_{key}": "reduce",
                f"value_{key}": dong(paid),  # e.g. 16.591,23
                "justification": "Giảm theo giá trúng thầu",
            },
        )
        assert done.status_code == 303, done.text
        shown = http.get(done.headers["location"])
        assert "Đã ghi: review" in shown.text
    with assessed.client("assessor") as api:
        after = api.get(f"/claims/{facility}/{ma_lk}").json()
    reviewed = next(
        item
        for item in after["lines"]
        if (item["table"], item["stt"]) == (line["table"], line["stt"])
    )
    assert Decimal(reviewed["accepted_bhtt"]) == paid
    assert after["decision"]["source"] == "review"
    assert Decimal(after["decision"]["accepted"]["t_bhtt"]) == Decimal(
        before["decision"]["accepted"]["t_bhtt"]
    ) - Decimal("1000.50")


def test_a_clinic_contests_a_decision_and_the_claim_is_queued_again(
    assessed: Server,
) -> None:
    with assessed.client("assessor") as api:
        queued = api.get("/review/queue", params={"limit": 5000}).json()["claims"]
    facility, ma_lk = queued[-2]["ma_cskcb"], queued[-2]["ma_lk"]
    url = f"/ui/claims/{facility}/{ma_lk}"
    http, csrf = log_in(assessed, "assessor")
    with closing(http):
        line = re.search(r'name="action_(XML[23]_\d+)"', http.get(url).text)
        assert line is not None
        done = http.post(
            f"{url}/decide",
            data={"csrf": csrf, f"action_{line[1]}": "accept", "justification": "Đúng"},
        )
        assert done.status_code == 303, done.text
    clinic, clinic_csrf = log_in(assessed, f"clinic:{facility}")
    with closing(clinic):
        page = clinic.get(url).text
        assert 'id="contest"' in page
        assert 'id="decision-form"' not in page  # a clinic does not decide
        blank = clinic.post(f"{url}/contest", data={"csrf": clinic_csrf, "reason": " "})
        assert blank.status_code == 422
        sent = clinic.post(
            f"{url}/contest",
            data={"csrf": clinic_csrf, "reason": "Thuốc có chỉ định trong bệnh án"},
        )
        assert sent.status_code == 303, sent.text
        shown = clinic.get(sent.headers["location"]).text
        assert "Đã gửi khiếu nại" in shown
        assert "Thuốc có chỉ định trong bệnh án" in shown
    with assessed.client("assessor") as api:
        again = api.get("/review/queue", params={"limit": 5000}).json()["claims"]
        trail = api.get("/events", params={"action": "review.contested"}).json()
    assert ma_lk in [c["ma_lk"] for c in again]
    assert any(e["subject"] == f"claim:{facility}/{ma_lk}" for e in trail["events"])


def test_the_queue_filters_and_sorts(assessed: Server) -> None:
    facility = sorted(assessed.files)[0]
    http, _ = log_in(assessed, "assessor")
    with closing(http):
        every = http.get("/ui/queue").text
        total = int(re.search(r"(\d+) hồ sơ chờ", every)[1])  # type: ignore[index]
        assert total > 0
        money = [
            Decimal(m.replace(".", "").replace(",", "."))
            for m in re.findall(r'<td class="num">([\d.,]+)</td>\s*<td>', every)
        ]
        assert money == sorted(money, reverse=True)
        mine = http.get("/ui/queue", params={"facility": facility}).text
        shown = set(re.findall(r"/ui/claims/(\w+)/\w+", mine))
        assert shown <= {facility}
        by_due = http.get("/ui/queue", params={"sort": "due"}).text
        due = re.findall(r"<td>(\d{4}-\d{2}-\d{2})</td>", by_due)
        assert due == sorted(due)
        assert (
            http.get("/ui/queue", params={"period": "2019-01"}).text.count(
                'class="claim-link"'
            )
            == 0
        )
        bad = http.get("/ui/queue", params={"period": "10/2026"})
        assert "không đúng dạng" in bad.text


def test_an_unexpected_error_is_a_page_on_the_ui_and_problem_json_elsewhere(
    tmp_path: Path,
) -> None:
    from api.main import create_app

    app = create_app(Settings(data_dir=tmp_path / "data"))

    def broken() -> None:
        msg = "a fault of the server, not of the request"
        raise RuntimeError(msg)

    app.add_api_route("/ui/hong", broken)
    app.add_api_route("/hong", broken)
    for url in run_server(Settings(data_dir=tmp_path / "data"), app):
        # one connection each: uvicorn closes a connection whose request failed
        page = httpx.get(f"{url}/ui/hong", timeout=60)
        api = httpx.get(f"{url}/hong", timeout=60)
    assert page.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert "Lỗi hệ thống" in page.text
    assert "INTERNAL_ERROR" in page.text
    assert "RuntimeError" not in page.text  # the server's fault is logged, not shown
    assert api.status_code == 500
    assert api.headers["content-type"] == "application/problem+json"
    assert api.json()["code"] == "INTERNAL_ERROR"
