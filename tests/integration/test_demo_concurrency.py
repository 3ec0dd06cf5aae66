"""Demo sandboxes under more visitors than there are open handles (32).

The handle LRU used to close the least recently used sandbox handle outright, so a request
(or a background task) still holding it failed with "database handle is closed". Handles
are now leased: eviction retires a borrowed handle and its last borrower closes it.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from peregrine.app import create_app
from peregrine.demo.seed import build_seed
from peregrine.settings import Settings
from peregrine.tasks.model import TaskContext
from peregrine.tenancy.demo import _OPEN_HANDLES_MAX, VISITOR_COOKIE, DemoTenancy, new_token

VISITORS = _OPEN_HANDLES_MAX + 16


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo-seed") / "staging.db"
    build_seed(path, today=date(2026, 11, 27))
    return path


@pytest.fixture
def demo_folder(tmp_path: Path, seeded: Path) -> Path:
    folder = tmp_path / "demo"
    folder.mkdir()
    (folder / "staging.db").write_bytes(seeded.read_bytes())
    return folder


def _settings(folder: Path) -> Settings:
    # Room on disk for every visitor: this is about open handles, not the sandbox cap.
    return Settings.from_env(
        {"DEMO_MODE": "true", "PEREGRINE_DATA_DIR": str(folder), "DEMO_MAX_SANDBOXES": "200"}
    )


@pytest.fixture
def tenancy(demo_folder: Path) -> Iterator[DemoTenancy]:
    tenancy = DemoTenancy(_settings(demo_folder))
    tenancy.start()
    try:
        yield tenancy
    finally:
        tenancy.stop()


def test_a_borrowed_sandbox_survives_more_visitors_than_open_handles(
    tenancy: DemoTenancy,
) -> None:
    first = new_token()
    with tenancy.borrow_sandbox(first) as (held, _):
        with ExitStack() as others:
            for _ in range(VISITORS):
                others.enter_context(tenancy.borrow_sandbox(new_token()))
            # Evicted from the LRU long ago, but still borrowed: it must keep working.
            assert not held.closed
            with held.write() as conn:
                conn.execute("UPDATE jobs SET notes = 'mine' WHERE id = 1")
        assert len(tenancy.registry) <= _OPEN_HANDLES_MAX
        assert held.execute("SELECT notes FROM jobs WHERE id = 1")[0][0] == "mine"
    # The last borrower closed the retired handle; the visitor's next request reopens it.
    assert held.closed
    with tenancy.borrow_sandbox(first) as (again, created):
        assert again is not held
        assert not created
        assert again.execute("SELECT notes FROM jobs WHERE id = 1")[0][0] == "mine"


def test_a_borrowed_sandbox_is_not_dropped_to_make_room(demo_folder: Path) -> None:
    settings = Settings.from_env(
        {"DEMO_MODE": "true", "PEREGRINE_DATA_DIR": str(demo_folder), "DEMO_MAX_SANDBOXES": "2"}
    )
    tenancy = DemoTenancy(settings)
    tenancy.start()
    try:
        with tenancy.borrow_sandbox(new_token()) as (held, _):
            for _ in range(3):
                with tenancy.borrow_sandbox(new_token()):
                    pass
            assert held.path.exists()
            assert held.execute("SELECT count(*) FROM jobs")[0][0] == 40
        # Once returned, it is the oldest and goes with the next newcomer.
        with tenancy.borrow_sandbox(new_token()):
            pass
        assert not held.path.exists()
    finally:
        tenancy.stop()


def test_many_more_visitors_than_handles_hammering_at_once_all_succeed(
    demo_folder: Path,
) -> None:
    app = create_app(_settings(demo_folder))
    with TestClient(app, base_url="http://127.0.0.1:8504") as first:
        visitors = [first] + [
            TestClient(app, base_url="http://127.0.0.1:8504") for _ in range(VISITORS - 1)
        ]
        # Everyone gets a sandbox first, so the concurrent part is all about handles.
        pending = {}
        for number, visitor in enumerate(visitors):
            response = visitor.get("/api/v1/jobs", params={"status": "pending"})
            assert response.status_code == 200, response.text
            pending[number] = response.json()["items"][0]["id"]
        rng = random.Random(9)
        work = [n for n in range(VISITORS) for _ in range(8)]
        rng.shuffle(work)
        notes = {n: f"visitor {n} was here" for n in range(VISITORS)}
        lock = threading.Lock()
        rounds = dict.fromkeys(range(VISITORS), 0)

        def hit(number: int) -> list[str]:
            visitor = visitors[number]
            with lock:
                rounds[number] += 1
                step = rounds[number]
            job_id = pending[number]
            if step == 1:
                response = visitor.patch(f"/api/v1/jobs/{job_id}", json={"notes": notes[number]})
            elif step == 2:
                response = visitor.post(f"/api/v1/jobs/{job_id}/move", json={"status": "approved"})
            else:
                response = visitor.get("/api/v1/jobs", params={"limit": 50})
            if response.status_code != 200:
                return [f"visitor {number} step {step}: {response.status_code} {response.text}"]
            return []

        with ThreadPoolExecutor(max_workers=VISITORS) as pool:
            problems = [p for found in pool.map(hit, work) for p in found]
        assert problems == []
        for number, visitor in enumerate(visitors):
            job = visitor.get(f"/api/v1/jobs/{pending[number]}").json()
            assert job["status"] == "approved"
            assert job["notes"] == notes[number]
        assert len(app.state.tenancy.registry) <= _OPEN_HANDLES_MAX


def _wait_for(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_a_visitors_task_runs_in_their_sandbox_after_their_handle_was_evicted(
    demo_folder: Path,
) -> None:
    app = create_app(_settings(demo_folder))
    gate = threading.Event()

    def mark(ctx: TaskContext) -> dict[str, Any]:
        # Held until more visitors than open handles have come by.
        gate.wait(10)
        with ctx.db.write() as conn:
            conn.execute(
                "INSERT INTO preferences (key, value) VALUES ('mark', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (f'"{ctx.params["who"]}"',),
            )
        return {"who": ctx.params["who"]}

    app.state.tasks.registry.register("mark", mark)
    with TestClient(app, base_url="http://127.0.0.1:8504") as alice:
        submitted = alice.post("/api/v1/tasks", json={"kind": "mark", "params": {"who": "alice"}})
        assert submitted.status_code == 202, submitted.text
        for _ in range(VISITORS):
            crowd = TestClient(app, base_url="http://127.0.0.1:8504")
            assert crowd.get("/api/v1/jobs").status_code == 200
        gate.set()
        task_id = submitted.json()["id"]

        def finished() -> bool:
            status = alice.get(f"/api/v1/tasks/{task_id}").json()
            assert status["status"] in ("queued", "running", "succeeded"), status
            return bool(status["status"] == "succeeded")

        _wait_for(finished)
        with app.state.tenancy.borrow_sandbox(alice.cookies[VISITOR_COOKIE]) as (db, _):
            assert db.execute("SELECT value FROM preferences WHERE key = 'mark'")[0][0] == (
                '"alice"'
            )
