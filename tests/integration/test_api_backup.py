"""The backup API: streamed download, restore from an upload, rollback, 409 during a swap."""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from datetime import date

import pytest
from fastapi.testclient import TestClient

from peregrine.app import create_app
from peregrine.demo.seed import build_seed
from peregrine.settings import Settings
from peregrine.storage.backup import RestoreInProgressError


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


def test_the_backup_downloads_as_a_zip_and_restores(client: TestClient) -> None:
    _add_job(client, 1)
    _add_job(client, 2)
    response = client.get("/api/v1/backup")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert "attachment" in response.headers["content-disposition"]
    archive = response.content
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        assert json.loads(zf.read("manifest.json"))["row_counts"]["jobs"] == 2

    _add_job(client, 3)
    restored = client.post("/api/v1/backup", files={"file": ("b.zip", archive, "application/zip")})
    assert restored.status_code == 200, restored.text
    assert restored.json()["row_counts"]["jobs"] == 2
    assert _titles(client) == ["Role 1", "Role 2"]

    rolled = client.post("/api/v1/backup/rollback")
    assert rolled.status_code == 200
    assert _titles(client) == ["Role 1", "Role 2", "Role 3"]


def test_a_bad_upload_gets_a_clear_message_and_changes_nothing(client: TestClient) -> None:
    _add_job(client, 1)
    response = client.post(
        "/api/v1/backup", files={"file": ("notes.zip", b"not a zip at all", "application/zip")}
    )
    assert response.status_code == 422
    assert "not a zip archive" in response.json()["error"]
    assert _titles(client) == ["Role 1"]


def test_rollback_without_an_earlier_restore_is_refused(client: TestClient) -> None:
    response = client.post("/api/v1/backup/rollback")
    assert response.status_code == 422
    assert "no earlier database" in response.json()["error"]


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.test"}, {"Sec-Fetch-Site": "cross-site"}],
)
def test_a_cross_site_restore_is_refused(client: TestClient, headers: dict[str, str]) -> None:
    archive = client.get("/api/v1/backup").content
    response = client.post(
        "/api/v1/backup", files={"file": ("b.zip", archive, "application/zip")}, headers=headers
    )
    assert response.status_code == 403
    assert client.post("/api/v1/backup/rollback", headers=headers).status_code == 403


def test_requests_during_a_swap_get_409_and_the_swap_waits_for_requests_in_flight(
    client: TestClient,
) -> None:
    _add_job(client, 1)
    archive = client.get("/api/v1/backup").content
    tenancy = client.app.state.tenancy  # type: ignore[attr-defined]
    _add_job(client, 2)

    swapped = threading.Event()
    with tenancy.borrow():
        # A request is in flight: the restore must wait for it, and new requests get 409.
        worker = threading.Thread(
            target=lambda: (
                client.post(
                    "/api/v1/backup", files={"file": ("b.zip", archive, "application/zip")}
                ),
                swapped.set(),
            )
        )
        worker.start()
        deadline = time.monotonic() + 10
        while not tenancy.replacing and time.monotonic() < deadline:
            time.sleep(0.01)
        assert client.get("/api/v1/jobs").status_code == 409
        with pytest.raises(RestoreInProgressError):
            tenancy.borrow().__enter__()
        assert not swapped.is_set()
    worker.join(timeout=30)
    assert swapped.is_set()
    assert _titles(client) == ["Role 1"]


def test_the_demo_cannot_be_restored_over(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings.from_env(
        {"DEMO_MODE": "true", "PEREGRINE_DATA_DIR": str(tmp_path / "demo")}
    )
    build_seed(settings.staging_db, today=date(2026, 11, 1))
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8504") as demo:
        archive = demo.get("/api/v1/backup").content
        response = demo.post(
            "/api/v1/backup", files={"file": ("b.zip", archive, "application/zip")}
        )
        assert response.status_code == 403
        assert "demo" in response.json()["error"]
        assert demo.post("/api/v1/backup/rollback").status_code == 403
