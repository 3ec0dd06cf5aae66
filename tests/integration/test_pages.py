"""Home, Review and Settings pages through the in-process client."""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path

from fastapi.testclient import TestClient

from peregrine.app import create_app
from peregrine.services import pipeline
from peregrine.settings import Settings
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.queries import profile as profile_q
from tests.integration.web_helpers import add_jobs, post_form, user_db

ROOT = Path(__file__).resolve().parents[2]


def _status(client: TestClient, job_id: int) -> str:
    return str(user_db(client).execute("SELECT status FROM jobs WHERE id = ?", (job_id,))[0][0])


def _flash(html: str) -> list[str]:
    return re.findall(r'class="flash flash-\w+">([^<]*)<', html)


# --- Home --------------------------------------------------------------------------------


def test_home_shows_counts_funnel_and_first_run_guide(client: TestClient) -> None:
    db = user_db(client)
    ids = add_jobs(db, 6, source="board")
    for job_id in ids[:4]:
        pipeline.move(db, job_id=job_id, to_status="approved")
        pipeline.move(db, job_id=job_id, to_status="applied")
    pipeline.move(db, job_id=ids[0], to_status="phone_screen")
    pipeline.move(db, job_id=ids[0], to_status="interviewing")
    pipeline.move(db, job_id=ids[1], to_status="rejected")
    html = client.get("/").text
    assert "Welcome! Three steps" in html
    assert "<svg" in html
    # Funnel: 4 applied, 1 screen (25%), 1 interview (100%).
    assert "Applied: 4" in html
    assert "Screen: 1 (25%)" in html
    # Response rate: 2 of 4 answered (one interview, one rejection), a small sample.
    assert "board: 50% (n=4, small sample)" in html
    assert "Median time to first response" in html


def test_the_first_run_guide_can_be_dismissed(client: TestClient) -> None:
    response = post_form(client, "/setup/dismiss", {})
    assert response.status_code == 200
    assert "Welcome! Three steps" not in response.text
    assert "Setup hidden" in response.text


def test_the_first_run_guide_is_gone_once_there_is_a_profile(client: TestClient) -> None:
    with user_db(client).write() as conn:
        profile_q.save_profile(conn, profile=profile_q.Profile(full_name="Alice"), now="2026-01-01")
    assert "Welcome! Three steps" not in client.get("/").text


def test_it_adds_jobs_from_pasted_urls(client: TestClient) -> None:
    response = post_form(
        client,
        "/jobs/add",
        {"urls": "https://example.org/jobs/senior-python-dev\nhttps://example.org/jobs/42"},
    )
    assert _flash(response.text) == ["Added 2 jobs."]
    titles = {r[0] for r in user_db(client).execute("SELECT title FROM jobs")}
    assert titles == {"Senior python dev", "Job at example.org"}


def test_a_single_url_takes_the_title_from_the_form(client: TestClient) -> None:
    post_form(client, "/jobs/add", {"urls": "https://example.org/x", "title": "Data Engineer"})
    assert user_db(client).execute("SELECT title FROM jobs")[0][0] == "Data Engineer"


def test_a_bad_url_adds_nothing_and_keeps_what_was_typed(client: TestClient) -> None:
    typed = "https://example.org/jobs/1\nnot a url"
    response = post_form(client, "/jobs/add", {"urls": typed})
    assert response.status_code == 422
    assert "line 2" in response.text
    assert typed in response.text
    assert user_db(client).execute("SELECT count(*) FROM jobs")[0][0] == 0


def test_a_csv_with_errors_shows_every_error_and_imports_nothing(client: TestClient) -> None:
    data = b"title,url\nGood,https://e.org/1\n,https://e.org/2\nBad,notaurl\n"
    response = post_form(client, "/jobs/import", {}, files={"file": ("jobs.csv", data)})
    assert response.status_code == 422
    assert "line 3" in response.text
    assert "line 4" in response.text
    assert user_db(client).execute("SELECT count(*) FROM jobs")[0][0] == 0


