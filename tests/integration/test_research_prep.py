"""Research briefs and interview prep against a loopback model and a loopback SearXNG."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from peregrine.lib.clock import now_iso
from peregrine.llm.router import build_router
from peregrine.services import prep, research
from peregrine.settings import Settings
from peregrine.storage.queries import answers as answer_q
from peregrine.storage.queries import prep as prep_q
from peregrine.storage.userdb import UserDB
from tests.support.llm_servers import FakeLLMServer, backend_entry, fake_llm
from tests.support.seed import seed_alice, use_backend

BRIEF = {
    "overview": "Hydra Energy builds grid batteries.",
    "leadership_and_culture": "unknown",
    "product_and_tech": "Kubernetes, Terraform.",
    "funding_and_market": "Series B in 2025.",
    "recent_news": ["Opened a Leeds office"],
    "red_flags": "None found.",
    "talking_points": "Your deploy-time work at Initech; your Umbrella Health on-call work.",
}


class SearxServer:
    """SearXNG's /search?format=json, replaying a recorded result list."""

    def __init__(self) -> None:
        self.queries: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:
                from urllib.parse import parse_qs, urlparse

                query = parse_qs(urlparse(self.path).query)
                outer.queries.append(query["q"][0])
                assert query["format"] == ["json"]
                raw = json.dumps(
                    {
                        "query": query["q"][0],
                        "results": [
                            {
                                "title": "Hydra Energy raises <b>Series B</b>",
                                "url": "https://news.example/hydra-b",
                                "content": "<script>x()</script>Battery maker raises funds",
                            },
                            {"title": "bad", "url": "javascript:alert(1)", "content": ""},
                        ],
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def searx() -> Iterator[SearxServer]:
    server = SearxServer()
    yield server
    server.stop()


@pytest.fixture
def model() -> Iterator[FakeLLMServer]:
    with fake_llm("ollama") as srv:
        yield srv


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"PEREGRINE_DATA_DIR": str(tmp_path / "data")})


def prompts(server: FakeLLMServer) -> list[str]:
    return ["\n".join(m["content"] for m in r.body["messages"]) for r in server.chat_requests()]


def test_research_uses_search_results_and_masks_nda(
    model: FakeLLMServer, searx: SearxServer, db: UserDB, settings: Settings
) -> None:
    job_id = seed_alice(db)
    use_backend(db, backend_entry(model, "main", model="m"))
    model.behaviour.text = "Here you go:\n```json\n" + json.dumps(BRIEF) + "\n```"
    router = build_router(settings)
    outcome = research.research_company(db, router, job_id=job_id, searxng_url=searx.url)
    router.close()
    assert len(searx.queries) == 3
    assert '"Hydra Energy"' in searx.queries
    prompt = prompts(model)[0]
    assert "Battery maker raises funds" in prompt
    assert "<script>" not in prompt
    assert "<b>" not in prompt
    assert "javascript:" not in prompt
    assert "Umbrella" not in prompt
    with db.read() as conn:
        stored = prep_q.get_research(conn, job_id=job_id)
    assert stored is not None
    assert stored.sources == ["https://news.example/hydra-b"]
    assert stored.brief["recent_news"] == "- Opened a Leeds office"
    # A model that names an NDA employer anyway has it masked before it is stored.
    assert "Umbrella" not in stored.brief["talking_points"]
    assert set(stored.brief) == set(research.SECTIONS)
    assert outcome["sources"] == 1


def test_research_reads_markdown_sections_when_the_model_ignores_json(
    model: FakeLLMServer, db: UserDB, settings: Settings
) -> None:
    job_id = seed_alice(db)
    use_backend(db, backend_entry(model, "main", model="m"))
    model.behaviour.text = "## Overview\nMakes batteries.\n\n## Red flags\nHigh churn."
    router = build_router(settings)
    research.research_company(db, router, job_id=job_id, searxng_url=None)
    router.close()
    with db.read() as conn:
        brief = prep_q.get_research(conn, job_id=job_id).brief  # type: ignore[union-attr]
    assert brief == {"overview": "Makes batteries.", "red_flags": "High churn."}


def test_research_with_an_unreadable_answer_saves_nothing(
    model: FakeLLMServer, db: UserDB, settings: Settings
) -> None:
    job_id = seed_alice(db)
    use_backend(db, backend_entry(model, "main", model="m"))
    model.behaviour.text = "I cannot help with that."
    router = build_router(settings)
    with pytest.raises(research.ResearchError, match="nothing was saved"):
        research.research_company(db, router, job_id=job_id, searxng_url=None)
    router.close()
    with db.read() as conn:
        assert prep_q.get_research(conn, job_id=job_id) is None


def test_prep_writes_practice_answers_and_a_recruiter_reply(
    model: FakeLLMServer, db: UserDB, settings: Settings
) -> None:
    job_id = seed_alice(db)
    use_backend(db, backend_entry(model, "main", model="m"))
    now = now_iso()
    with db.write() as conn:
        prep_q.save_research(
            conn, job_id=job_id, company="Hydra Energy", brief=BRIEF, sources=[], now=now
        )
        conn.execute(
            "INSERT INTO application_answers (job_id, question, created_at, updated_at) "
            "VALUES (?, 'Why Hydra?', ?, ?)",
            (job_id, now, now),
        )
        conn.execute(
            "INSERT INTO messages (job_id, direction, subject, body, at) "
            "VALUES (?, 'in', 'Next steps', 'Can you talk Tuesday?', ?)",
            (job_id, now),
        )
    model.behaviour.text = json.dumps(
        [{"question": "Tell me about Kubernetes", "answer": "At Initech I ran 40 services."}]
    )
    router = build_router(settings)
    outcome = prep.prepare(db, router, job_id=job_id)
    router.close()
    assert outcome == {"questions": 1, "answers": 1, "reply": True}
    sent = prompts(model)
    assert "Why Hydra?" in sent[1]
    assert "Can you talk Tuesday?" in sent[2]
    assert all("Umbrella" not in p for p in sent)
    with db.read() as conn:
        stored = prep_q.get_prep(conn, job_id=job_id)
        answers = answer_q.list_for_job(conn, job_id=job_id)
    assert stored.practice_qa[0]["question"] == "Tell me about Kubernetes"
    assert stored.recruiter_reply
    assert "Initech" in stored.talking_points
    assert answers[0].answer
