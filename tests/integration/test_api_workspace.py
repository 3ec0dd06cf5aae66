"""The JSON API beside the Apply, Pipeline and Prep pages."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.integration.workspace_helpers import RecordingQueue, add_job, status_of, user_db


def test_letters_are_versioned_and_restorable(client: TestClient) -> None:
    job_id = add_job(user_db(client))
    first = client.post(f"/api/v1/jobs/{job_id}/letters", json={"body": "One"})
    assert first.status_code == 201
    assert (first.json()["version"], first.json()["origin"]) == (1, "edited")
    client.post(f"/api/v1/jobs/{job_id}/letters", json={"body": "Two"})
    restored = client.post(f"/api/v1/jobs/{job_id}/letters/1/restore")
    assert (restored.json()["version"], restored.json()["body"]) == (3, "One")
    items = client.get(f"/api/v1/jobs/{job_id}/letters").json()["items"]
    assert [i["version"] for i in items] == [3, 2, 1]
    assert client.post(f"/api/v1/jobs/{job_id}/letters/7/restore").status_code == 404
    empty = client.post(f"/api/v1/jobs/{job_id}/letters", json={"body": "  "})
    assert empty.status_code == 422
    assert "empty" in empty.json()["error"]


def test_letter_generation_needs_the_task_queue(client: TestClient) -> None:
    del client.app.state.tasks  # type: ignore[attr-defined]
    job_id = add_job(user_db(client))
    response = client.post(f"/api/v1/jobs/{job_id}/letters/generate", json={"feedback": "warmer"})
    assert response.status_code == 503
    assert (
        response.json()["error"] == "Background tasks are not available in this installation yet."
    )
    queue = RecordingQueue()
    client.app.state.tasks = queue  # type: ignore[attr-defined]
    started = client.post(f"/api/v1/jobs/{job_id}/letters/refine", json={"feedback": "warmer"})
    assert started.status_code == 202
    assert (started.json()["kind"], started.json()["job_id"]) == ("cover_letter", job_id)
    assert queue.params[1]["feedback"] == "warmer"
    assert client.post("/api/v1/jobs/999/letters/generate", json={}).status_code == 404


def test_answers_and_saved_answers(client: TestClient) -> None:
    job_id = add_job(user_db(client))
    added = client.post(f"/api/v1/jobs/{job_id}/answers", json={"question": "Why?", "answer": "A"})
    assert added.status_code == 201
    answer_id = added.json()["id"]
    edited = client.put(
        f"/api/v1/jobs/{job_id}/answers/{answer_id}", json={"question": "Why us?", "answer": "B"}
    )
    assert (edited.json()["question"], edited.json()["answer"]) == ("Why us?", "B")
    saved = client.post("/api/v1/answers", json={"question": "Salary?", "answer": "Range"})
    assert saved.json()["job_id"] is None
    assert [a["question"] for a in client.get("/api/v1/answers").json()["items"]] == ["Salary?"]
    # A saved answer is not one of the job's answers, and the reverse.
    assert client.delete(f"/api/v1/jobs/{job_id}/answers/{saved.json()['id']}").status_code == 404
    assert client.delete(f"/api/v1/answers/{answer_id}").status_code == 404
    assert client.delete(f"/api/v1/jobs/{job_id}/answers/{answer_id}").status_code == 204
    assert client.get(f"/api/v1/jobs/{job_id}/answers").json() == {"items": []}
    missing_question = client.post(f"/api/v1/jobs/{job_id}/answers", json={"answer": "A"})
    assert missing_question.status_code == 422
    assert "question" in missing_question.json()["error"]


def test_apply_moves_and_snapshots_in_one_go(client: TestClient) -> None:
    db = user_db(client)
    job_id = add_job(db, status="approved")
    client.post(f"/api/v1/jobs/{job_id}/letters", json={"body": "Dear team"})
    client.post(f"/api/v1/jobs/{job_id}/answers", json={"question": "Start?", "answer": "Jan"})
    assert client.get(f"/api/v1/jobs/{job_id}/snapshot").status_code == 404
    applied = client.post(f"/api/v1/jobs/{job_id}/apply").json()
    assert (applied["from_status"], applied["to_status"]) == ("approved", "applied")
    assert applied["follow_up_on"]
    snap = client.get(f"/api/v1/jobs/{job_id}/snapshot").json()
    assert (snap["letter_version"], snap["letter_body"], snap["resume_version"]) == (
        1,
        "Dear team",
        None,
    )
    assert snap["answers"] == [{"question": "Start?", "answer": "Jan"}]
    again = client.post(f"/api/v1/jobs/{job_id}/apply")
    assert again.status_code == 409
    assert "cannot move a job from 'applied' to 'applied'" in again.json()["error"]
    assert db.execute("SELECT count(*) FROM application_snapshots")[0][0] == 1
    assert client.post("/api/v1/jobs/999/apply").status_code == 404


def test_follow_up_and_notes(client: TestClient) -> None:
    job_id = add_job(user_db(client), status="applied")
    ok = client.put(f"/api/v1/jobs/{job_id}/follow-up", json={"follow_up_on": "2026-12-01"})
    assert ok.json() == {"job_id": job_id, "follow_up_on": "2026-12-01"}
    bad = client.put(f"/api/v1/jobs/{job_id}/follow-up", json={"follow_up_on": "soon"})
    assert bad.status_code == 422
    assert "YYYY-MM-DD" in bad.json()["error"]
    notes = client.put(f"/api/v1/jobs/{job_id}/notes", json={"notes": "Call Tuesday"})
    assert notes.json()["notes"] == "Call Tuesday"
    assert client.get(f"/api/v1/jobs/{job_id}").json()["notes"] == "Call Tuesday"
    assert client.put("/api/v1/jobs/999/notes", json={"notes": "x"}).status_code == 404


def test_interview_time_is_validated_with_zoneinfo(client: TestClient) -> None:
    job_id = add_job(user_db(client), status="phone_screen")
    url = f"/api/v1/jobs/{job_id}/interview"
    saved = client.put(url, json={"date": "2026-12-04", "time": "09:30", "tz": "America/Chicago"})
    assert saved.json() == {
        "job_id": job_id,
        "interview_at": "2026-12-04T09:30",
        "interview_tz": "America/Chicago",
        "utc": "2026-12-04T15:30:00Z",
    }
    bad = client.put(url, json={"date": "2026-12-04", "time": "09:30", "tz": "Chicago"})
    assert bad.status_code == 422
    assert "not a known IANA time zone" in bad.json()["error"]
    assert client.get(url).json()["interview_tz"] == "America/Chicago"
    assert client.get(f"/pipeline/{job_id}/interview.ics").status_code == 200
    assert client.delete(url).json()["interview_at"] is None


def test_contacts_and_messages(client: TestClient) -> None:
    db = user_db(client)
    job_id = add_job(db, 1, status="applied")
    other = add_job(db, 2, status="applied")
    contact = client.post(
        f"/api/v1/jobs/{job_id}/contacts", json={"name": "Bob", "email": "bob@acme.example"}
    ).json()
    edited = client.put(
        f"/api/v1/jobs/{job_id}/contacts/{contact['id']}", json={"name": "Bob B", "role": "HR"}
    )
    assert (edited.json()["name"], edited.json()["role"]) == ("Bob B", "HR")
    bad_email = client.post(f"/api/v1/jobs/{job_id}/contacts", json={"name": "X", "email": "x"})
    assert bad_email.status_code == 422
    assert (
        client.put(
            f"/api/v1/jobs/{other}/contacts/{contact['id']}", json={"name": "Mallory"}
        ).status_code
        == 404
    )
    message = client.post(
        f"/api/v1/jobs/{job_id}/messages",
        json={"contact_id": contact["id"], "subject": "Hi", "at": "2026-11-20T10:00"},
    )
    assert message.status_code == 201
    assert message.json()["contact_id"] == contact["id"]
    foreign = client.post(
        f"/api/v1/jobs/{other}/messages", json={"contact_id": contact["id"], "subject": "Hi"}
    )
    assert foreign.status_code == 422
    assert "not one of this job's" in foreign.json()["error"]
    empty = client.post(f"/api/v1/jobs/{job_id}/messages", json={"channel": "phone"})
    assert empty.status_code == 422
    bad_channel = client.post(
        f"/api/v1/jobs/{job_id}/messages", json={"channel": "pigeon", "subject": "x"}
    )
    assert bad_channel.status_code == 422
    assert "channel" in bad_channel.json()["error"]
    mid = message.json()["id"]
    changed = client.put(
        f"/api/v1/jobs/{job_id}/messages/{mid}", json={"direction": "out", "body": "Thanks"}
    )
    assert (changed.json()["direction"], changed.json()["body"]) == ("out", "Thanks")
    assert client.delete(f"/api/v1/jobs/{other}/messages/{mid}").status_code == 404
    assert client.delete(f"/api/v1/jobs/{job_id}/messages/{mid}").status_code == 204
    assert client.delete(f"/api/v1/jobs/{job_id}/contacts/{contact['id']}").status_code == 204
    assert client.get(f"/api/v1/jobs/{job_id}/contacts").json() == {"items": []}
    assert client.get("/api/v1/jobs/999/messages").status_code == 404


def test_prep_round_trip_and_generation(client: TestClient) -> None:
    del client.app.state.tasks  # type: ignore[attr-defined]
    job_id = add_job(user_db(client), status="interviewing")
    url = f"/api/v1/jobs/{job_id}/prep"
    assert client.get(url).json()["practice_qa"] == []
    saved = client.put(
        url,
        json={
            "talking_points": "Impact",
            "practice_qa": [{"question": "Why?", "answer": "Because"}],
            "notes": "n",
        },
    ).json()
    assert saved["practice_qa"] == [{"question": "Why?", "answer": "Because"}]
    assert saved["research"] is None
    blank = client.put(url, json={"practice_qa": [{"question": " ", "answer": "x"}]})
    assert blank.status_code == 422
    assert client.get(url).json()["talking_points"] == "Impact"
    assert client.post(f"{url}/generate", json={"kind": "research"}).status_code == 503
    client.app.state.tasks = RecordingQueue()  # type: ignore[attr-defined]
    assert client.post(f"{url}/generate", json={"kind": "prep"}).json()["kind"] == "prep"
    assert client.post(f"{url}/generate", json={"kind": "other"}).status_code == 422


def test_pipeline_board_and_moves_through_the_api(client: TestClient) -> None:
    db = user_db(client)
    job_id = add_job(db, 1, status="applied")
    gone = add_job(db, 2, status="withdrawn")
    data = client.get("/api/v1/pipeline").json()
    assert [c["status"] for c in data["columns"]][:2] == ["applied", "survey"]
    assert [j["id"] for j in data["columns"][0]["jobs"]] == [job_id]
    assert [j["id"] for j in data["closed"]] == [gone]
    refused = client.post(f"/api/v1/jobs/{job_id}/move", json={"status": "hired"})
    assert refused.status_code == 409
    assert status_of(db, job_id) == "applied"


def test_cross_site_api_writes_are_refused(client: TestClient) -> None:
    job_id = add_job(user_db(client), status="applied")
    response = client.put(
        f"/api/v1/jobs/{job_id}/notes",
        json={"notes": "pwned"},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 403
    assert client.get(f"/api/v1/jobs/{job_id}").json()["notes"] == ""
