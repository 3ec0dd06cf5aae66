"""Cached review cards and API rows never cross tenants: alice and bob both have a job 1."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.integration.cloud.conftest import ALICE, BOB, Minter, cookie


def test_each_tenant_sees_only_its_own_job_1(cloud_client: TestClient, mint: Minter) -> None:
    alice, bob = cookie(mint(ALICE)), cookie(mint(BOB))
    for who, title in ((alice, "Alice's secret role"), (bob, "Bob's quiet role")):
        created = cloud_client.post(
            "/api/v1/jobs", json={"url": "https://jobs.example.org/1", "title": title}, headers=who
        )
        assert created.status_code == 201
        assert created.json()["id"] == 1
    for _ in range(2):  # the second round is served from the caches
        alice_page = cloud_client.get("/review", headers=alice).text
        bob_page = cloud_client.get("/review", headers=bob).text
        assert "Alice&#39;s secret role" in alice_page
        assert "Alice" not in bob_page
        assert "Bob&#39;s quiet role" not in alice_page
        alice_api = cloud_client.get("/api/v1/jobs", headers=alice).json()["items"]
        bob_api = cloud_client.get("/api/v1/jobs", headers=bob).json()["items"]
        assert [j["title"] for j in alice_api] == ["Alice's secret role"]
        assert [j["title"] for j in bob_api] == ["Bob's quiet role"]


def test_the_read_paths_still_ask_for_a_session(cloud_client: TestClient) -> None:
    assert cloud_client.get("/api/v1/jobs").status_code == 401
    page = cloud_client.get("/review")
    assert page.status_code == 401
    assert "Sign in" in page.text