def test_a_good_csv_is_imported(client: TestClient) -> None:
    data = b"title,url,company\nA,https://e.org/1,Acme\nB,https://e.org/2,Beta\n"
    response = post_form(client, "/jobs/import", {}, files={"file": ("jobs.csv", data)})
    assert _flash(response.text) == ["Imported jobs.csv: 2 new, 0 already known."]


def test_task_buttons_say_clearly_when_tasks_are_not_available(client: TestClient) -> None:
    del client.app.state.tasks  # type: ignore[attr-defined]
    html = client.get("/").text
    assert "Background tasks are not available" in html
    response = post_form(client, "/tasks/run", {"kind": "discover"})
    assert response.status_code == 200
    assert "Background tasks are not available" in _flash(response.text)[0]


def test_due_follow_ups_show_on_home(client: TestClient) -> None:
    db = user_db(client)
    [job_id] = add_jobs(db, 1, title="Follow me")
    pipeline.move(db, job_id=job_id, to_status="approved")
    pipeline.move(db, job_id=job_id, to_status="applied")
    db.execute("SELECT 1")
    with db.write() as conn:
        conn.execute("UPDATE jobs SET follow_up_on = '2000-01-01' WHERE id = ?", (job_id,))
    html = client.get("/").text
    section = html.split("Follow-ups due", 1)[1].split("</section>", 1)[0]
    assert "Follow me" in section


# --- Review ------------------------------------------------------------------------------


def test_review_lists_pending_jobs_with_their_details(client: TestClient) -> None:
    db = user_db(client)
    [job_id] = add_jobs(db, 1, title="Platform Engineer", source="board")
    with db.write() as conn:
        job_q.set_score(
            conn,
            job_id=job_id,
            score=82,
            explanation={"matched": ["python", "sql"], "title_match": 0.9},
            gaps=["kubernetes"],
            now="2026-01-01",
        )
        job_q.set_flags(conn, job_id=job_id, flags=["salary_unknown"], applied_match_id=None)
    html = client.get("/review").text
    assert "Platform Engineer" in html
    assert ">82<" in html
    assert "python, sql" in html
    assert "missing: kubernetes" in html
    assert "Salary not given" in html
    assert "via board" in html


def test_review_filters_by_text_source_remote_and_score(client: TestClient) -> None:
    db = user_db(client)
    add_jobs(db, 1, title="Remote Rust", source="alpha", work_mode="remote")
    add_jobs(db, 1, title="Office Java", source="beta", work_mode="onsite")
    assert "Office Java" not in client.get("/review?q=rust").text
    assert "Remote Rust" not in client.get("/review?source=beta").text
    assert "Office Java" not in client.get("/review?remote=1").text
    assert "No jobs match" in client.get("/review?min_score=50").text


def test_review_pages_fifty_at_a_time_in_every_sort_order(client: TestClient) -> None:
    add_jobs(user_db(client), 55)
    for sort in job_q.SORT_ORDERS:
        html = client.get(f"/review?sort={sort}").text
        assert html.count("data-job-card") == 50, sort
    page2 = client.get("/review?page=2").text
    assert page2.count("data-job-card") == 5
    assert "Page 2 of 2" in page2


def test_approve_dismiss_and_skip_one_job(client: TestClient) -> None:
    ids = add_jobs(user_db(client), 3)
    for job_id, action, status in zip(
        ids, ("approve", "dismiss", "skip"), ("approved", "dismissed", "archived"), strict=True
    ):
        response = post_form(client, "/review/move", {"action": action, "job_id": job_id})
        assert response.status_code == 200
        assert _status(client, job_id) == status


