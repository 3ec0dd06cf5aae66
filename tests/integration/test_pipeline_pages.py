"""The Pipeline board and each job's notes, interview time and contact log."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from peregrine.app import create_app
from peregrine.settings import Settings
from tests.integration.workspace_helpers import add_job, flashes, post_form, status_of, user_db


def test_the_board_has_a_column_per_stage_and_a_closed_group(client: TestClient) -> None:
    db = user_db(client)
    applied = add_job(db, 1, status="applied", title="Applied role")
    screen = add_job(db, 2, status="phone_screen", title="Screen role")
    gone = add_job(db, 3, status="withdrawn", title="Withdrawn role")
    add_job(db, 4, title="Still pending")
    html = client.get("/pipeline").text
    for label in (
        "Applied",
        "Survey",
        "Phone screen",
        "Interviewing",
        "Offer",
        "Hired",
        "Rejected",
    ):
        assert f">{label} <span" in html
    assert html.index(f'id="card-{applied}"') < html.index('id="col-survey"')
    assert html.index('id="col-phone_screen"') < html.index(f'id="card-{screen}"')
    assert html.index("data-closed") < html.index(f'id="card-{gone}"')
    assert "Still pending" not in html
    # One form per allowed move, for keyboard and no-JS users.
    assert html.count(f'action="/pipeline/{applied}/move"') == 6
    assert 'data-move="rejected"' in html


def test_a_move_button_follows_the_pipeline_rules(client: TestClient) -> None:
    db = user_db(client)
    job_id = add_job(db, status="applied")
    moved = post_form(client, f"/pipeline/{job_id}/move", {"to_status": "phone_screen"})
    assert "Moved from applied to phone screen." in flashes(moved.text)
    refused = post_form(client, f"/pipeline/{job_id}/move", {"to_status": "hired"})
    assert (
        "Not moved: cannot move a job from 'phone_screen' to 'hired'; from 'phone_screen' it "
        "can go to: interviewing, rejected, withdrawn." in flashes(refused.text)
    )
    assert status_of(db, job_id) == "phone_screen"
    bogus = post_form(client, f"/pipeline/{job_id}/move", {"to_status": "nowhere"})
    assert "Stage must be one of" in flashes(bogus.text)[0]
    assert post_form(client, "/pipeline/999/move", {"to_status": "hired"}).status_code == 404


def test_rejecting_records_the_stage(client: TestClient) -> None:
    db = user_db(client)
    job_id = add_job(db, status="interviewing")
    post_form(client, f"/pipeline/{job_id}/move", {"to_status": "rejected", "back": "job"})
    row = db.execute("SELECT status, rejection_stage FROM jobs WHERE id = ?", (job_id,))[0]
    assert tuple(row) == ("rejected", "interviewing")
    assert "Rejected at interviewing" in client.get("/pipeline").text


def test_the_move_form_needs_the_csrf_token(client: TestClient) -> None:
    db = user_db(client)
    job_id = add_job(db, status="applied")
    client.get("/healthz")
    response = client.post(f"/pipeline/{job_id}/move", data={"to_status": "phone_screen"})
    assert response.status_code == 403
    assert status_of(db, job_id) == "applied"


def test_interview_time_is_saved_with_its_zone_and_exported_as_ics(client: TestClient) -> None:
    job_id = add_job(
        user_db(client), status="phone_screen", title="Dev; Backend, Senior", company="Acme"
    )
    saved = post_form(
        client,
        f"/pipeline/{job_id}/interview",
        {
            "interview_date": "2026-12-04",
            "interview_time": "14:30",
            "interview_tz": "Europe/Berlin",
        },
    )
    assert "Interview set for 2026-12-04 14:30 (Europe/Berlin)." in flashes(saved.text)
    response = client.get(f"/pipeline/{job_id}/interview.ics")
    assert response.headers["content-type"].startswith("text/calendar")
    assert "attachment" in response.headers["content-disposition"]
    body = response.text
    assert body.startswith("BEGIN:VCALENDAR\r\n")
    assert body.endswith("END:VCALENDAR\r\n")
    assert "\r\nBEGIN:VEVENT\r\n" in body
    # Berlin is UTC+1 in December.
    assert "\r\nDTSTART:20261204T133000Z\r\n" in body
    assert "\r\nDTEND:20261204T143000Z\r\n" in body
    assert "SUMMARY:Interview: Dev\\; Backend\\, Senior at Acme\r\n" in body
    assert "Europe/Berlin" in body


def test_a_bad_time_zone_is_explained_and_the_input_kept(client: TestClient) -> None:
    db = user_db(client)
    job_id = add_job(db, status="applied")
    response = post_form(
        client,
        f"/pipeline/{job_id}/interview",
        {"interview_date": "2026-12-04", "interview_time": "25:00", "interview_tz": "Mars/Olympus"},
    )
    assert response.status_code == 422
    assert "&#39;Mars/Olympus&#39; is not a known IANA time zone" in response.text
    assert "Interview time: use 24-hour HH:MM" in response.text
    assert 'value="Mars/Olympus"' in response.text
    assert db.execute("SELECT interview_at FROM jobs WHERE id = ?", (job_id,))[0][0] is None
    gap = post_form(
        client,
        f"/pipeline/{job_id}/interview",
        {
            "interview_date": "2026-03-29",
            "interview_time": "02:30",
            "interview_tz": "Europe/Berlin",
        },
    )
    assert gap.status_code == 422
    assert "does not exist on 2026-03-29 in Europe/Berlin" in gap.text
    assert client.get(f"/pipeline/{job_id}/interview.ics").status_code == 404


def test_the_interview_can_be_cleared(client: TestClient) -> None:
    db = user_db(client)
    job_id = add_job(db, status="applied")
    form = {"interview_date": "2026-12-04", "interview_time": "09:00", "interview_tz": "UTC"}
    post_form(client, f"/pipeline/{job_id}/interview", form)
    cleared = post_form(client, f"/pipeline/{job_id}/interview", {**form, "action": "clear"})
    assert "Interview time cleared." in flashes(cleared.text)
    row = db.execute("SELECT interview_at, interview_tz FROM jobs WHERE id = ?", (job_id,))[0]
    assert tuple(row) == (None, None)


def test_notes_are_saved(client: TestClient) -> None:
    db = user_db(client)
    job_id = add_job(db, status="applied")
    response = post_form(client, f"/pipeline/{job_id}/notes", {"notes": "Ask about <on-call>"})
    assert "Notes saved." in flashes(response.text)
    assert "Ask about &lt;on-call&gt;" in response.text
    assert db.execute("SELECT notes FROM jobs WHERE id = ?", (job_id,))[0][0] == (
        "Ask about <on-call>"
    )


def test_contacts_can_be_added_edited_and_deleted(client: TestClient) -> None:
    db = user_db(client)
    job_id = add_job(db, status="applied")
    post_form(
        client,
        f"/pipeline/{job_id}/contacts",
        {"contact-name": "Bob Recruiter", "contact-email": "bob@acme.example"},
    )
    contact_id = db.execute("SELECT id FROM contacts")[0][0]
    edited = post_form(
        client,
        f"/pipeline/{job_id}/contacts/{contact_id}",
        {"action": "save", f"c{contact_id}-name": "Bob R.", f"c{contact_id}-role": "Recruiter"},
    )
    assert "Contact saved." in flashes(edited.text)
    assert tuple(db.execute("SELECT name, role, email FROM contacts")[0]) == (
        "Bob R.",
        "Recruiter",
        "",
    )
    deleted = post_form(client, f"/pipeline/{job_id}/contacts/{contact_id}", {"action": "delete"})
    assert "Contact deleted." in flashes(deleted.text)
    assert db.execute("SELECT count(*) FROM contacts")[0][0] == 0


def test_a_contact_without_a_name_is_refused_and_the_input_kept(client: TestClient) -> None:
    db = user_db(client)
    job_id = add_job(db, status="applied")
    response = post_form(
        client,
        f"/pipeline/{job_id}/contacts",
        {"contact-name": "", "contact-email": "not-an-address"},
    )
    assert response.status_code == 422
    assert "Name is required." in response.text
    assert "E-mail must look like name@example.org." in response.text
    assert 'value="not-an-address"' in response.text
    assert db.execute("SELECT count(*) FROM contacts")[0][0] == 0


def test_the_contact_log_keeps_messages_of_this_job_only(client: TestClient) -> None:
    db = user_db(client)
    job_id = add_job(db, 1, status="applied")
    other = add_job(db, 2, status="applied")
    post_form(client, f"/pipeline/{other}/contacts", {"contact-name": "Carol"})
    carol = db.execute("SELECT id FROM contacts")[0][0]
    refused = post_form(
        client,
        f"/pipeline/{job_id}/messages",
        {"message-subject": "Hello", "message-contact_id": str(carol)},
    )
    assert refused.status_code == 422
    assert "choose one of this job&#39;s contacts" in refused.text
    added = post_form(
        client,
        f"/pipeline/{job_id}/messages",
        {
            "message-direction": "out",
            "message-channel": "phone",
            "message-at": "2026-11-20T10:15",
            "message-subject": "Called about next steps",
            "message-body": "They will write by Friday.",
        },
    )
    assert "Logged." in flashes(added.text)
    message_id = db.execute("SELECT id FROM messages")[0][0]
    post_form(
        client,
        f"/pipeline/{job_id}/messages/{message_id}",
        {
            "action": "save",
            f"m{message_id}-direction": "in",
            f"m{message_id}-channel": "email",
            f"m{message_id}-at": "2026-11-21T09:00",
            f"m{message_id}-subject": "They wrote",
        },
    )
    row = db.execute("SELECT direction, channel, at, subject, body FROM messages")[0]
    assert tuple(row) == ("in", "email", "2026-11-21T09:00", "They wrote", "")
    wrong_job = post_form(client, f"/pipeline/{other}/messages/{message_id}", {"action": "delete"})
    assert "does not exist any more" in flashes(wrong_job.text)[0]
    post_form(client, f"/pipeline/{job_id}/messages/{message_id}", {"action": "delete"})
    assert db.execute("SELECT count(*) FROM messages")[0][0] == 0


def test_job_pages_answer_404_for_a_missing_job(client: TestClient) -> None:
    assert client.get("/pipeline/999").status_code == 404
    assert client.get("/pipeline/999/interview.ics").status_code == 404
    assert post_form(client, "/pipeline/999/notes", {"notes": "x"}).status_code == 404
    assert post_form(client, "/pipeline/999/contacts", {"contact-name": "x"}).status_code == 404
    assert post_form(client, "/pipeline/999/messages", {"message-subject": "x"}).status_code == 404


def test_approved_jobs_are_listed_as_ready_to_apply(client: TestClient) -> None:
    db = user_db(client)
    job_id = add_job(db, 1, status="approved", title="Approved role")
    html = client.get("/pipeline").text
    assert "Ready to apply" in html
    assert f'href="/apply/{job_id}"' in html
    assert f'id="card-{job_id}"' not in html


# Until the web branch's root-path middleware is merged, this branch still passes root_path to
# FastAPI, which warns; the behaviour under test is the same either way.
@pytest.mark.filterwarnings("ignore:The `root_path` parameter is deprecated")
def test_workspace_links_forms_and_assets_respect_the_root_path(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"PEREGRINE_DATA_DIR": str(tmp_path / "data"), "PEREGRINE_ROOT_PATH": "/peregrine"}
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8502") as c:
        db = user_db(c)
        ready = add_job(db, 1, status="approved")
        job_id = add_job(db, 2, status="interviewing")
        for path in ["/pipeline", f"/pipeline/{job_id}", f"/apply/{ready}", f"/prep/{job_id}"]:
            html = c.get(f"/peregrine{path}").text
            urls = re.findall(r'\s(?:href|src|action)="([^"]*)"', html)
            local = [u for u in urls if not u.startswith(("https://", "http://", "#"))]
            assert local, path
            assert all(u.startswith("/peregrine/") for u in local), (path, local)
        moved = post_form(c, f"/peregrine/pipeline/{job_id}/move", {"to_status": "offer"})
        assert moved.url.path == "/peregrine/pipeline"
        assert status_of(db, job_id) == "offer"
