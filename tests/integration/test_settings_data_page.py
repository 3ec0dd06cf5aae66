"""Settings → Data: download a backup, restore one through the page form, undo it."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def _add_job(client: TestClient, n: int) -> None:
    response = client.post(
        "/api/v1/jobs",
        json={"url": f"https://jobs.test/{n}", "title": f"Role {n}", "company": "Acme"},
    )
    assert response.status_code in (200, 201), response.text


def _titles(client: TestClient) -> list[str]:
    body = client.get("/api/v1/jobs").json()
    items = body["items"] if isinstance(body, dict) else body
    return sorted(item["title"] for item in items)


def _forms(client: TestClient) -> tuple[str, str]:
    page = client.get("/settings/data")
    assert page.status_code == 200
    restore = re.search(r'action="([^"]*/settings/data/restore\?csrf_token=[^"]+)"', page.text)
    rollback_token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert restore is not None
    assert rollback_token is not None
    return restore.group(1).replace("&amp;", "&"), rollback_token.group(1)


def test_the_page_offers_the_download_and_the_restore_form(client: TestClient) -> None:
    page = client.get("/settings/data")
    assert 'href="/api/v1/backup"' in page.text
    assert 'enctype="multipart/form-data"' in page.text
    assert "<title>Data · Settings" in page.text
    # The delete form belongs to cloud mode only, and never inside <title>.
    assert "Delete my account" not in page.text


def test_a_backup_restored_through_the_form_can_be_undone(client: TestClient) -> None:
    _add_job(client, 1)
    archive = client.get("/api/v1/backup").content
    _add_job(client, 2)
    action, token = _forms(client)

    restored = client.post(action, files={"file": ("b.zip", archive, "application/zip")})
    assert restored.status_code == 200  # after the redirect to the page
    assert restored.url.path == "/settings/data"
    assert "Restored 1 job from the backup" in restored.text
    assert _titles(client) == ["Role 1"]

    undone = client.post("/settings/data/rollback", data={"csrf_token": token})
    assert "from before the last restore is back" in undone.text
    assert _titles(client) == ["Role 1", "Role 2"]


def test_a_refused_backup_is_explained_on_the_page_and_changes_nothing(
    client: TestClient,
) -> None:
    _add_job(client, 1)
    action, _ = _forms(client)
    response = client.post(action, files={"file": ("b.zip", b"not a zip", "application/zip")})
    assert "The backup was not restored: this file is not a zip archive" in response.text
    assert _titles(client) == ["Role 1"]


def test_the_restore_form_needs_the_csrf_token_in_its_url(client: TestClient) -> None:
    _add_job(client, 1)
    archive = client.get("/api/v1/backup").content
    _add_job(client, 2)
    _forms(client)  # sets the CSRF cookie
    for url in (
        "/settings/data/restore",
        "/settings/data/restore?csrf_token=forged-token-123456789",
    ):
        response = client.post(url, files={"file": ("b.zip", archive, "application/zip")})
        assert response.status_code == 403
        assert "did not come from Peregrine" in response.text
    assert _titles(client) == ["Role 1", "Role 2"]