def test_a_bulk_action_is_all_or_nothing(client: TestClient) -> None:
    db = user_db(client)
    ids = add_jobs(db, 3)
    pipeline.move(db, job_id=ids[2], to_status="dismissed")
    response = post_form(client, "/review/move", {"action": "approve", "job_id": ids})
    assert "Nothing was changed" in _flash(response.text)[0]
    assert [_status(client, i) for i in ids] == ["pending", "pending", "dismissed"]
    response = post_form(client, "/review/move", {"action": "approve", "job_id": ids[:2]})
    assert _flash(response.text) == ["Approved 2 jobs. Press u to undo."]
    assert [_status(client, i) for i in ids[:2]] == ["approved", "approved"]


def test_undo_brings_the_last_job_back(client: TestClient) -> None:
    [job_id] = add_jobs(user_db(client), 1)
    post_form(client, "/review/move", {"action": "dismiss", "job_id": job_id})
    response = post_form(client, "/review/undo", {})
    assert _flash(response.text) == ["Undone: 1 job is back in to review."]
    assert _status(client, job_id) == "pending"
    response = post_form(client, "/review/undo", {})
    assert _flash(response.text) == ["There is nothing to undo."]


def test_review_actions_return_to_the_same_filters(client: TestClient) -> None:
    [job_id] = add_jobs(user_db(client), 1)
    response = post_form(
        client,
        "/review/move",
        {"action": "approve", "job_id": job_id, "q": "rust", "sort": "newest"},
        follow_redirects=False,
    )
    assert response.headers["location"].startswith("/review?")
    assert "q=rust" in response.headers["location"]


def test_review_rejects_a_nonsense_selection_without_a_write(client: TestClient) -> None:
    [job_id] = add_jobs(user_db(client), 1)
    response = post_form(client, "/review/move", {"action": "approve", "job_id": "1; DROP"})
    assert "not valid" in _flash(response.text)[0]
    assert _status(client, job_id) == "pending"


def test_descriptions_are_sanitised(client: TestClient) -> None:
    payload = (
        '<p>Hello<script>window.pwned=1</script><img src=x onerror="window.pwned=1">'
        '<a href="javascript:window.pwned=1">click</a><a href="https://e.org">ok</a></p>'
    )
    add_jobs(user_db(client), 1, description=payload)
    html = client.get("/review").text
    assert "window.pwned" not in html
    assert "onerror" not in html
    assert 'href="https://e.org" rel="noopener noreferrer nofollow"' in html


# --- Settings ----------------------------------------------------------------------------


def test_every_settings_tab_renders_even_when_empty(client: TestClient) -> None:
    for tab in ("", "/profile", "/resume", "/search", "/keywords", "/llm", "/data", "/privacy"):
        response = client.get(f"/settings{tab}")
        assert response.status_code == 200, tab
        assert "<h1>Settings</h1>" in response.text


def test_the_profile_form_saves_and_rejects_bad_input_keeping_it(client: TestClient) -> None:
    bad = {"full_name": "Alice", "email": "not-an-email", "links": "ftp://x"}
    response = post_form(client, "/settings/profile", bad)
    assert response.status_code == 422
    assert "E-mail must look like" in response.text
    assert 'value="not-an-email"' in response.text
    good = {"full_name": "Alice", "email": "alice@example.org", "links": "https://a.example"}
    response = post_form(client, "/settings/profile", good)
    assert _flash(response.text) == ["Profile saved."]
    with user_db(client).read() as conn:
        profile = profile_q.get_profile(conn)
    assert profile.links == ["https://a.example"]


