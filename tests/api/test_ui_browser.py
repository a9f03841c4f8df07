"""The web UI in a real headless Chromium (Debian's ``/usr/bin/chromium``, driven by
Playwright) against a real uvicorn on 127.0.0.1: a clinic uploads a file and sees its
receipt; an assessor decides a claim from the queue and a second assessor approves it
(four-eyes: every cut needs approval here); the decision is in the audit trail; finance
settles the month and the claim is paid the decided amount."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from api.ui.render import dong
from claims.config import Settings
from tests.api.conftest import Server, add_keys, run_server

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
TIMEOUT_MS = 120_000
CONSOLE_ERRORS: list[str] = []
"""What the pages wrote to the console as errors (a script refused by the page's
Content-Security-Policy, a failed htmx request): none expected."""


@pytest.fixture
def four_eyes_server(tmp_path: Path, api_files: dict[str, Path]) -> Iterator[Server]:
    """A real server where every cut waits for a second assessor."""
    settings = Settings(
        data_dir=tmp_path / "data", lock_wait=30, review_four_eyes_amount=Decimal(0)
    )
    keys = add_keys(settings, sorted(api_files))
    for url in run_server(settings):
        yield Server(url, settings, api_files, keys)


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def log_in(browser: Browser, server: Server, who: str) -> Page:
    page = browser.new_context(base_url=server.url).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.on(
        "console",
        lambda m: CONSOLE_ERRORS.append(m.text) if m.type == "error" else None,
    )
    page.on(
        "response",
        lambda r: (
            CONSOLE_ERRORS.append(f"{r.status} {r.url}") if r.status >= 400 else None
        ),
    )
    page.goto("/ui/login")
    page.fill("#key", server.keys[who])
    page.click("button[type=submit]")
    expect(page.locator("header .who")).to_be_visible()
    return page


def test_clinic_assessors_and_finance_in_a_browser(
    four_eyes_server: Server, browser: Browser
) -> None:
    server = four_eyes_server
    facilities = sorted(server.files)
    uploaded = facilities[0]
    for facility in facilities[1:]:  # the other clinics send theirs over the API
        with server.client(f"clinic:{facility}") as http:
            sent = http.post(
                "/submissions",
                content=server.files[facility].read_bytes(),
                headers={"Content-Type": "application/xml"},
            )
            assert sent.status_code == 202, sent.text
            server.wait_assessed(f"clinic:{facility}", sent.json()["id"])

    clinic = log_in(browser, server, f"clinic:{uploaded}")
    assert clinic.url.endswith("/ui/clinic")
    assert clinic.evaluate("typeof htmx") == "object"  # served from the package
    clinic.set_input_files("#file", str(server.files[uploaded]))
    clinic.click("#upload button[type=submit]")
    expect(clinic.locator("#submission-status")).to_have_text(
        "Đã giám định", timeout=TIMEOUT_MS
    )  # htmx polls the status until the receipt is there
    hoso = server.files[uploaded].read_bytes().count(b"<HOSO>")
    expect(clinic.locator("#receipt tbody tr")).to_have_count(hoso)
    clinic.goto("/ui/clinic")
    expect(clinic.locator("#submissions tbody tr")).to_have_count(1)

    assessor = log_in(browser, server, "assessor")
    assert assessor.url.endswith("/ui/queue")
    first = assessor.locator("#queue a.claim-link").first
    claim_url = first.get_attribute("href")
    assert claim_url is not None
    _, _, _, facility, ma_lk = claim_url.split("/")
    first.click()
    expect(assessor.locator("#outcome")).to_contain_text("Chờ giám định")
    accepted = assessor.locator("#accepted-bhtt").inner_text()
    line, cut = _paid_line(assessor)
    line.locator("select").select_option("reject")
    assessor.click("#decide")  # no justification: the browser will not send it
    assessor.fill("#justification", "Thuốc không có chỉ định trong bệnh án")
    assessor.click("#decide")
    expect(assessor.locator("#saved")).to_be_visible()
    expect(assessor.locator("#reviews")).to_contain_text("Chờ phê duyệt")

    second = log_in(browser, server, "assessor2")
    second.goto(claim_url)
    second.click(".approval button[value=approve]")
    expect(second.locator("#reviews")).to_contain_text("Đã phê duyệt")
    expect(second.locator("#outcome")).to_contain_text("theo giám định viên")
    decided = second.locator("#accepted-bhtt").inner_text()
    expected = _amount(accepted) - _amount(cut)
    assert expected < _amount(accepted)
    assert _amount(decided) == expected

    assessor.goto(f"/ui/events?subject=claim:{facility}/{ma_lk}")
    trail = assessor.locator("#events")
    expect(trail).to_contain_text("review.decided")
    expect(trail).to_contain_text("review.approved")
    expect(trail).to_contain_text("assessor2")

    finance = log_in(browser, server, "finance")
    assert finance.url.endswith("/ui/settlements")
    finance.fill("input[name=period]", _period_of(second))
    finance.click("#start-settlement button[type=submit]")
    expect(finance.locator("#totals")).to_be_visible()
    finance.fill("input[name=ma_lk]", ma_lk)
    finance.click("form.filters button[type=submit]")
    expect(finance.locator("#claim-accepted")).to_have_text(dong(expected))
    with finance.expect_download() as download:
        finance.locator("#files a", has_text="facilities.csv").click()
    assert download.value.suggested_filename.endswith("facilities.csv")
    assert CONSOLE_ERRORS == []


def _paid_line(page: Page) -> tuple[Locator, str]:
    """The first line of the claim page with T_BHTT in force above 0, and it."""
    rows = page.locator("#lines tbody tr")
    for i in range(rows.count()):
        shown = rows.nth(i).locator("td").nth(7).inner_text().strip()
        if shown and _amount(shown) > 0:
            return rows.nth(i), shown
    msg = "the claim has no line paid above 0"
    raise AssertionError(msg)


def _period_of(claim_page: Page) -> str:
    text = claim_page.locator("#decision").inner_text()
    found = re.search(r"\d{4}-\d{2}", text)
    assert found is not None, text
    return found.group(0)


def _amount(shown: str) -> Decimal:
    """A ``dong``-formatted amount back as a Decimal."""
    return Decimal(shown.replace(".", "").replace(",", "."))
