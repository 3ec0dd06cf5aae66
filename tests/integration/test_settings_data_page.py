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
    restore = re.search(r'action="([^"]*/settings/data/restore)"', page.text)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert restore is not None
    assert token is not None
    # The token never goes in the URL, where proxies' access logs would keep it.
    assert "?csrf_token" not in page.text
    return restore.group(1), token.group(1)


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

    restored = client.post(
        action, data={"csrf_token": token}, files={"file": ("b.zip", archive, "application/zip")}
    )
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
    action, token = _forms(client)
    response = client.post(
        action,
        data={"csrf_token": token},
        files={"file": ("b.zip", b"not a zip", "application/zip")},
    )
    assert "The backup was not restored: this file is not a zip archive" in response.text
    assert _titles(client) == ["Role 1"]


def _multipart(parts: list[tuple[str, str | None, bytes]]) -> tuple[bytes, dict[str, str]]:
    """A multipart body with its parts in exactly this order (name, filename, content)."""
    boundary = "peregrine-test-boundary"
    body = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        body += content + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return body, {"content-type": f"multipart/form-data; boundary={boundary}"}


def test_the_restore_form_needs_its_csrf_token_as_the_first_field(client: TestClient) -> None:
    _add_job(client, 1)
    archive = client.get("/api/v1/backup").content
    _add_job(client, 2)
    action, token = _forms(client)  # also sets the CSRF cookie
    refused = [
        # no token at all
        _multipart([("file", "b.zip", archive)]),
        # a forged one
        _multipart([("csrf_token", None, b"forged-token-123456789"), ("file", "b.zip", archive)]),
        # the right one, but after the archive: the server does not buffer the archive
        _multipart([("file", "b.zip", archive), ("csrf_token", None, token.encode())]),
        # the right value sent as a file part
        _multipart([("csrf_token", "t.txt", token.encode()), ("file", "b.zip", archive)]),
        # an oversized first field
        _multipart([("csrf_token", None, b"x" * 50_000), ("file", "b.zip", archive)]),
    ]
    for body, headers in refused:
        response = client.post(action, content=body, headers=headers)
        assert response.status_code == 403
        assert "did not come from Peregrine" in response.text
    # The token in the URL (the old form) is no longer accepted either.
    body, headers = _multipart([("file", "b.zip", archive)])
    response = client.post(f"{action}?csrf_token={token}", content=body, headers=headers)
    assert response.status_code == 403
    assert _titles(client) == ["Role 1", "Role 2"]

    body, headers = _multipart([("csrf_token", None, token.encode()), ("file", "b.zip", archive)])
    done = client.post(action, content=body, headers=headers)
    assert "Restored 1 job from the backup" in done.text
    assert _titles(client) == ["Role 1"]