def test_a_resume_upload_is_parsed_and_saved_only_when_confirmed(client: TestClient) -> None:
    text = (
        "Alice Example\nalice@example.org | London, UK\n\nExperience\n"
        "Engineer at Acme Ltd  2019 - Present\n• Built things\n\nSkills\nPython, SQL\n"
    )
    response = post_form(
        client, "/settings/resume/upload", {}, files={"file": ("cv.txt", text.encode())}
    )
    assert response.status_code == 200
    assert 'value="Acme Ltd"' in response.text
    with user_db(client).read() as conn:
        assert profile_q.current_resume(conn) is None
    form = {
        "name": "Alice Example",
        "email": "alice@example.org",
        "exp-0-title": "Engineer",
        "exp-0-employer": "Acme Ltd",
        "exp-0-start": "2019",
        "exp-0-end": "Present",
        "exp-0-bullets": "Built things\nFixed things",
        "exp-1-title": "",
        "skills": "Python, SQL",
        "raw_text": text,
        "filename": "cv.txt",
    }
    response = post_form(client, "/settings/resume", form)
    assert _flash(response.text) == ["Résumé saved as version 1."]
    with user_db(client).read() as conn:
        resume = profile_q.current_resume(conn)
    assert resume is not None
    assert resume.structured["experiences"][0]["bullets"] == ["Built things", "Fixed things"]
    assert resume.structured["skills"] == ["Python", "SQL"]


def test_a_docx_resume_is_read(client: TestClient) -> None:
    from docx import Document

    document = Document()
    document.add_paragraph("Bob Builder")
    document.add_paragraph("bob@example.org")
    document.add_paragraph("Skills")
    document.add_paragraph("Carpentry, Welding")
    buffer = io.BytesIO()
    document.save(buffer)
    response = post_form(
        client, "/settings/resume/upload", {}, files={"file": ("cv.docx", buffer.getvalue())}
    )
    assert response.status_code == 200
    assert 'value="bob@example.org"' in response.text
    assert "Carpentry" in response.text


def test_an_unreadable_resume_gets_a_clear_message(client: TestClient) -> None:
    response = post_form(
        client, "/settings/resume/upload", {}, files={"file": ("cv.pdf", b"not really a pdf")}
    )
    assert response.status_code == 422
    assert "does not look like a real pdf" in response.text


def test_a_resume_experience_without_a_title_is_refused(client: TestClient) -> None:
    response = post_form(client, "/settings/resume", {"exp-0-title": "", "exp-0-employer": "Acme"})
    assert response.status_code == 422
    assert "job title is required" in response.text
    with user_db(client).read() as conn:
        assert profile_q.current_resume(conn) is None


def test_search_profiles_can_be_created_renamed_and_deleted(client: TestClient) -> None:
    response = post_form(client, "/settings/search", {"name": "Remote", "titles": "Engineer"})
    assert "saved" in _flash(response.text)[0]
    response = post_form(
        client,
        "/settings/search",
        {"name": "Remote backend", "original_name": "Remote", "titles": "Engineer\nSRE"},
    )
    with user_db(client).read() as conn:
        profiles = profile_q.list_search_profiles(conn)
    assert [(p.name, p.titles) for p in profiles] == [("Remote backend", ["Engineer", "SRE"])]
    assert "Remote backend" in client.get("/settings/search?edit=Remote%20backend").text
    post_form(client, "/settings/search/delete", {"name": "Remote backend"})
    with user_db(client).read() as conn:
        assert profile_q.list_search_profiles(conn) == []


def test_a_search_profile_with_bad_numbers_is_refused(client: TestClient) -> None:
    response = post_form(
        client,
        "/settings/search",
        {"name": "X", "titles": "Dev", "max_age_days": "9999", "salary_floor": "lots"},
    )
    assert response.status_code == 422
    assert "Maximum age must be between 1 and 365" in response.text
    assert "Salary floor must be a number" in response.text


def test_keywords_and_blocklist_are_saved(client: TestClient) -> None:
    post_form(
        client,
        "/settings/keywords",
        {"kw_skill": "Python, SQL", "block_company": "Evil Corp\nBad Ltd"},
    )
    with user_db(client).read() as conn:
        assert profile_q.list_keywords(conn)["skill"] == ["Python", "SQL"]
        assert profile_q.list_blocklist(conn)["company"] == ["Bad Ltd", "Evil Corp"]


