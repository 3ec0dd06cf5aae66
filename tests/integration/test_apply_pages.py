"""The Apply workspace through the in-process client: letters, answers, marking applied."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta

from fastapi.testclient import TestClient
from pypdf import PdfReader

from peregrine.lib.clock import now_iso, utcnow
from peregrine.storage.queries import profile as profile_q
from tests.integration.workspace_helpers import (
    RecordingQueue,
    add_job,
    flashes,
    post_form,
    status_of,
    user_db,
)


def _letters(client: TestClient, job_id: int) -> list[tuple[int, str, str]]:
    rows = user_db(client).execute(
        "SELECT version, origin, body FROM cover_letters WHERE job_id = ? ORDER BY version",
        (job_id,),
    )
    return [(r[0], r[1], r[2]) for r in rows]


def test_it_shows_the_sanitised_job_beside_the_users_materials(client: TestClient) -> None:
    db = user_db(client)
    job_id = add_job(
        db,
        description='<p>Build things</p><script>alert(1)</script><img src=x onerror="alert(2)">',
    )
    with db.write() as conn:
        profile_q.save_profile(
            conn,
            profile=profile_q.Profile(full_name="Alice Example", email="alice@example.org"),
            now=now_iso(),
        )
        profile_q.add_resume(
            conn,
            structured={
                "experiences": [
                    {"title": "Lead", "employer": "Acme", "bullets": ["Shipped the thing"]}
                ],
                "skills": ["Python", "SQL"],
            },
            raw_text="",
            filename="cv.txt",
            now=now_iso(),
        )
    html = client.get(f"/apply/{job_id}").text
    assert "<p>Build things</p>" in html
    assert "<script>alert(1)" not in html
    assert "onerror" not in html
    assert "Alice Example" in html
    assert "Shipped the thing" in html
    assert "Python, SQL" in html
    assert "data-copy" in html


def test_it_answers_404_for_a_missing_job(client: TestClient) -> None:
    response = client.get("/apply/999")
    assert response.status_code == 404
    assert "job 999 not found" in response.text
    assert post_form(client, "/apply/999/letter", {"letter": "Hi"}).status_code == 404
    assert post_form(client, "/apply/999/applied", {}).status_code == 404
    assert client.get("/apply/999/letter.pdf").status_code == 404


def test_saving_and_restoring_letters_adds_versions(client: TestClient) -> None:
    job_id = add_job(user_db(client))
    first = post_form(client, f"/apply/{job_id}/letter", {"letter": "Dear Acme,\n\nFirst."})
    assert "Saved as version 1." in flashes(first.text)
    post_form(client, f"/apply/{job_id}/letter", {"letter": "Dear Acme,\n\nSecond."})
    restored = post_form(client, f"/apply/{job_id}/letter/restore", {"version": "1"})
    assert "Restored version 1 as version 3." in flashes(restored.text)
    assert _letters(client, job_id) == [
        (1, "edited", "Dear Acme,\n\nFirst."),
        (2, "edited", "Dear Acme,\n\nSecond."),
        (3, "edited", "Dear Acme,\n\nFirst."),
    ]
    current = user_db(client).execute("SELECT cover_letter FROM jobs WHERE id = ?", (job_id,))
    assert current[0][0] == "Dear Acme,\n\nFirst."
    assert "Version 3" in restored.text
    assert "Restore version 2" in restored.text
    missing = post_form(client, f"/apply/{job_id}/letter/restore", {"version": "9"})
    assert "That letter version does not exist." in flashes(missing.text)


def test_an_empty_or_huge_letter_is_refused_and_keeps_what_was_typed(client: TestClient) -> None:
    job_id = add_job(user_db(client))
    empty = post_form(client, f"/apply/{job_id}/letter", {"letter": "   "})
    assert empty.status_code == 422
    assert "Cover letter is required." in empty.text
    huge = "x" * 50_001
    too_long = post_form(client, f"/apply/{job_id}/letter", {"letter": huge})
    assert too_long.status_code == 422
    assert "at most 50000 characters" in too_long.text
    assert huge in too_long.text
    assert _letters(client, job_id) == []


def test_forms_without_the_csrf_token_are_refused(client: TestClient) -> None:
    job_id = add_job(user_db(client), status="approved")
    client.get("/healthz")
    for path, data in [
        (f"/apply/{job_id}/letter", {"letter": "Hi"}),
        (f"/apply/{job_id}/answers", {"question": "Why?"}),
        (f"/apply/{job_id}/applied", {}),
    ]:
        response = client.post(path, data=data)
        assert response.status_code == 403, path
    assert _letters(client, job_id) == []
    assert status_of(user_db(client), job_id) == "approved"


def test_generating_without_a_task_queue_says_so_and_links_to_llm_settings(
    client: TestClient,
) -> None:
    del client.app.state.tasks  # type: ignore[attr-defined]
    job_id = add_job(user_db(client))
    response = post_form(client, f"/apply/{job_id}/letter/generate", {"feedback": ""})
    assert "Background tasks are not available in this installation yet." in flashes(response.text)
    assert 'href="/settings/llm"' in response.text


def test_generate_and_refine_submit_cover_letter_tasks(client: TestClient) -> None:
    queue = RecordingQueue()
    client.app.state.tasks = queue  # type: ignore[attr-defined]
    job_id = add_job(user_db(client))
    first = post_form(client, f"/apply/{job_id}/letter/generate", {"feedback": ""})
    assert "Cover letter started" in flashes(first.text)[0]
    again = post_form(client, f"/apply/{job_id}/letter/generate", {"feedback": "shorter"})
    assert "already running" in flashes(again.text)[0]
    assert [(t.kind, t.job_id) for t in queue.tasks] == [("cover_letter", job_id)]
    assert queue.params[1] == {"feedback": ""}
    queue.finish(1, status="failed", error="no LLM backend is configured")
    post_form(client, f"/apply/{job_id}/letter/generate", {"feedback": "shorter"})
    assert queue.params[2] == {"feedback": "shorter"}
    queue.finish(2, status="failed", error="no LLM backend is configured")
    html = client.get(f"/apply/{job_id}").text
    assert "Cover letter failed: no LLM backend is configured" in html
    assert 'href="/settings/llm"' in html


def test_answers_can_be_added_edited_deleted_and_reused(client: TestClient) -> None:
    db = user_db(client)
    job_id = add_job(db, 1)
    other = add_job(db, 2)
    post_form(
        client,
        f"/apply/{job_id}/answers",
        {"question": "Why us?", "answer": "Mission.", "reusable": "1"},
    )
    rows = db.execute("SELECT id, job_id, question FROM application_answers ORDER BY id")
    assert [(r[1], r[2]) for r in rows] == [(job_id, "Why us?"), (None, "Why us?")]
    answer_id, saved_id = rows[0][0], rows[1][0]
    post_form(
        client,
        f"/apply/{job_id}/answers/{answer_id}",
        {"action": "save", f"question-{answer_id}": "Why Acme?", f"answer-{answer_id}": "Care."},
    )
    inserted = post_form(client, f"/apply/{other}/answers/insert", {"saved_id": str(saved_id)})
    assert "Saved answer added" in flashes(inserted.text)[0]
    assert "Why us?" in inserted.text
    # An answer of another job cannot be changed through this job's address.
    wrong = post_form(client, f"/apply/{other}/answers/{answer_id}", {"action": "delete"})
    assert "does not exist" in flashes(wrong.text)[0]
    post_form(client, f"/apply/{job_id}/answers/{answer_id}", {"action": "delete"})
    left = db.execute("SELECT job_id, question, answer FROM application_answers ORDER BY id")
    assert [tuple(r) for r in left] == [
        (None, "Why us?", "Mission."),
        (other, "Why us?", "Mission."),
    ]
    forgotten = post_form(
        client, f"/apply/{job_id}/answers/insert", {"saved_id": str(saved_id), "action": "forget"}
    )
    assert "Saved answer deleted" in flashes(forgotten.text)[0]
    left = db.execute("SELECT job_id FROM application_answers")
    assert [r[0] for r in left] == [other]


def test_an_answer_without_a_question_is_refused_and_the_answer_kept(client: TestClient) -> None:
    job_id = add_job(user_db(client))
    response = post_form(
        client, f"/apply/{job_id}/answers", {"question": "", "answer": "My careful answer"}
    )
    assert response.status_code == 422
    assert "Question is required." in response.text
    assert "My careful answer" in response.text
    assert user_db(client).execute("SELECT count(*) FROM application_answers")[0][0] == 0


def test_mark_applied_moves_the_job_and_freezes_what_was_sent(client: TestClient) -> None:
    db = user_db(client)
    job_id = add_job(db, status="approved")
    with db.write() as conn:
        profile_q.add_resume(conn, structured={}, raw_text="v1", filename="", now=now_iso())
        profile_q.add_resume(conn, structured={}, raw_text="v2", filename="", now=now_iso())
    post_form(client, f"/apply/{job_id}/letter", {"letter": "Old letter"})
    post_form(client, f"/apply/{job_id}/letter", {"letter": "Letter as sent"})
    post_form(client, f"/apply/{job_id}/answers", {"question": "Notice?", "answer": "4 weeks"})
    response = post_form(client, f"/apply/{job_id}/applied", {})
    follow = (utcnow().date() + timedelta(days=7)).isoformat()
    assert f"Follow up on {follow}." in flashes(response.text)[0]
    assert status_of(db, job_id) == "applied"
    snap = db.execute(
        "SELECT letter_version, letter_body, resume_version, answers FROM application_snapshots"
    )
    assert len(snap) == 1
    assert (snap[0][0], snap[0][1], snap[0][2]) == (2, "Letter as sent", 2)
    assert json.loads(snap[0][3]) == [{"question": "Notice?", "answer": "4 weeks"}]
    # Later edits do not change what was sent.
    post_form(client, f"/apply/{job_id}/letter", {"letter": "Rewritten afterwards"})
    prep = client.get(f"/prep/{job_id}").text
    assert "Letter as sent" in prep
    assert "Rewritten afterwards" not in prep
    assert "résumé version 2" in prep
    assert f'value="{follow}"' in client.get(f"/apply/{job_id}").text


def test_mark_applied_is_refused_for_a_job_not_approved_and_writes_nothing(
    client: TestClient,
) -> None:
    db = user_db(client)
    job_id = add_job(db)
    response = post_form(client, f"/apply/{job_id}/applied", {})
    assert "cannot move a job from 'pending' to 'applied'" in flashes(response.text)[0]
    assert status_of(db, job_id) == "pending"
    assert db.execute("SELECT count(*) FROM application_snapshots")[0][0] == 0


def test_the_follow_up_date_can_be_changed_and_bad_dates_are_explained(
    client: TestClient,
) -> None:
    db = user_db(client)
    job_id = add_job(db, status="applied")
    day = (date(2026, 12, 24)).isoformat()
    ok = post_form(client, f"/apply/{job_id}/follow-up", {"follow_up_on": day})
    assert f"Follow-up set for {day}." in flashes(ok.text)
    bad = post_form(client, f"/apply/{job_id}/follow-up", {"follow_up_on": "next tuesday"})
    assert bad.status_code == 422
    assert "not a date; use the form YYYY-MM-DD" in bad.text
    assert 'value="next tuesday"' in bad.text
    assert db.execute("SELECT follow_up_on FROM jobs WHERE id = ?", (job_id,))[0][0] == day


def test_the_pdf_link_downloads_the_newest_letter(client: TestClient) -> None:
    job_id = add_job(user_db(client))
    missing = client.get(f"/apply/{job_id}/letter.pdf")
    assert missing.status_code == 404
    assert "no letter for this job yet" in missing.text
    post_form(client, f"/apply/{job_id}/letter", {"letter": "Dear Acme,\n\nR&D <matters>."})
    response = client.get(f"/apply/{job_id}/letter.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    assert "R&D <matters>." in text


def test_what_the_user_typed_is_escaped_everywhere_it_is_shown(client: TestClient) -> None:
    db = user_db(client)
    job_id = add_job(db, status="interviewing")
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    post_form(client, f"/apply/{job_id}/letter", {"letter": evil})
    post_form(client, f"/apply/{job_id}/answers", {"question": evil, "answer": evil})
    post_form(client, f"/pipeline/{job_id}/contacts", {"contact-name": evil})
    post_form(client, f"/pipeline/{job_id}/notes", {"notes": evil})
    post_form(client, f"/pipeline/{job_id}/messages", {"message-subject": evil})
    post_form(client, f"/prep/{job_id}", {"talking_points": evil, "question": evil})
    for path in (f"/apply/{job_id}", f"/pipeline/{job_id}", f"/prep/{job_id}", "/pipeline"):
        html = client.get(path).text
        assert "<script>alert" not in html, path
        assert "<img src=x" not in html, path
    assert "&lt;script&gt;alert(&#34;x&#34;)" in client.get(f"/apply/{job_id}").text
