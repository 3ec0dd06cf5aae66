"""JSON API for settings, résumé, dashboard and CSV import."""

from __future__ import annotations

from fastapi.testclient import TestClient

from peregrine.services import pipeline
from tests.integration.web_helpers import add_jobs, user_db

SAME_ORIGIN = {"Origin": "http://127.0.0.1:8502"}


def test_profile_round_trips_and_bad_input_writes_nothing(client: TestClient) -> None:
    body = {"full_name": "Alice", "email": "alice@example.org", "links": ["https://a.example"]}
    assert client.put("/api/v1/profile", json=body, headers=SAME_ORIGIN).status_code == 200
    assert client.get("/api/v1/profile").json()["links"] == ["https://a.example"]
    bad = client.put(
        "/api/v1/profile", json={**body, "full_name": "Mallory", "links": ["javascript:x"]}
    )
    assert bad.status_code == 422
    assert "https://" in bad.json()["error"]
    assert client.get("/api/v1/profile").json()["full_name"] == "Alice"


def test_resume_parse_does_not_save_and_save_makes_a_version(client: TestClient) -> None:
    text = b"Alice\nalice@example.org\n\nSkills\nPython, SQL\n"
    parsed = client.post("/api/v1/resume/parse", files={"file": ("cv.txt", text)})
    assert parsed.status_code == 200
    assert parsed.json()["structured"]["skills"] == ["Python", "SQL"]
    assert client.get("/api/v1/resume").status_code == 404
    saved = client.post("/api/v1/resume", json={**parsed.json()["structured"], "raw_text": ""})
    assert saved.status_code == 201
    assert saved.json()["version"] == 1
    assert client.get("/api/v1/resume").json()["structured"]["email"] == "alice@example.org"


def test_resume_parse_explains_an_unreadable_file(client: TestClient) -> None:
    response = client.post("/api/v1/resume/parse", files={"file": ("cv.pdf", b"%PDF-1.4 junk")})
    assert response.status_code == 422
    assert "PDF" in response.json()["error"]


def test_search_profiles_crud(client: TestClient) -> None:
    body = {"titles": ["Engineer"], "remote_preference": "remote"}
    assert client.put("/api/v1/search-profiles/Remote", json=body).status_code == 200
    items = client.get("/api/v1/search-profiles").json()["items"]
    assert [(i["name"], i["remote_preference"]) for i in items] == [("Remote", "remote")]
    assert client.put("/api/v1/search-profiles/X", json={"titles": []}).status_code == 422
    assert client.delete("/api/v1/search-profiles/Remote").status_code == 204
    assert client.delete("/api/v1/search-profiles/Remote").status_code == 404


def test_keywords_and_blocklist(client: TestClient) -> None:
    response = client.put("/api/v1/keywords", json={"skill": ["Python", "SQL"]})
    assert response.json()["skill"] == ["Python", "SQL"]
    response = client.put("/api/v1/blocklist", json={"company": ["Evil Corp"]})
    assert client.get("/api/v1/blocklist").json()["company"] == ["Evil Corp"]
    assert client.put("/api/v1/keywords", json={"skill": [""]}).status_code == 422
    assert client.get("/api/v1/keywords").json()["skill"] == ["Python", "SQL"]


def test_llm_backends_are_validated(client: TestClient) -> None:
    good = {"items": [{"name": "local", "kind": "ollama", "model": "llama3"}]}
    assert client.put("/api/v1/settings/llm-backends", json=good).status_code == 200
    twice = {"items": good["items"] * 2}
    assert client.put("/api/v1/settings/llm-backends", json=twice).status_code == 422
    bad_url = {"items": [{**good["items"][0], "base_url": "file:///etc/passwd"}]}
    assert client.put("/api/v1/settings/llm-backends", json=bad_url).status_code == 422
    assert len(client.get("/api/v1/settings/llm-backends").json()["items"]) == 1


def test_dashboard_reports_the_funnel(client: TestClient) -> None:
    db = user_db(client)
    ids = add_jobs(db, 2, source="board")
    for job_id in ids:
        pipeline.move(db, job_id=job_id, to_status="approved")
        pipeline.move(db, job_id=job_id, to_status="applied")
    pipeline.move(db, job_id=ids[0], to_status="phone_screen")
    data = client.get("/api/v1/dashboard").json()
    assert [s["count"] for s in data["funnel"]] == [2, 1, 0, 0, 0]
    assert data["by_source"] == [
        {"source": "board", "applied": 2, "responded": 1, "rate": 0.5, "small_sample": True}
    ]
    assert data["median_days_to_response"] is not None


def test_csv_import_is_all_or_nothing(client: TestClient) -> None:
    bad = b"title,url\nA,https://e.org/1\nB,nope\n"
    response = client.post("/api/v1/jobs/import", files={"file": ("a.csv", bad)})
    assert response.status_code == 422
    assert response.json()["problems"][0].startswith("line 3")
    assert client.get("/api/v1/jobs").json()["total"] == 0
    good = b"title,url\nA,https://e.org/1\nB,https://e.org/2\n"
    response = client.post("/api/v1/jobs/import", files={"file": ("a.csv", good)})
    assert response.json() == {"inserted": 2, "merged": 0, "skipped": 0}