def test_llm_backends_are_stored_in_local_mode(client: TestClient) -> None:
    html = client.get("/settings/llm").text
    assert "No backend to test" in html
    response = post_form(
        client,
        "/settings/llm",
        {
            "b-0-name": "local",
            "b-0-kind": "ollama",
            "b-0-base_url": "http://127.0.0.1:11434",
            "b-0-model": "llama3",
            "b-0-enabled": "1",
        },
    )
    assert _flash(response.text) == ["Saved 1 backend(s)."]
    bad = post_form(client, "/settings/llm", {"b-0-name": "x", "b-0-base_url": "file:///etc"})
    assert bad.status_code == 422
    assert "must start with http" in bad.text


# --- Root path ---------------------------------------------------------------------------


def test_every_link_form_and_asset_respects_the_root_path(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"PEREGRINE_DATA_DIR": str(tmp_path / "data"), "PEREGRINE_ROOT_PATH": "/peregrine"}
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8502") as c:
        add_jobs(user_db(c), 60)
        pages = [
            "/",
            "/review",
            "/review?page=2",
            "/settings",
            "/settings/profile",
            "/settings/resume",
            "/settings/search",
            "/settings/keywords",
            "/settings/llm",
            "/settings/data",
            "/settings/privacy",
            "/api/docs",
            "/missing",
        ]
        for path in pages:
            html = c.get(f"/peregrine{path}").text
            urls = re.findall(r'\s(?:href|src|action)="([^"]*)"', html)
            local = [u for u in urls if not u.startswith(("https://", "http://", "#"))]
            assert local, path
            assert all(u.startswith("/peregrine/") for u in local), (path, local)
        response = c.post(
            "/peregrine/review/undo",
            data={"csrf_token": c.cookies.get("peregrine_csrf")},
            follow_redirects=False,
        )
        assert response.headers["location"].startswith("/peregrine/review")
        assert c.get("/peregrine/static/app.css").status_code == 200
        assert "Path=/peregrine" in c.get("/peregrine/").headers.get(
            "set-cookie", "Path=/peregrine"
        )


def test_undo_after_a_bulk_action_puts_back_every_job_it_moved(client: TestClient) -> None:
    db = user_db(client)
    ids = add_jobs(db, 4)
    pipeline.move(db, job_id=ids[3], to_status="approved")
    post_form(client, "/review/move", {"action": "dismiss", "job_id": ids[:3]})
    response = post_form(client, "/review/undo", {})
    assert _flash(response.text) == ["Undone: 3 jobs are back in to review."]
    assert [_status(client, i) for i in ids] == ["pending", "pending", "pending", "approved"]
    # The remembered action is spent; the next undo takes the latest remaining move.
    response = post_form(client, "/review/undo", {})
    assert _flash(response.text) == ["Undone: 1 job is back in to review."]
    assert _status(client, ids[3]) == "pending"


def test_undo_leaves_a_job_that_moved_on_since(client: TestClient) -> None:
    db = user_db(client)
    ids = add_jobs(db, 2)
    post_form(client, "/review/move", {"action": "approve", "job_id": ids})
    pipeline.move(db, job_id=ids[0], to_status="applied")
    response = post_form(client, "/review/undo", {})
    assert _flash(response.text) == ["Undone: 1 job is back in to review."]
    assert [_status(client, i) for i in ids] == ["applied", "pending"]


def test_review_survives_odd_scorer_output(client: TestClient) -> None:
    db = user_db(client)
    [job_id] = add_jobs(db, 1, title="Odd one")
    with db.write() as conn:
        conn.execute(
            "UPDATE jobs SET match_explanation = '[1, 2]', flags = '{\"a\": 1}' WHERE id = ?",
            (job_id,),
        )
    response = client.get("/review")
    assert response.status_code == 200
    assert "Odd one" in response.text


def test_a_changed_job_is_never_shown_from_a_stale_card(client: TestClient) -> None:
    db = user_db(client)
    [job_id] = add_jobs(db, 1, description="<p>First text</p>")
    assert "First text" in client.get("/review").text
    with db.write() as conn:
        conn.execute("UPDATE jobs SET description = '<p>Second text</p>' WHERE id = ?", (job_id,))
        job_q.set_flags(conn, job_id=job_id, flags=["already_applied"], applied_match_id=None)
    html = client.get("/review").text
    assert "Second text" in html
    assert "First text" not in html
    assert "You applied to this before" in html


