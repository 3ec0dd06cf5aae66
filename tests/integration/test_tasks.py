"""The local task queue: durable rows, dedup, workers, cancel, restart recovery."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from peregrine.app import create_app
from peregrine.settings import Settings
from peregrine.storage.userdb import UserDB
from peregrine.tasks.local import OWNER_OPEN_ATTEMPTS, LocalTaskQueue
from peregrine.tasks.model import TaskContext, TaskError, TaskInfo
from peregrine.tasks.registry import Registry


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


def add_job(db: UserDB, title: str = "Engineer") -> int:
    with db.write() as conn:
        return int(
            conn.execute(
                "INSERT INTO jobs (title, url, date_found, updated_at) VALUES (?, ?, 'now', 'now') "
                "RETURNING id",
                (title, f"https://jobs.example/{title}/{time.monotonic_ns()}"),
            ).fetchone()[0]
        )


@pytest.fixture
def registry() -> Registry:
    return Registry()


@pytest.fixture
def queue(registry: Registry, db: UserDB) -> Iterator[LocalTaskQueue]:
    q = LocalTaskQueue(workers=2, registry=registry)
    q.attach(db)
    yield q
    q.stop()


def finished(queue: LocalTaskQueue, db: UserDB, task_id: int) -> Callable[[], bool]:
    def check() -> bool:
        info = queue.get(db, task_id=task_id)
        return info is not None and info.status not in ("queued", "running")

    return check


def test_a_task_runs_and_stores_its_stages_and_result(
    queue: LocalTaskQueue, registry: Registry, db: UserDB
) -> None:
    seen: list[tuple[str, float]] = []

    def handler(ctx: TaskContext) -> dict[str, Any]:
        ctx.report("halfway", 0.5)
        seen.append((ctx.params["word"], ctx.job_id or 0))
        return {"echo": ctx.params["word"]}

    registry.register("echo", handler)
    queue.start()
    job = add_job(db)
    info = queue.submit(db, kind="echo", job_id=job, params={"word": "hi"})
    assert info.created
    assert info.status == "queued"
    wait_for(finished(queue, db, info.id))
    done = queue.get(db, task_id=info.id)
    assert done is not None
    assert (done.status, done.result, done.progress, done.stage) == (
        "succeeded",
        {"echo": "hi"},
        1.0,
        "done",
    )
    assert done.started_at
    assert done.finished_at
    assert seen == [("hi", job)]


def test_a_duplicate_request_returns_the_active_task(
    queue: LocalTaskQueue, registry: Registry, db: UserDB
) -> None:
    registry.register("slow", lambda ctx: {})
    job = add_job(db)
    first = queue.submit(db, kind="slow", job_id=job)
    again = queue.submit(db, kind="slow", job_id=job, params={"other": 1})
    other_job = queue.submit(db, kind="slow", job_id=add_job(db, "Other"))
    assert first.created
    assert not again.created
    assert again.id == first.id
    assert other_job.id != first.id
    assert db.execute("SELECT count(*) FROM tasks")[0][0] == 2


def test_simultaneous_duplicates_create_one_task(
    queue: LocalTaskQueue, registry: Registry, db: UserDB
) -> None:
    registry.register("slow", lambda ctx: {})
    job = add_job(db)
    results: list[TaskInfo] = []
    threads = [
        threading.Thread(target=lambda: results.append(queue.submit(db, kind="slow", job_id=job)))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.id for r in results}) == 1
    assert sum(r.created for r in results) == 1


def test_an_unknown_kind_is_refused(queue: LocalTaskQueue, db: UserDB) -> None:
    with pytest.raises(TaskError, match="unknown task kind 'nope'"):
        queue.submit(db, kind="nope")


def test_a_failing_handler_stores_its_error(
    queue: LocalTaskQueue, registry: Registry, db: UserDB
) -> None:
    def boom(ctx: TaskContext) -> dict[str, Any]:
        raise ValueError("the job description is empty")

    registry.register("boom", boom)
    queue.start()
    info = queue.submit(db, kind="boom")
    wait_for(finished(queue, db, info.id))
    done = queue.get(db, task_id=info.id)
    assert done is not None
    assert (done.status, done.error) == ("failed", "the job description is empty")


def test_cancel_stops_a_running_task_cooperatively(
    queue: LocalTaskQueue, registry: Registry, db: UserDB
) -> None:
    started = threading.Event()
    steps: list[int] = []

    def long(ctx: TaskContext) -> dict[str, Any]:
        started.set()
        for step in range(500):
            ctx.check()
            steps.append(step)
            time.sleep(0.01)
        return {}

    registry.register("long", long)
    queue.start()
    info = queue.submit(db, kind="long")
    assert started.wait(5)
    assert queue.cancel(db, task_id=info.id) is True
    wait_for(lambda: len(steps) > 0)
    count = len(steps)
    time.sleep(0.2)
    done = queue.get(db, task_id=info.id)
    assert done is not None
    assert done.status == "cancelled"
    assert len(steps) <= count + 2 < 500
    assert queue.cancel(db, task_id=info.id) is False


def test_cancel_of_a_queued_task_means_it_never_runs(registry: Registry, db: UserDB) -> None:
    ran: list[int] = []
    registry.register("x", lambda ctx: ran.append(1) or {})
    queue = LocalTaskQueue(workers=1, registry=registry)
    queue.attach(db)
    info = queue.submit(db, kind="x")
    assert queue.cancel(db, task_id=info.id)
    queue.start()
    time.sleep(0.3)
    queue.stop()
    assert ran == []
    assert queue.get(db, task_id=info.id).status == "cancelled"  # type: ignore[union-attr]


def test_restart_marks_running_interrupted_and_resumes_queued(
    registry: Registry, db_path: Path
) -> None:
    db = UserDB.open(db_path, create=True)
    with db.write() as conn:
        conn.execute(
            "INSERT INTO tasks (type, status, created_at, started_at) "
            "VALUES ('x', 'running', 'then', 'then')"
        )
        conn.execute("INSERT INTO tasks (type, status, created_at) VALUES ('y', 'queued', 'then')")
    db.close()
    # A crash left one task running and one queued; the next server start sees both.
    ran: list[int] = []
    registry.register("x", lambda ctx: ran.append(ctx.task_id) or {"ok": True})
    registry.register("y", lambda ctx: ran.append(ctx.task_id) or {"ok": True})
    db = UserDB.open(db_path)
    queue = LocalTaskQueue(workers=1, registry=registry)
    assert queue.attach(db) == 1
    queue.start()
    wait_for(lambda: ran == [2])
    wait_for(finished(queue, db, 2))
    queue.stop()
    interrupted = queue.get(db, task_id=1)
    assert interrupted is not None
    assert interrupted.status == "interrupted"
    assert "can be retried" in (interrupted.error or "")
    assert queue.get(db, task_id=2).status == "succeeded"  # type: ignore[union-attr]
    # Retrying an interrupted task queues the same work again.
    retried = queue.retry(db, task_id=1)
    assert retried is not None
    assert retried.created
    assert retried.kind == "x"
    db.close()


def test_the_http_api_submits_lists_and_cancels(tmp_path: Path) -> None:
    settings = Settings.from_env({"PEREGRINE_DATA_DIR": str(tmp_path / "data")})
    app = create_app(settings)
    gate = threading.Event()

    def waits(ctx: TaskContext) -> dict[str, Any]:
        ctx.report("waiting", 0.1)
        while not gate.is_set():
            ctx.check()
            time.sleep(0.01)
        return {"ok": True}

    app.state.tasks.registry.register("waits", waits)
    with TestClient(app, base_url="http://127.0.0.1:8502") as client:
        job = client.post("/api/v1/jobs", json={"url": "https://jobs.example/1", "title": "Dev"})
        job_id = job.json()["id"]
        first = client.post("/api/v1/tasks", json={"kind": "waits", "job_id": job_id})
        assert first.status_code == 202
        assert first.json()["created"] is True
        dup = client.post("/api/v1/tasks", json={"kind": "waits", "job_id": job_id})
        assert dup.json()["id"] == first.json()["id"]
        assert dup.json()["created"] is False
        task_id = first.json()["id"]
        wait_for(lambda: client.get(f"/api/v1/tasks/{task_id}").json()["stage"] == "waiting")
        active = client.get("/api/v1/tasks?active=1").json()["items"]
        assert [t["id"] for t in active] == [task_id]
        cancelled = client.post(f"/api/v1/tasks/{task_id}/cancel").json()
        assert cancelled["cancelled"] is True
        assert cancelled["status"] == "cancelled"
        assert client.get("/api/v1/tasks?active=1").json()["items"] == []
        assert client.get("/api/v1/tasks/999").status_code == 404
        assert client.post("/api/v1/tasks/999/cancel").status_code == 404
        unknown = client.post("/api/v1/tasks", json={"kind": "nope"})
        assert unknown.status_code == 422
        assert "unknown task kind" in unknown.json()["error"]
        missing_job = client.post("/api/v1/tasks", json={"kind": "waits", "job_id": 999})
        assert missing_job.status_code == 404
        retried = client.post(f"/api/v1/tasks/{task_id}/retry")
        assert retried.status_code == 202
        assert retried.json()["id"] != task_id
        assert retried.json()["created"] is True
        assert client.post("/api/v1/tasks/999/retry").status_code == 404
        bad = client.post(
            "/api/v1/tasks",
            json={"kind": "cover_letter", "job_id": job_id, "params": {"target_words": "many"}},
        )
        wait_for(
            lambda: client.get(f"/api/v1/tasks/{bad.json()['id']}").json()["status"] == "failed"
        )
        assert "target_words must be a whole number" in str(
            client.get(f"/api/v1/tasks/{bad.json()['id']}").json()["error"]
        )
        gate.set()


def test_tasks_of_two_users_stay_apart(registry: Registry, tmp_path: Path) -> None:
    alice = UserDB.open(tmp_path / "alice" / "staging.db", create=True)
    bob = UserDB.open(tmp_path / "bob" / "staging.db", create=True)
    started = threading.Event()
    gate = threading.Event()

    def waits(ctx: TaskContext) -> dict[str, Any]:
        started.set()
        while not gate.is_set():
            ctx.check()
            time.sleep(0.01)
        return {"db": ctx.db.path.parent.name}

    registry.register("waits", waits)
    queue = LocalTaskQueue(workers=1, registry=registry)
    queue.attach(alice)
    queue.attach(bob)
    queue.start()
    alices = queue.submit(alice, kind="waits")
    assert started.wait(5)
    bobs = queue.submit(bob, kind="waits")
    # Both are task 1 in their own database; bob cancelling his must not touch alice's.
    assert alices.id == bobs.id == 1
    assert queue.cancel(bob, task_id=1)
    time.sleep(0.1)
    assert queue.get(alice, task_id=1).status == "running"  # type: ignore[union-attr]
    gate.set()
    wait_for(finished(queue, alice, 1))
    queue.stop()
    assert queue.get(alice, task_id=1).result == {"db": "alice"}  # type: ignore[union-attr]
    assert queue.get(bob, task_id=1).status == "cancelled"  # type: ignore[union-attr]
    assert [t.id for t in queue.list_tasks(bob)] == [1]
    alice.close()
    bob.close()


def test_a_result_that_is_not_json_fails_the_task_instead_of_hanging(
    queue: LocalTaskQueue, registry: Registry, db: UserDB
) -> None:
    registry.register("odd", lambda ctx: {"when": object()})
    queue.start()
    info = queue.submit(db, kind="odd")
    wait_for(finished(queue, db, info.id))
    done = queue.get(db, task_id=info.id)
    assert done is not None
    assert done.status == "failed"
    assert "not JSON serializable" in (done.error or "")


def test_an_owner_whose_database_cannot_be_opened_is_given_up_after_backing_off(
    registry: Registry, db: UserDB, caplog: pytest.LogCaptureFixture
) -> None:
    registry.register("noop", lambda ctx, params: {})
    opened: list[str] = []

    @contextmanager
    def lease(owner: str) -> Iterator[UserDB]:
        opened.append(owner)
        raise OSError("the account was erased")
        yield db  # pragma: no cover

    queue = LocalTaskQueue(workers=1, registry=registry)
    queue.open_through(owner_of=lambda _db: "alice", lease=lease)
    queue.submit(db, kind="noop")
    for attempt in range(1, OWNER_OPEN_ATTEMPTS + 1):
        assert queue._run_one() is False
        assert len(opened) == attempt
        # Backing off: a poll before the next try does not open the database again.
        assert queue._run_one() is False
        assert len(opened) == attempt
        if attempt < OWNER_OPEN_ATTEMPTS:
            failures, _next_try = queue._open_failures["alice"]
            queue._open_failures["alice"] = (failures, 0.0)
    # Given up: no more opens, one warning, and the task is still queued in its database.
    assert queue._run_one() is False
    assert len(opened) == OWNER_OPEN_ATTEMPTS
    assert "giving up on a task owner's database" in caplog.text
    assert [t.status for t in queue.list_tasks(db)] == ["queued"]
    # A new submit brings the owner back for a fresh try.
    queue.submit(db, kind="noop", params={"again": True})
    queue._run_one()
    assert len(opened) == OWNER_OPEN_ATTEMPTS + 1
