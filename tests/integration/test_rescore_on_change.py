"""Saving a résumé version or keywords queues a ``score`` task, so job scores follow."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from tests.integration.web_helpers import add_jobs, post_form, user_db


def score_tasks(client: TestClient) -> list[str]:
    with user_db(client).read() as conn:
        return [r[0] for r in conn.execute("SELECT status FROM tasks WHERE type = 'score'")]


def wait_until_finished(client: TestClient) -> list[str]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        statuses = score_tasks(client)
        if statuses and all(s not in ("queued", "running") for s in statuses):
            return statuses
        time.sleep(0.05)
    raise AssertionError(f"score tasks did not finish: {score_tasks(client)}")


def test_saving_keywords_on_the_page_queues_scoring(client: TestClient) -> None:
    add_jobs(user_db(client), 2, description="Python and SQL every day")
    response = post_form(client, "/settings/keywords", {"kw_skill": "Python, SQL"})
    assert response.status_code in (200, 303)
    assert wait_until_finished(client) == ["succeeded"]


def test_saving_a_resume_on_the_page_queues_scoring(client: TestClient) -> None:
    form = {
        "name": "Alice Example",
        "exp-0-title": "Engineer",
        "exp-0-employer": "Acme Ltd",
        "exp-0-bullets": "Built things",
        "skills": "Python",
        "raw_text": "Alice Example\nEngineer at Acme Ltd",
        "filename": "cv.txt",
    }
    post_form(client, "/settings/resume", form)
    assert wait_until_finished(client) == ["succeeded"]


def test_the_api_queues_scoring_for_resume_and_keywords(client: TestClient) -> None:
    response = client.put("/api/v1/keywords", json={"skill": ["Rust"]})
    assert response.status_code == 200, response.text
    assert len(wait_until_finished(client)) == 1
    response = client.post(
        "/api/v1/resume",
        json={"name": "Alice", "skills": ["Rust"], "raw_text": "Alice", "filename": "cv.txt"},
    )
    assert response.status_code == 201, response.text
    assert len(wait_until_finished(client)) == 2


def test_a_refused_keyword_form_queues_nothing(client: TestClient) -> None:
    response = post_form(client, "/settings/keywords", {"kw_skill": "x" * 500})
    assert response.status_code == 422
    assert score_tasks(client) == []