def test_a_new_source_and_a_reused_id_show_on_the_review_page(client: TestClient) -> None:
    db = user_db(client)
    [job_id] = add_jobs(db, 1, title="Listed once", source="indeed")
    assert "via indeed<" in client.get("/review").text
    with db.write() as conn:
        conn.execute(
            "INSERT INTO job_sources (job_id, source, url, found_at) "
            "VALUES (?, 'greenhouse', 'https://boards.example.org/1', '2026-11-27')",
            (job_id,),
        )
    assert "via indeed, greenhouse<" in client.get("/review").text
    with db.write() as conn:
        job_q.delete_job(conn, job_id=job_id)
    [again] = add_jobs(db, 1, title="Someone else")
    assert again == job_id
    html = client.get("/review").text
    assert "Someone else" in html
    assert "Listed once" not in html


def test_a_cached_review_page_carries_each_browsers_own_csrf_token(
    local_settings: Settings,
) -> None:
    app = create_app(local_settings)
    with (
        TestClient(app, base_url="http://127.0.0.1:8502") as alice,
        TestClient(app, base_url="http://127.0.0.1:8502") as bob,
    ):
        add_jobs(user_db(alice), 2)
        pages = []
        for browser in (alice, bob, alice):
            html = browser.get("/review").text
            token = browser.cookies.get("peregrine_csrf")
            assert token
            assert html.count(f'value="{token}"') >= 2
            assert f'<meta name="csrf-token" content="{token}">' in html
            pages.append(html.replace(token, "TOKEN"))
        assert alice.cookies.get("peregrine_csrf") != bob.cookies.get("peregrine_csrf")
        # The same page apart from the token: the second and third came from the cache.
        assert pages[0] == pages[1] == pages[2]


def test_a_cached_review_page_escapes_an_odd_cookie_token(client: TestClient) -> None:
    add_jobs(user_db(client), 1)
    client.get("/review")
    odd = 'x"><b>bold</b>' + "y" * 20
    client.cookies.set("peregrine_csrf", odd)
    html = client.get("/review").text
    assert "<b>bold</b>" not in html
    assert 'content="x&#34;&gt;&lt;b&gt;bold&lt;/b&gt;' in html


def test_a_flash_shows_once_on_the_review_page(client: TestClient) -> None:
    [job_id] = add_jobs(user_db(client), 1)
    client.get("/review")
    moved = post_form(client, "/review/move", {"act": f"approve:{job_id}"})
    assert "Approved 1 job" in moved.text
    assert "Approved 1 job" not in client.get("/review").text


def test_the_page_cache_size_is_a_setting_and_zero_turns_it_off(
    local_settings: Settings,
) -> None:
    for megabytes, kept in ((192, 1), (0, 0)):
        app = create_app(dataclasses.replace(local_settings, page_cache_mb=megabytes))
        with TestClient(app, base_url="http://127.0.0.1:8502") as client:
            title = f"Cache of {megabytes} MiB"
            [job_id] = add_jobs(user_db(client), 1, title=title)
            for _ in range(2):
                assert title in client.get("/review").text
                assert job_id in [j["id"] for j in client.get("/api/v1/jobs").json()["items"]]
            assert len(app.state.__dict__["review_pages"]) == kept
            assert len(app.state.__dict__["api_job_pages"]) == kept
            # Still correct after a change, whether it came from a cache or not.
            with user_db(client).write() as conn:
                conn.execute("DELETE FROM jobs WHERE id <> ?", (job_id,))
                conn.execute("UPDATE jobs SET title = ? WHERE id = ?", (f"{title}!", job_id))
            assert f"{title}!" in client.get("/review").text
            assert client.get("/api/v1/jobs").json()["items"][0]["title"] == f"{title}!"
