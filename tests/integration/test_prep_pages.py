"""Interview prep: research brief, talking points, practice Q&A and notes, persisted."""

from __future__ import annotations

from fastapi.testclient import TestClient

from peregrine.lib.clock import now_iso
from peregrine.storage.queries import prep as prep_q
from tests.integration.workspace_helpers import (
    RecordingQueue,
    add_job,
    flashes,
    post_form,
    user_db,
)


def _saved(client: TestClient, job_id: int) -> prep_q.Prep:
    with user_db(client).read() as conn:
        return prep_q.get_prep(conn, job_id=job_id)


def test_it_shows_the_research_brief(client: TestClient) -> None:
    db = user_db(client)
    job_id = add_job(db, status="interviewing", company="Acme")
    with db.write() as conn:
        prep_q.save_research(
            conn,
            job_id=job_id,
            company="Acme",
            brief={"Overview": "Makes <anvils>.", "Recent news": "Raised money."},
            sources=["https://acme.example/about", "javascript:alert(1)"],
            now=now_iso(),
        )
    html = client.get(f"/prep/{job_id}").text
    assert "<h3>Overview</h3>" in html
    assert "Makes &lt;anvils&gt;." in html
    assert 'href="https://acme.example/about"' in html
    assert 'href="javascript:' not in html
    assert "Research again" in html


def test_prep_is_saved_with_practice_questions_added_edited_and_removed(
    client: TestClient,
) -> None:
    job_id = add_job(user_db(client), status="interviewing")
    post_form(
        client,
        f"/prep/{job_id}",
        [
            ("talking_points", "Scaled the team"),
            ("notes", "Bring questions"),
            ("question", "Tell me about yourself"),
            ("answer", "Short story"),
            ("question", "Why leave?"),
            ("answer", "Growth"),
            ("question", ""),
            ("answer", ""),
        ],
    )
    prep = _saved(client, job_id)
    assert prep.talking_points == "Scaled the team"
    assert prep.practice_qa == [
        {"question": "Tell me about yourself", "answer": "Short story"},
        {"question": "Why leave?", "answer": "Growth"},
    ]
    response = post_form(
        client,
        f"/prep/{job_id}",
        [
            ("talking_points", "Scaled the team"),
            ("notes", "Bring questions"),
            ("question", "Tell me about yourself"),
            ("answer", "A better story"),
            ("question", "Why leave?"),
            ("answer", "Growth"),
            ("remove", "1"),
            ("question", "Salary?"),
            ("answer", "Range"),
        ],
    )
    assert "Prep saved." in flashes(response.text)
    assert _saved(client, job_id).practice_qa == [
        {"question": "Tell me about yourself", "answer": "A better story"},
        {"question": "Salary?", "answer": "Range"},
    ]
    assert "A better story" in response.text


def test_an_answer_without_its_question_is_refused_and_everything_kept(
    client: TestClient,
) -> None:
    job_id = add_job(user_db(client), status="interviewing")
    response = post_form(
        client,
        f"/prep/{job_id}",
        [("talking_points", "Keep me"), ("question", ""), ("answer", "An orphan answer")],
    )
    assert response.status_code == 422
    assert "Question 1: write the question too." in response.text
    assert "Keep me" in response.text
    assert "An orphan answer" in response.text
    assert _saved(client, job_id).updated_at is None


def test_generate_buttons_submit_research_and_prep_tasks(client: TestClient) -> None:
    del client.app.state.tasks  # type: ignore[attr-defined]
    job_id = add_job(user_db(client), status="interviewing")
    unavailable = post_form(client, f"/prep/{job_id}/generate", {"kind": "research"})
    assert "Background tasks are not available" in flashes(unavailable.text)[0]
    assert 'href="/settings/llm"' in unavailable.text
    queue = RecordingQueue()
    client.app.state.tasks = queue  # type: ignore[attr-defined]
    post_form(client, f"/prep/{job_id}/generate", {"kind": "research"})
    post_form(client, f"/prep/{job_id}/generate", {"kind": "prep"})
    assert [(t.kind, t.job_id) for t in queue.tasks] == [("research", job_id), ("prep", job_id)]
    bad = post_form(client, f"/prep/{job_id}/generate", {"kind": "cover_letter"})
    assert "What to prepare must be one of: research, prep." in flashes(bad.text)
    queue.finish(1, status="failed", error="no LLM backend is configured")
    html = client.get(f"/prep/{job_id}").text
    assert "Company research failed: no LLM backend is configured" in html
    assert "Interview prep: queued" in html


def test_prep_pages_answer_404_for_a_missing_job(client: TestClient) -> None:
    assert client.get("/prep/999").status_code == 404
    assert post_form(client, "/prep/999", {"notes": "x"}).status_code == 404
    assert post_form(client, "/prep/999/generate", {"kind": "prep"}).status_code == 404
