"""The web pages in Debian's Chromium: keyboard review with undo, résumé upload, XSS,
a 375 px phone layout, no CSP violations, and a screenshot of every page."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.browser.conftest import LiveServer, screenshot

pytestmark = pytest.mark.browser

PAGES = {
    "home": "/",
    "review": "/review",
    "settings-profile": "/settings/profile",
    "settings-resume": "/settings/resume",
    "settings-search": "/settings/search",
    "settings-keywords": "/settings/keywords",
    "settings-llm": "/settings/llm",
    "settings-data": "/settings/data",
    "settings-privacy": "/settings/privacy",
    "api-reference": "/api/docs",
}
XSS = (
    "<p>Great job<script>window.pwned = 1; alert(1)</script></p>"
    '<img src="x" onerror="window.pwned = 2; alert(2)">'
    '<a href="javascript:window.pwned = 3; alert(3)" id="evil">click me</a>'
    '<svg onload="window.pwned = 4"></svg>'
)


def add_job(server: LiveServer, n: int, **extra: Any) -> int:
    body = {"url": f"https://jobs.example.org/{n}", "title": f"Engineer {n}", **extra}
    response = httpx.post(f"{server.url}/api/v1/jobs", json=body, timeout=10)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def status_of(server: LiveServer, job_id: int) -> str:
    return str(httpx.get(f"{server.url}/api/v1/jobs/{job_id}", timeout=10).json()["status"])


def watch_csp(page) -> list[str]:  # type: ignore[no-untyped-def]
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    return violations


def test_review_a_job_with_the_keyboard_and_undo_it(live_server: LiveServer, page) -> None:  # type: ignore[no-untyped-def]
    first, second = add_job(live_server, 1), add_job(live_server, 2)
    violations = watch_csp(page)
    page.goto(f"{live_server.url}/review?sort=newest")
    page.wait_for_selector(".job-card.current")
    assert page.locator(".job-card.current").get_attribute("data-job-id") == str(second)
    page.keyboard.press("j")
    assert page.locator(".job-card.current").get_attribute("data-job-id") == str(first)
    page.keyboard.press("a")
    page.wait_for_selector(".flash-success")
    assert "Approved 1 job" in page.inner_text(".flashes")
    assert status_of(live_server, first) == "approved"
    assert status_of(live_server, second) == "pending"
    page.keyboard.press("u")
    page.wait_for_selector("text=Undone")
    assert status_of(live_server, first) == "pending"
    page.keyboard.press("?")
    assert page.locator("#help-dialog").is_visible()
    screenshot(page, "review-help")
    assert violations == []


def test_upload_a_resume_correct_it_and_save(live_server: LiveServer, page, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cv = tmp_path / "alice.txt"
    cv.write_text(
        "Alice Example\nalice@example.org | Leeds, UK\n\nExperience\n"
        "Engineer at Acme Ltd  2019 - Present\n• Built the billing system\n\n"
        "Skills\nPython, SQL\n"
    )
    page.goto(f"{live_server.url}/settings/resume")
    page.set_input_files("#f-file", str(cv))
    page.click("text=Read résumé")
    page.wait_for_selector("text=Check what we read")
    assert page.input_value("#f-exp-0-employer") == "Acme Ltd"
    page.fill("#f-exp-0-title", "Senior Engineer")
    screenshot(page, "resume-parsed")
    page.click("text=Save as a new version")
    page.wait_for_selector(".flash-success")
    assert "version 1" in page.inner_text(".flashes")
    saved = httpx.get(f"{live_server.url}/api/v1/resume", timeout=10).json()
    assert saved["structured"]["experiences"][0]["title"] == "Senior Engineer"


def test_a_hostile_description_does_not_run(live_server: LiveServer, page) -> None:  # type: ignore[no-untyped-def]
    add_job(live_server, 1, description=XSS, title='<img src=x onerror="window.pwned=5">')
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{live_server.url}/review")
    page.wait_for_selector(".job-card")
    assert "Great job" in page.inner_text(".description")
    evil = page.locator(".description a")
    assert evil.get_attribute("href") is None
    evil.click()
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert dialogs == []


def test_pages_fit_a_375_pixel_phone(live_server: LiveServer, browser) -> None:  # type: ignore[no-untyped-def]
    add_job(live_server, 1, description="<p>" + "A long description. " * 40 + "</p>")
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    try:
        for name, path in PAGES.items():
            page.goto(f"{live_server.url}{path}")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375, f"{name} is {width}px wide"
            if name in {"home", "review"}:
                screenshot(page, f"{name}-375px")
    finally:
        context.close()


def test_every_page_renders_without_csp_violations(live_server: LiveServer, page) -> None:  # type: ignore[no-untyped-def]
    add_job(live_server, 1, description="<p>Build <b>things</b>.</p>", company="Acme")
    violations = watch_csp(page)
    for name, path in PAGES.items():
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").count() >= 1, name
        screenshot(page, name)
    assert violations == []
