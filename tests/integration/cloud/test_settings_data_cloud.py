"""Settings → Data in cloud mode: signed-in only, 410 once the account is erased, and the
restore form works on the user's own encrypted database."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from peregrine.storage.erasure import erase_user
from tests.integration.cloud.conftest import ALICE, BOB, Minter, cookie


def _add_job(client: TestClient, headers: dict[str, str], n: int) -> None:
    response = client.post(
        "/api/v1/jobs",
        json={"url": f"https://jobs.test/{n}", "title": f"Role {n}", "company": "Acme"},
        headers=headers,
    )
    assert response.status_code in (200, 201), response.text


def _titles(client: TestClient, headers: dict[str, str]) -> list[str]:
    body = client.get("/api/v1/jobs", headers=headers).json()
    items = body["items"] if isinstance(body, dict) else body
    return sorted(item["title"] for item in items)


def test_settings_pages_need_a_session(cloud_client: TestClient) -> None:
    for path in ("/settings", "/settings/data"):
        response = cloud_client.get(path)
        assert response.status_code == 401
        assert "Download a backup" not in response.text


def test_an_erased_accounts_session_gets_the_deleted_answer_on_settings_pages(
    cloud_client: TestClient, mint: Minter, data_root: Path
) -> None:
    alice = cookie(mint(ALICE))
    assert cloud_client.get("/settings/data", headers=alice).status_code == 200
    _add_job(cloud_client, alice, 1)
    erase_user(data_root, ALICE, close_handles=cloud_client.app.state.tenancy.close_user)  # type: ignore[attr-defined]
    for path in ("/settings", "/settings/data"):
        response = cloud_client.get(path, headers=alice)
        assert response.status_code == 410
        assert "This account was deleted" in response.text
    assert not (data_root / ALICE).exists()


def test_alice_restores_her_backup_through_the_form_and_bob_is_untouched(
    cloud_client: TestClient, mint: Minter
) -> None:
    alice, bob = cookie(mint(ALICE)), cookie(mint(BOB))
    _add_job(cloud_client, alice, 1)
    _add_job(cloud_client, bob, 7)
    archive = cloud_client.get("/api/v1/backup", headers=alice).content
    _add_job(cloud_client, alice, 2)
    page = cloud_client.get("/settings/data", headers=alice)
    action = re.search(r'action="([^"]*/settings/data/restore)"', page.text)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert action is not None
    assert token is not None
    done = cloud_client.post(
        action.group(1),
        data={"csrf_token": token.group(1)},
        files={"file": ("b.zip", archive, "application/zip")},
        headers=alice,
    )
    assert "Restored 1 job from" in done.text
    assert _titles(cloud_client, alice) == ["Role 1"]
    assert _titles(cloud_client, bob) == ["Role 7"]
