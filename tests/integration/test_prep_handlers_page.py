"""The research and prep task handlers write what the prep page reads, and regenerating prep
keeps what the user wrote."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from peregrine.app import create_app
from peregrine.lib.clock import now_iso
from peregrine.settings import Settings
from peregrine.storage.queries import prep as prep_q
from peregrine.storage.userdb import UserDB
from tests.support.llm_servers import FakeLLMServer, backend_entry, fake_llm
from tests.support.seed import seed_alice, use_backend

BRIEF = {
    "overview": "Hydra Energy builds grid batteries.",
    "red_flags": "High churn in sales.",
    "talking_points": "Your deploy-time work at Initech.",
}
QA = [{"question": "How do you run Kubernetes upgrades?", "answer": "One node pool at a time."}]


def wait_for(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


@pytest.fixture
def model() -> Iterator[FakeLLMServer]:
    with fake_llm("ollama") as srv:
        yield srv


@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Settings.from_env({"PEREGRINE_DATA_DIR": str(tmp_path / "data")}))
    with TestClient(app, base_url="http://127.0.0.1:8502") as client:
        yield client


def run_task(client: TestClient, db: UserDB, kind: str, job_id: int) -> None:
    info = client.app.state.tasks.submit(db, kind=kind, job_id=job_id)  # type: ignore[attr-defined]

    def done() -> bool:
        with db.read() as conn:
            row = conn.execute("SELECT status, error FROM tasks WHERE id = ?", (info.id,))
            status, error = row.fetchone()
        assert status not in ("failed", "cancelled", "interrupted"), error
        return bool(status == "succeeded")

    wait_for(done)


def test_research_and_prep_tasks_show_on_the_prep_page(
    app_client: TestClient, model: FakeLLMServer
) -> None:
    db: UserDB = app_client.app.state.tenancy.db  # type: ignore[attr-defined]
    job_id = seed_alice(db)
    use_backend(db, backend_entry(model, "main", model="m"))

    model.behaviour.text = json.dumps(BRIEF)
    run_task(app_client, db, "research", job_id)
    model.behaviour.text = json.dumps(QA)
    run_task(app_client, db, "prep", job_id)

    page = app_client.get(f"/prep/{job_id}")
    assert page.status_code == 200
    assert "Hydra Energy builds grid batteries." in page.text
    assert "High churn in sales." in page.text
    assert "How do you run Kubernetes upgrades?" in page.text
    assert "One node pool at a time." in page.text
    assert "Your deploy-time work at Initech." in page.text


def test_regenerating_prep_keeps_the_users_notes_points_and_questions(
    app_client: TestClient, model: FakeLLMServer
) -> None:
    db: UserDB = app_client.app.state.tenancy.db  # type: ignore[attr-defined]
    job_id = seed_alice(db)
    use_backend(db, backend_entry(model, "main", model="m"))
    with db.write() as conn:
        prep_q.save_prep(
            conn,
            job_id=job_id,
            talking_points="My own points about batteries.",
            practice_qa=[{"question": "Why Hydra?", "answer": "Climate work matters to me."}],
            notes="Ask about on-call rota.",
            now=now_iso(),
        )
    model.behaviour.text = json.dumps(
        [*QA, {"question": "why hydra?", "answer": "A generated duplicate."}]
    )
    run_task(app_client, db, "prep", job_id)

    with db.read() as conn:
        stored = prep_q.get_prep(conn, job_id=job_id)
    assert stored.notes == "Ask about on-call rota."
    assert stored.talking_points == "My own points about batteries."
    assert stored.practice_qa == [
        {"question": "Why Hydra?", "answer": "Climate work matters to me."},
        QA[0],
    ]
    page = app_client.get(f"/prep/{job_id}")
    assert "Ask about on-call rota." in page.text
    assert "How do you run Kubernetes upgrades?" in page.text
