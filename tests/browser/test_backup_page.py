"""Settings → Data in Chromium: restore a downloaded backup through the form, then undo it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.browser.conftest import LiveServer, screenshot

pytestmark = pytest.mark.browser


def _titles(server: LiveServer) -> list[str]:
    body = httpx.get(f"{server.url}/api/v1/jobs", timeout=10).json()
    items = body["items"] if isinstance(body, dict) else body
    return sorted(item["title"] for item in items)


def _add_job(server: LiveServer, n: int) -> None:
    body = {"url": f"https://jobs.example.org/{n}", "title": f"Engineer {n}"}
    response = httpx.post(f"{server.url}/api/v1/jobs", json=body, timeout=10)
    assert response.status_code == 201, response.text


def test_a_backup_restores_through_the_settings_form_and_undoes(
    live_server: LiveServer,
    page,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    _add_job(live_server, 1)
    archive = tmp_path / "peregrine-backup.zip"
    archive.write_bytes(httpx.get(f"{live_server.url}/api/v1/backup", timeout=60).content)
    _add_job(live_server, 2)

    page.goto(f"{live_server.url}/settings/data")
    page.set_input_files("#f-backup", str(archive))
    page.click("button:has-text('Restore this backup')")
    page.wait_for_selector(".flash-success")
    assert "Restored 1 job from" in page.inner_text(".flashes")
    screenshot(page, "settings-data-restored")
    assert _titles(live_server) == ["Engineer 1"]

    page.click("button:has-text('Undo the last restore')")
    page.wait_for_selector("text=from before the last restore is back")
    assert _titles(live_server) == ["Engineer 1", "Engineer 2"]
