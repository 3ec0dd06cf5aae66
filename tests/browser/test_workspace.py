"""Apply, Pipeline and Prep in Chromium: drag and drop, keyboard moves, letter versions,
screenshots and a phone-sized layout."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.browser.conftest import LiveServer, screenshot

pytestmark = pytest.mark.browser


def _api(server: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=10)


def _job(api: httpx.Client, n: int, path: list[str], **extra: Any) -> int:
    response = api.post(
        "/api/v1/jobs",
        json={"url": f"https://jobs.example.org/{n}", "title": f"Engineer {n}", **extra},
    )
    job_id = int(response.json()["id"])
    for status in path:
        assert api.post(f"/api/v1/jobs/{job_id}/move", json={"status": status}).status_code == 200
    return job_id


def _status(api: httpx.Client, job_id: int) -> str:
    return str(api.get(f"/api/v1/jobs/{job_id}").json()["status"])


def _wait_for_status(api: httpx.Client, job_id: int, status: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _status(api, job_id) == status:
            return
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} is {_status(api, job_id)!r}, not {status!r}")


def test_a_card_dragged_to_another_column_moves_the_job(live_server: LiveServer, page) -> None:  # type: ignore[no-untyped-def]
    with _api(live_server) as api:
        job_id = _job(api, 1, ["approved", "applied"], company="Acme")
        page.goto(f"{live_server.url}/pipeline")
        page.drag_and_drop(f"#card-{job_id}", '[data-drop="phone_screen"]')
        _wait_for_status(api, job_id, "phone_screen")
        status = page.locator("[data-board-status]")
        status.filter(has_text="moved to Phone screen.").wait_for()
        card = page.locator(f'[data-drop="phone_screen"] #card-{job_id}')
        assert card.get_attribute("data-status") == "phone_screen"
        # The card's buttons now offer the moves allowed from its new stage.
        assert card.locator('button[data-move="interviewing"]').count() == 1
        # A second drag on the refreshed board works too.
        page.drag_and_drop(f"#card-{job_id}", '[data-drop="interviewing"]')
        _wait_for_status(api, job_id, "interviewing")
        status.filter(has_text="moved to Interviewing.").wait_for()


def test_an_illegal_drop_snaps_back_with_the_rule(live_server: LiveServer, page) -> None:  # type: ignore[no-untyped-def]
    with _api(live_server) as api:
        job_id = _job(api, 1, ["approved", "applied", "phone_screen"])
        page.goto(f"{live_server.url}/pipeline")
        page.drag_and_drop(f"#card-{job_id}", '[data-drop="hired"]')
        status = page.locator("[data-board-status]")
        status.filter(has_text="was not moved").wait_for()
        assert "cannot move a job from 'phone_screen' to 'hired'" in status.inner_text()
        assert page.locator(f'[data-drop="phone_screen"] #card-{job_id}').count() == 1
        assert page.locator(f'[data-drop="hired"] #card-{job_id}').count() == 0
        assert _status(api, job_id) == "phone_screen"
        screenshot(page, "pipeline-refused-drop")


def test_a_card_can_be_moved_with_the_keyboard(live_server: LiveServer, page) -> None:  # type: ignore[no-untyped-def]
    with _api(live_server) as api:
        job_id = _job(api, 1, ["approved", "applied"])
        page.goto(f"{live_server.url}/pipeline")
        summary = page.locator(f"#card-{job_id} .moves summary")
        summary.focus()
        page.keyboard.press("Enter")
        button = page.locator(f'#card-{job_id} button[data-move="interviewing"]')
        assert button.is_visible()
        button.focus()
        page.keyboard.press("Enter")
        page.wait_for_selector(f'[data-drop="interviewing"] #card-{job_id}')
        assert _status(api, job_id) == "interviewing"
        assert "Moved from applied to interviewing." in page.locator(".flashes").inner_text()
        # Rejecting at this stage records where it happened.
        page.locator(f"#card-{job_id} .moves summary").focus()
        page.keyboard.press("Enter")
        page.locator(f'#card-{job_id} button[data-move="rejected"]').focus()
        page.keyboard.press("Enter")
        page.wait_for_selector(f'[data-drop="rejected"] #card-{job_id}')
        assert api.get(f"/api/v1/jobs/{job_id}").json()["rejection_stage"] == "interviewing"


def test_letters_are_saved_and_an_old_version_restored(live_server: LiveServer, page) -> None:  # type: ignore[no-untyped-def]
    with _api(live_server) as api:
        job_id = _job(api, 1, ["approved"], description="<p>Build <b>things</b></p>")
        page.goto(f"{live_server.url}/apply/{job_id}")
        page.fill("#f-letter", "Dear Acme,\n\nFirst draft.")
        page.click("text=Save as a new version")
        page.wait_for_selector("text=Saved as version 1.")
        page.fill("#f-letter", "Dear Acme,\n\nSecond draft.")
        page.click("text=Save as a new version")
        page.wait_for_selector("text=Saved as version 2.")
        page.locator('[data-version="1"] summary').click()
        page.click('[data-restore="1"]')
        page.wait_for_selector("text=Restored version 1 as version 3.")
        assert page.input_value("#f-letter") == "Dear Acme,\n\nFirst draft."
        versions = api.get(f"/api/v1/jobs/{job_id}/letters").json()["items"]
        assert [(v["version"], v["body"]) for v in versions] == [
            (3, "Dear Acme,\n\nFirst draft."),
            (2, "Dear Acme,\n\nSecond draft."),
            (1, "Dear Acme,\n\nFirst draft."),
        ]
        screenshot(page, "apply")


def _seed_everything(api: httpx.Client) -> tuple[int, int]:
    applied = _job(api, 1, ["approved", "applied"], company="Acme", description="<p>Hi</p>")
    _job(api, 2, ["approved", "applied", "phone_screen"], company="Globex")
    _job(api, 3, ["approved", "applied", "withdrawn"], company="Initech")
    interviewing = _job(api, 4, ["approved", "applied", "interviewing"], company="Umbrella")
    api.put(
        f"/api/v1/jobs/{interviewing}/interview",
        json={"date": "2026-12-04", "time": "14:30", "tz": "Europe/Berlin"},
    )
    api.post(f"/api/v1/jobs/{interviewing}/contacts", json={"name": "Bob", "role": "Recruiter"})
    api.post(f"/api/v1/jobs/{interviewing}/messages", json={"subject": "Invite", "body": "Come"})
    api.put(
        f"/api/v1/jobs/{interviewing}/prep",
        json={"talking_points": "Impact", "practice_qa": [{"question": "Why?", "answer": "!"}]},
    )
    return applied, interviewing


def test_screenshots_of_each_page(live_server: LiveServer, page) -> None:  # type: ignore[no-untyped-def]
    with _api(live_server) as api:
        applied, interviewing = _seed_everything(api)
    for name, path in [
        ("pipeline", "/pipeline"),
        ("pipeline-job", f"/pipeline/{interviewing}"),
        ("apply-applied", f"/apply/{applied}"),
        ("prep", f"/prep/{interviewing}"),
    ]:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        assert screenshot(page, name).stat().st_size > 0


def test_the_pages_fit_a_375_px_phone(live_server: LiveServer, browser) -> None:  # type: ignore[no-untyped-def]
    with _api(live_server) as api:
        applied, interviewing = _seed_everything(api)
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()
    try:
        for name, path in [
            ("pipeline", "/pipeline"),
            ("pipeline-job", f"/pipeline/{interviewing}"),
            ("apply", f"/apply/{applied}"),
            ("prep", f"/prep/{interviewing}"),
        ]:
            page.goto(f"{live_server.url}{path}")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375, f"{path} is {width} px wide at a 375 px viewport"
            screenshot(page, f"{name}-375")
    finally:
        context.close()


def test_task_progress_updates_without_losing_what_is_typed(tmp_path, page) -> None:  # type: ignore[no-untyped-def]
    # An in-process uvicorn server, so the test can hand the app a task queue and finish
    # the task while the page is open.
    import threading

    import uvicorn

    from peregrine.app import create_app
    from peregrine.settings import Settings
    from tests.browser.conftest import free_port
    from tests.integration.workspace_helpers import RecordingQueue, add_job

    settings = Settings.from_env({"PEREGRINE_DATA_DIR": str(tmp_path / "data")})
    app = create_app(settings)
    queue = RecordingQueue()
    app.state.tasks = queue
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        job_id = add_job(app.state.tenancy.db, 1)
        queue.submit(app.state.tenancy.db, kind="cover_letter", job_id=job_id)
        page.goto(f"http://127.0.0.1:{port}/apply/{job_id}")
        assert "Cover letter: queued" in page.locator('[data-kind="cover_letter"]').inner_text()
        page.fill("#f-letter", "Half-written letter")
        queue.finish(1, status="failed", error="no LLM backend is configured")
        panel = page.locator('[data-task-state][data-status="failed"]')
        panel.wait_for(timeout=15_000)
        assert "no LLM backend is configured" in panel.inner_text()
        assert panel.locator("a", has_text="set up an LLM backend").count() == 1
        assert page.input_value("#f-letter") == "Half-written letter"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
