"""Cover letters end to end: facts in the prompt, NDA masking, versions, bad model output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from peregrine.app import create_app
from peregrine.demo.seed import build_seed
from peregrine.llm.router import build_router
from peregrine.services import cover_letters, letter_pdf
from peregrine.services.cover_letters import LetterError, LetterOutputError
from peregrine.settings import Settings
from peregrine.storage.queries import letter_versions as letter_q
from peregrine.storage.userdb import UserDB
from peregrine.tenancy.demo import VISITOR_COOKIE
from tests.support.llm_servers import FakeLLMServer, backend_entry, fake_llm
from tests.support.seed import LETTER, seed_alice, use_backend


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with fake_llm("openai_compat") as srv:
        srv.behaviour.text = LETTER
        yield srv


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"PEREGRINE_DATA_DIR": str(tmp_path / "data")})


def sent_prompt(server: FakeLLMServer) -> str:
    messages = server.chat_requests()[-1].body["messages"]
    return "\n".join(m["content"] for m in messages)


def test_the_prompt_carries_resume_facts_gaps_and_rules_and_masks_nda(
    server: FakeLLMServer, db: UserDB, settings: Settings
) -> None:
    job_id = seed_alice(db)
    use_backend(db, backend_entry(server, "main", model="m"))
    router = build_router(settings)
    letter = cover_letters.generate(db, router, job_id=job_id)
    router.close()
    prompt = sent_prompt(server)
    # The most relevant experiences, with their real titles and dates.
    assert "Senior Platform Engineer at Initech (2019-03 – present)" in prompt
    assert "Cut deploy time from 40 to 6 minutes" in prompt
    assert "Site Reliability Engineer at [confidential company] (2016-01 – 2019-02)" in prompt
    # The barista job shares nothing with a platform role and is left out.
    assert "Barista" not in prompt
    # NDA employer never reaches the model.
    assert "Umbrella" not in prompt
    # Matched skills and the gaps the job asks for.
    assert "Kubernetes, Terraform, PostgreSQL" in prompt
    gaps = prompt.split("## Gaps")[1].split("##")[0]
    assert "Rust" in gaps
    assert "Kafka" in gaps
    # Mission, voice, style example and the never-invent rule.
    assert "climate change" in prompt
    assert "calm, concrete, a little dry" in prompt
    assert "quiet infrastructure" in prompt
    assert "Never invent or change employers" in prompt
    assert letter.version == 1
    assert letter.origin == "generated"
    assert letter.backend == "main"
    assert letter.body.startswith("Dear Hiring Manager,")


def test_refining_with_feedback_creates_a_new_version(
    server: FakeLLMServer, db: UserDB, settings: Settings
) -> None:
    job_id = seed_alice(db)
    use_backend(db, backend_entry(server, "main", model="m"))
    router = build_router(settings)
    first = cover_letters.generate(db, router, job_id=job_id)
    second = cover_letters.generate(db, router, job_id=job_id, feedback="Shorter, please")
    router.close()
    prompt = sent_prompt(server)
    assert "## The current version of the letter" in prompt
    assert "Shorter, please" in prompt
    assert (second.version, second.origin, second.feedback) == (2, "refined", "Shorter, please")
    with db.read() as conn:
        versions = letter_q.list_versions(conn, job_id=job_id)
    assert [v.version for v in versions] == [2, 1]
    assert first.body == versions[1].body


def test_garbage_model_output_saves_nothing(
    server: FakeLLMServer, db: UserDB, settings: Settings
) -> None:
    job_id = seed_alice(db)
    cover_letters.save_edit(db, job_id=job_id, body="My own careful draft.")
    use_backend(db, backend_entry(server, "main", model="m"))
    server.behaviour.text = "{{{ ]]] ### 0x0 0x0 0x0 !!! ??? ### ]]] {{{ 0x0"
    router = build_router(settings)
    with pytest.raises(LetterOutputError, match="nothing was saved"):
        cover_letters.generate(db, router, job_id=job_id)
    router.close()
    with db.read() as conn:
        versions = letter_q.list_versions(conn, job_id=job_id)
    assert [(v.version, v.body) for v in versions] == [(1, "My own careful draft.")]


def test_a_resume_without_experience_is_a_clear_error(
    server: FakeLLMServer, db: UserDB, settings: Settings
) -> None:
    job_id = seed_alice(db, resume={"experiences": [], "skills": ["Python"]})
    use_backend(db, backend_entry(server, "main", model="m"))
    router = build_router(settings)
    with pytest.raises(LetterError, match="no work experience"):
        cover_letters.generate(db, router, job_id=job_id)
    router.close()
    assert server.requests == []


def test_a_50000_word_description_is_truncated(
    server: FakeLLMServer, db: UserDB, settings: Settings
) -> None:
    huge = "Kubernetes platform work. " + "word " * 50_000
    job_id = seed_alice(db, description=huge)
    use_backend(db, backend_entry(server, "main", model="m"))
    router = build_router(settings)
    cover_letters.generate(db, router, job_id=job_id)
    router.close()
    prompt = sent_prompt(server)
    assert "description shortened: 48503 more words" in prompt
    assert len(prompt.split()) < 3000


def test_clean_letter_trims_run_on_endings_and_adds_salutation() -> None:
    raw = (
        "Here is your cover letter:\n\n"
        "I am excited to apply. I have run Kubernetes for five years and automated much of it. "
        "I care about reliable systems and calm on-call rotations for everyone involved. "
        "I would love to talk about how I can help your team and also"
    )
    cleaned = cover_letters.clean_letter(raw, full_name="Alice")
    assert cleaned.startswith("Dear Hiring Manager,\n\nI am excited")
    assert "Here is" not in cleaned
    assert "and also" not in cleaned
    assert cleaned.endswith("calm on-call rotations for everyone involved.\n\nSincerely,\nAlice")


def test_clean_letter_uses_the_requested_salutation() -> None:
    body = "Dear Sir or Madam,\n\n" + "I build platforms that stay up at night. " * 10
    cleaned = cover_letters.clean_letter(body, full_name="Alice", salutation="Dear Ms Rivera,")
    assert cleaned.startswith("Dear Ms Rivera,\n")
    assert "Sir or Madam" not in cleaned


def test_the_pdf_round_trips_unicode_and_markup_characters() -> None:
    body = (
        "Dear Señora Łukasiewicz,\n\n"
        "I wrote <b>tags</b> & ampersands into this letter for Zoë at Crème Brûlée GmbH.\n\n"
        + "Steady work matters. " * 60
        + "\n\nSincerely,\nAlice Ńowak-Müller"
    )
    pdf = letter_pdf.render_letter(
        name="Alice Ńowak-Müller",
        contact="alice@example.org · Leeds",
        date=date(2026, 11, 27),
        body=body,
    )
    reader = PdfReader(BytesIO(pdf))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    for expected in (
        "Alice Ńowak-Müller",
        "Señora Łukasiewicz",
        "<b>tags</b> & ampersands",
        "Zoë",
        "Crème Brûlée",
        "27 November 2026",
    ):
        assert expected in text


def test_a_very_long_letter_still_fits_one_page() -> None:
    body = "\n\n".join(
        "A paragraph of careful, honest prose about platforms. " * 6 for _ in range(7)
    )
    pdf = letter_pdf.render_letter(name="Alice", contact="", date=date(2026, 11, 27), body=body)
    assert len(PdfReader(BytesIO(pdf)).pages) == 1


def test_the_letters_api_generates_refines_edits_and_exports(
    server: FakeLLMServer, settings: Settings
) -> None:
    app = create_app(settings)
    with TestClient(app, base_url="http://127.0.0.1:8502") as client:
        db: UserDB = app.state.tenancy.db
        job_id = seed_alice(db)
        use_backend(db, backend_entry(server, "main", model="m"))
        task = client.post(f"/api/v1/jobs/{job_id}/letters/generate", json={"target_words": 250})
        assert task.status_code == 202
        assert task.json()["kind"] == "cover_letter"
        done = _wait_task(client, task.json()["id"])
        assert done["status"] == "succeeded", done
        assert done["result"]["version"] == 1
        assert "about 250 words" in sent_prompt(server)
        refine = client.post(f"/api/v1/jobs/{job_id}/letters/refine", json={"feedback": "Warmer"})
        assert _wait_task(client, refine.json()["id"])["result"]["origin"] == "refined"
        edit = client.post(f"/api/v1/jobs/{job_id}/letters", json={"body": "Dear team, <hi> & bye"})
        assert edit.status_code == 201
        assert edit.json()["version"] == 3
        listed = client.get(f"/api/v1/jobs/{job_id}/letters").json()["items"]
        assert [(v["version"], v["origin"]) for v in listed] == [
            (3, "edited"),
            (2, "refined"),
            (1, "generated"),
        ]
        assert (
            client.get(f"/api/v1/jobs/{job_id}").json()["cover_letter"] == "Dear team, <hi> & bye"
        )
        pdf = client.get(f"/api/v1/jobs/{job_id}/letters/3/pdf")
        assert pdf.headers["content-type"] == "application/pdf"
        assert "<hi> & bye" in PdfReader(BytesIO(pdf.content)).pages[0].extract_text()
        assert client.get(f"/api/v1/jobs/{job_id}/letters/9/pdf").status_code == 404
        assert client.get("/api/v1/jobs/999/letters").status_code == 404
        empty = client.post(f"/api/v1/jobs/{job_id}/letters", json={"body": "   "})
        assert empty.status_code == 422
        usage = client.get("/api/v1/llm/usage").json()
        assert usage["summary"][0]["calls"] == 2
        assert usage["summary"][0]["backend"] == "main"


def test_without_a_backend_the_task_fails_with_a_settings_hint(settings: Settings) -> None:
    app = create_app(settings)
    with TestClient(app, base_url="http://127.0.0.1:8502") as client:
        job_id = seed_alice(app.state.tenancy.db)
        status = client.get("/api/v1/llm/status").json()
        assert status["configured"]["writing"] is False
        assert status["settings_link"] == "/settings#llm"
        task = client.post(f"/api/v1/jobs/{job_id}/letters/generate")
        done = _wait_task(client, task.json()["id"])
        assert done["status"] == "failed"
        assert "Settings → LLM backends" in done["error"]


def test_demo_mode_fails_letter_tasks_without_calling_any_server(tmp_path: Path) -> None:
    with fake_llm("ollama") as server:
        settings = Settings.from_env(
            {"PEREGRINE_DATA_DIR": str(tmp_path / "data"), "DEMO_MODE": "true"}
        )
        build_seed(settings.staging_db, today=date(2026, 11, 1))
        app = create_app(settings)
        with TestClient(app, base_url="http://127.0.0.1:8504") as client:
            db = _demo_visitor_db(app, client)
            job_id = seed_alice(db)
            use_backend(db, backend_entry(server, "main", model="m"))
            done = _wait_task(
                client, client.post(f"/api/v1/jobs/{job_id}/letters/generate").json()["id"]
            )
            assert done["status"] == "failed"
            assert "public demo" in done["error"]
            assert client.get("/api/v1/llm/status").json()["blocked"] is True
    assert server.requests == []


def _wait_task(client: TestClient, task_id: int) -> dict[str, object]:
    import time

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        info = client.get(f"/api/v1/tasks/{task_id}").json()
        if info["status"] not in ("queued", "running"):
            return dict(info)
        time.sleep(0.05)
    raise AssertionError(json.dumps(info))


def test_a_letter_streams_as_events_and_is_saved(server: FakeLLMServer, settings: Settings) -> None:
    app = create_app(settings)
    with TestClient(app, base_url="http://127.0.0.1:8502") as client:
        db: UserDB = app.state.tenancy.db
        job_id = seed_alice(db)
        use_backend(db, backend_entry(server, "main", model="m"))
        response = client.post(f"/api/v1/jobs/{job_id}/letters/stream", json={"target_words": 200})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [block for block in response.text.split("\n\n") if block]
        texts = [json.loads(e.split("data: ", 1)[1])["text"] for e in events if "event: text" in e]
        assert len(texts) > 10
        assert "".join(texts) == LETTER
        saved = json.loads(events[-1].split("data: ", 1)[1])
        assert events[-1].startswith("event: saved")
        assert (saved["version"], saved["backend"], saved["origin"]) == (1, "main", "generated")
        assert server.chat_requests()[0].body["stream"] is True


def test_streaming_problems_before_the_first_piece_are_json_errors(
    server: FakeLLMServer, tmp_path: Path
) -> None:
    demo = Settings.from_env({"PEREGRINE_DATA_DIR": str(tmp_path / "demo"), "DEMO_MODE": "true"})
    build_seed(demo.staging_db, today=date(2026, 11, 1))
    app = create_app(demo)
    with TestClient(app, base_url="http://127.0.0.1:8504") as client:
        visitor_db = _demo_visitor_db(app, client)
        job_id = seed_alice(visitor_db)
        use_backend(visitor_db, backend_entry(server, "main", model="m"))
        blocked = client.post(f"/api/v1/jobs/{job_id}/letters/stream")
        assert blocked.status_code == 403
        assert blocked.json()["reason"] == "llm_blocked"
    local = Settings.from_env({"PEREGRINE_DATA_DIR": str(tmp_path / "local")})
    app = create_app(local)
    with TestClient(app, base_url="http://127.0.0.1:8502") as client:
        job_id = seed_alice(app.state.tenancy.db)
        missing = client.post(f"/api/v1/jobs/{job_id}/letters/stream")
        assert missing.status_code == 409
        assert missing.json()["settings_link"] == "/settings#llm"
    assert server.requests == []


def _demo_visitor_db(app: Any, client: TestClient) -> Any:
    """The demo sandbox this test client's visitor cookie points at."""
    client.get("/api/v1/jobs")
    return app.state.tenancy.sandbox_for(client.cookies[VISITOR_COOKIE])[0]
