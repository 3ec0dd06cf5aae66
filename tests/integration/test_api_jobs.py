"""The JSON API for jobs, through the real app in-process."""

from __future__ import annotations

from fastapi.testclient import TestClient


def add(client: TestClient, n: int, **extra: str) -> int:
    response = client.post(
        "/api/v1/jobs", json={"url": f"https://jobs.example/{n}", "title": f"Job {n}", **extra}
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_health(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_add_list_move_and_undo(client: TestClient) -> None:
    job_id = add(client, 1, company="Acme")
    add(client, 2, work_mode="remote")
    page = client.get("/api/v1/jobs", params={"limit": 1}).json()
    assert (page["total"], len(page["items"])) == (2, 1)
    assert client.get("/api/v1/jobs", params={"remote": "true"}).json()["total"] == 1
    moved = client.post(f"/api/v1/jobs/{job_id}/move", json={"status": "approved"})
    assert moved.json() == {"job_id": job_id, "from_status": "pending", "to_status": "approved"}
    detail = client.get(f"/api/v1/jobs/{job_id}").json()
    assert detail["allowed_moves"] == ["applied", "dismissed"]
    assert detail["events"][0]["to_status"] == "approved"
    assert client.post("/api/v1/jobs/undo").json()["to_status"] == "pending"
    assert client.post("/api/v1/jobs/undo").status_code == 409


def test_errors_are_json_messages(client: TestClient) -> None:
    job_id = add(client, 1)
    refused = client.post(f"/api/v1/jobs/{job_id}/move", json={"status": "hired"})
    assert refused.status_code == 409
    assert "cannot move a job from 'pending' to 'hired'" in refused.json()["error"]
    assert client.get("/api/v1/jobs/999").status_code == 404
    bad = client.post("/api/v1/jobs", json={"url": "javascript:alert(1)", "title": "x"})
    assert bad.status_code == 422
    assert "only http and https" in bad.json()["error"]
    invalid = client.get("/api/v1/jobs", params={"sort": "random", "limit": 0})
    assert invalid.status_code == 422
    assert "sort" in invalid.json()["error"]
    malformed = client.post(
        "/api/v1/jobs", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 422
    assert "Traceback" not in malformed.text


def test_bulk_move_refuses_all_when_one_is_refused(client: TestClient) -> None:
    a, b = add(client, 1), add(client, 2)
    client.post(f"/api/v1/jobs/{b}/move", json={"status": "dismissed"})
    response = client.post("/api/v1/jobs/move", json={"job_ids": [a, b], "status": "approved"})
    assert response.status_code == 409
    assert client.get(f"/api/v1/jobs/{a}").json()["status"] == "pending"


def test_openapi_is_served(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    assert "/api/v1/jobs" in spec["paths"]


def test_the_job_list_shows_an_edit_and_a_move_at_once(client: TestClient) -> None:
    created = client.post("/api/v1/jobs", json={"url": "https://x.example.org/9", "title": "Old"})
    job_id = created.json()["id"]
    assert client.get("/api/v1/jobs").json()["items"][0]["title"] == "Old"
    assert client.patch(f"/api/v1/jobs/{job_id}", json={"title": "New"}).status_code == 200
    [item] = client.get("/api/v1/jobs").json()["items"]
    assert item["title"] == "New"
    client.post(f"/api/v1/jobs/{job_id}/move", json={"status": "approved"})
    page = client.get("/api/v1/jobs").json()
    assert page == {
        "items": [page["items"][0]],
        "total": 1,
        "limit": 50,
        "offset": 0,
    }
    assert page["items"][0]["status"] == "approved"
