"""Cloud background tasks through Procrastinate on a real PostgreSQL, run by real
`peregrine worker` subprocesses against real SQLCipher user databases.

The app runs in-process (TestClient) with its embedded worker off, so every task here is
run by a worker process; the test task kinds come from ``peregrine_with_test_tasks.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import procrastinate
import psycopg
import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient
from procrastinate import exceptions as pq_exc
from procrastinate import jobs as pq_jobs

from peregrine.cli.main import cli
from peregrine.storage.erasure import erase_user
from peregrine.tasks.distributed import DEFAULT_QUEUE, TASK_NAME, job_args, queueing_lock
from peregrine.tasks.model import TaskContext
from tests.integration.platform.conftest import _CF, _JWT, ALICE, BOB, HungServer, SignedIn

ENTRY = Path(__file__).with_name("peregrine_with_test_tasks.py")
MakeClient = Callable[..., tuple[TestClient, FastAPI, SignedIn]]


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _never_runs(ctx: TaskContext) -> dict[str, Any]:
    raise AssertionError("the app process must not run tasks when its worker is off")


@dataclass
class Workers:
    """`peregrine worker` subprocesses sharing one platform database and data root."""

    tmp: Path
    url: str
    data_root: Path
    run_log: Path
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def env(self, who: str) -> dict[str, str]:
        return {
            **os.environ,
            "CLOUD_MODE": "true",
            "CLOUD_DATA_ROOT": str(self.data_root),
            "DIRECTUS_JWT_SECRET": _JWT,
            "CF_SERVER_SECRET": _CF,
            "PLATFORM_DB_URL": self.url,
            "PEREGRINE_DATA_DIR": str(self.tmp / "data"),
            "PEREGRINE_TEST_RUN_LOG": str(self.run_log),
            "PEREGRINE_TEST_WHO": who,
            "PEREGRINE_LOG_LEVEL": "info",
        }

    def start(self, who: str, *args: str, wait: bool = True) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"worker-{who}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, str(ENTRY), "worker", "--stalled-after", "2", *args],
            env=self.env(who),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.running[who] = process
        if wait:
            self.wait_started()
        return process

    def wait_started(self) -> None:
        """Every started worker is registered in PostgreSQL (it then listens for jobs)."""
        for who, process in self.running.items():
            wait_for(
                lambda who=who, process=process: self._registered(who, process),  # type: ignore[misc]
                f"worker {who} to start",
            )

    def _registered(self, who: str, process: subprocess.Popen[bytes]) -> bool:
        if process.poll() is not None:
            raise AssertionError(f"worker {who} exited:\n{self.log(who)}")
        with psycopg.connect(self.url) as conn:
            row = conn.execute("SELECT count(*) FROM procrastinate_workers").fetchone()
        return bool(row and row[0] >= len(self.running))

    def log(self, who: str) -> str:
        return (self.tmp / f"worker-{who}.log").read_text(errors="replace")

    def runs(self) -> list[tuple[str, str, int, str]]:
        if not self.run_log.exists():
            return []
        out = []
        for line in self.run_log.read_text().splitlines():
            who, user, task_id, outcome = line.split()
            out.append((who, user, int(task_id), outcome))
        return out

    def stop_all(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.running.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def workers(tmp_path: Path, platform_url: str) -> Iterator[Workers]:
    data_root = tmp_path / "cloud-root"
    data_root.mkdir(mode=0o700, exist_ok=True)
    pool = Workers(tmp_path, platform_url, data_root, tmp_path / "runs.log")
    yield pool
    pool.stop_all()


@pytest.fixture
def app_client(
    make_cloud_client: MakeClient, platform_url: str
) -> tuple[TestClient, FastAPI, SignedIn]:
    client, app, who = make_cloud_client(platform_url, PEREGRINE_EMBEDDED_WORKER="false")
    for kind in ("mark", "gated"):
        app.state.tasks.registry.register(kind, _never_runs)
    return client, app, who


def _add_job(client: TestClient, title: str) -> int:
    r = client.post("/api/v1/jobs", json={"url": f"https://jobs.example/{title}", "title": title})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _submit(client: TestClient, kind: str, job_id: int | None, **params: Any) -> dict[str, Any]:
    r = client.post("/api/v1/tasks", json={"kind": kind, "job_id": job_id, "params": params})
    assert r.status_code == 202, r.text
    return dict(r.json())


def _task(client: TestClient, task_id: int) -> dict[str, Any]:
    r = client.get(f"/api/v1/tasks/{task_id}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def _status_is(client: TestClient, task_id: int, *statuses: str) -> Callable[[], Any]:
    def check() -> Any:
        task = _task(client, task_id)
        return task if task["status"] in statuses else None

    return check


def _jobs(url: str, *, where: str = "TRUE") -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            f"SELECT id, status, queueing_lock, args FROM procrastinate_jobs WHERE {where} "
            "ORDER BY id"
        ).fetchall()


def _preference(app: FastAPI, user_id: str, key: str) -> str | None:
    with app.state.tenancy.lease(user_id) as db, db.read() as conn:
        row = conn.execute("SELECT value FROM preferences WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def test_two_workers_run_each_tenants_tasks_once_in_their_own_database(
    workers: Workers, app_client: tuple[TestClient, FastAPI, SignedIn]
) -> None:
    client, app, who = app_client
    workers.data_root = Path(app.state.settings.cloud_data_root)
    submitted: dict[str, list[tuple[int, int, str]]] = {ALICE: [], BOB: []}
    for user, name in ((ALICE, "alice"), (BOB, "bob")):
        who.as_(user)
        for n in range(4):
            job_id = _add_job(client, f"{name}-role-{n}")
            canary = f"canary-{name}-{n}"
            task = _submit(client, "mark", job_id, canary=canary, sleep=0.4)
            submitted[user].append((task["id"], job_id, canary))
    # Nothing runs before a worker exists: the app's own worker is off.
    assert {row[1] for row in _jobs(workers.url)} == {"todo"}
    workers.start("w1", "--concurrency", "2", wait=False)
    workers.start("w2", "--concurrency", "2", wait=False)
    workers.wait_started()
    for user in (ALICE, BOB):
        who.as_(user)
        for task_id, _, _ in submitted[user]:
            done = wait_for(_status_is(client, task_id, "succeeded", "failed"), "a task")
            assert done["status"] == "succeeded", done
            assert done["progress"] == 1.0
    runs = workers.runs()
    # Exactly once each, in the right user's folder, shared by both workers.
    assert sorted((user, task_id) for _, user, task_id, _ in runs) == sorted(
        (user, task_id) for user in (ALICE, BOB) for task_id, _, _ in submitted[user]
    )
    assert {w for w, _, _, _ in runs} == {"w1", "w2"}
    for user, other in ((ALICE, BOB), (BOB, ALICE)):
        for _, job_id, canary in submitted[user]:
            assert _preference(app, user, f"mark-{job_id}") == f'"{canary}"'
        for _, job_id, canary in submitted[other]:
            # The other tenant's canaries never reached this database.
            assert _preference(app, user, f"mark-{job_id}") != f'"{canary}"'
    assert {row[1] for row in _jobs(workers.url)} == {"succeeded"}


def test_progress_shows_in_the_users_task_list_while_a_worker_runs_it(
    workers: Workers, app_client: tuple[TestClient, FastAPI, SignedIn], tmp_path: Path
) -> None:
    client, app, who = app_client
    workers.data_root = Path(app.state.settings.cloud_data_root)
    workers.start("w1")
    gate = tmp_path / "gate-open"
    task = _submit(client, "gated", None, gate=str(gate))
    running = wait_for(_status_is(client, task["id"], "running"), "the task to run")
    wait_for(
        lambda: _task(client, task["id"])["stage"] == "waiting",
        "the worker's progress report",
    )
    listed = client.get("/api/v1/tasks", params={"active": "true"}).json()["items"]
    assert [(t["id"], t["stage"], t["progress"]) for t in listed] == [(task["id"], "waiting", 0.5)]
    assert running["started_at"]
    # Bob sees none of it.
    who.as_(BOB)
    assert client.get("/api/v1/tasks").json()["items"] == []
    assert client.get(f"/api/v1/tasks/{task['id']}").status_code == 404
    who.as_(ALICE)
    gate.touch()
    wait_for(_status_is(client, task["id"], "succeeded"), "the task to finish")


def test_a_second_submit_while_queued_returns_the_same_task_under_one_queue_lock(
    workers: Workers, app_client: tuple[TestClient, FastAPI, SignedIn]
) -> None:
    client, app, _ = app_client
    job_id = _add_job(client, "dedup")
    first = _submit(client, "mark", job_id, canary="one")
    second = _submit(client, "mark", job_id, canary="two")
    assert second["id"] == first["id"]
    assert (first["created"], second["created"]) == (True, False)
    lock = queueing_lock(ALICE, "mark", job_id)
    waiting = _jobs(workers.url, where="status = 'todo'")
    assert [(row[2], row[3]) for row in waiting] == [(lock, job_args(ALICE, first["id"], "mark"))]
    # The queue itself refuses a second waiting job for the same (user, kind, job).
    manager = procrastinate.App(connector=procrastinate.SyncPsycopgConnector()).job_manager
    duplicate = pq_jobs.Job(
        id=None,
        queue=DEFAULT_QUEUE,
        lock=None,
        queueing_lock=lock,
        task_name=TASK_NAME,
        task_kwargs=job_args(ALICE, first["id"], "mark"),
    )
    with psycopg.connect(workers.url) as conn, pytest.raises(pq_exc.AlreadyEnqueued):
        manager.defer_job(duplicate, connection=conn)
    # A cancel that never reached PostgreSQL leaves a stale job holding the lock: the next
    # submit replaces it instead of failing.
    with app.state.tenancy.lease(ALICE) as db, db.write() as conn:
        conn.execute("UPDATE tasks SET status = 'cancelled' WHERE id = ?", (first["id"],))
    third = _submit(client, "mark", job_id, canary="three")
    assert third["created"] is True
    assert third["id"] != first["id"]
    states = {row[3]["task_id"]: row[1] for row in _jobs(workers.url)}
    assert states == {first["id"]: "cancelled", third["id"]: "todo"}
    workers.data_root = Path(app.state.settings.cloud_data_root)
    workers.start("w1")
    wait_for(_status_is(client, third["id"], "succeeded"), "the new task")
    assert _preference(app, ALICE, f"mark-{job_id}") == '"three"'
    assert [(user, task_id) for _, user, task_id, _ in workers.runs()] == [(ALICE, third["id"])]


def test_cancel_stops_a_queued_task_before_and_a_running_task_during_its_run(
    workers: Workers, app_client: tuple[TestClient, FastAPI, SignedIn], tmp_path: Path
) -> None:
    client, app, _ = app_client
    job_id = _add_job(client, "cancel-me")
    queued = _submit(client, "mark", job_id, canary="never")
    r = client.post(f"/api/v1/tasks/{queued['id']}/cancel")
    assert r.json()["status"] == "cancelled"
    assert r.json()["cancelled"] is True
    assert [row[1] for row in _jobs(workers.url)] == ["cancelled"]
    workers.data_root = Path(app.state.settings.cloud_data_root)
    workers.start("w1")
    running = _submit(client, "gated", None, gate=str(tmp_path / "never-opened"))
    wait_for(lambda: _task(client, running["id"])["stage"] == "waiting", "the gated task")
    r = client.post(f"/api/v1/tasks/{running['id']}/cancel")
    assert r.json()["status"] == "cancelled"
    wait_for(workers.runs, "the handler to stop")
    assert [(t, o) for _, _, t, o in workers.runs()] == [(running["id"], "stopped")]
    assert _task(client, running["id"])["status"] == "cancelled"
    assert _task(client, queued["id"])["status"] == "cancelled"
    assert _preference(app, ALICE, f"mark-{job_id}") is None


def test_a_killed_worker_leaves_its_task_interrupted_and_retryable(
    workers: Workers, app_client: tuple[TestClient, FastAPI, SignedIn], tmp_path: Path
) -> None:
    client, app, _ = app_client
    workers.data_root = Path(app.state.settings.cloud_data_root)
    doomed = workers.start("doomed")
    gate = tmp_path / "gate"
    task = _submit(client, "gated", None, gate=str(gate))
    wait_for(_status_is(client, task["id"], "running"), "the task to start")
    doomed.kill()
    doomed.wait()
    del workers.running["doomed"]
    workers.start("survivor")
    found = wait_for(
        _status_is(client, task["id"], "interrupted"), "the task to be marked", timeout=30
    )
    assert "worker" in found["error"]
    assert "retried" in found["error"]
    gate.touch()
    again = client.post(f"/api/v1/tasks/{task['id']}/retry")
    assert again.status_code == 202, again.text
    wait_for(_status_is(client, again.json()["id"], "succeeded"), "the retried task")
    assert [(w, t) for w, _, t, _ in workers.runs()] == [("survivor", again.json()["id"])]


def test_sigterm_puts_the_running_task_back_in_the_queue_for_another_worker(
    workers: Workers, app_client: tuple[TestClient, FastAPI, SignedIn], tmp_path: Path
) -> None:
    client, app, _ = app_client
    workers.data_root = Path(app.state.settings.cloud_data_root)
    first = workers.start("first")
    gate = tmp_path / "gate"
    task = _submit(client, "gated", None, gate=str(gate))
    wait_for(_status_is(client, task["id"], "running"), "the task to start")
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=20) == 0, workers.log("first")
    assert "peregrine worker stopped" in workers.log("first")
    del workers.running["first"]
    back = _task(client, task["id"])
    assert back["status"] == "queued", back
    gate.touch()
    workers.start("second")
    wait_for(_status_is(client, task["id"], "succeeded"), "the requeued task")
    assert [(w, o) for w, _, _, o in workers.runs()] == [("first", "stopped"), ("second", "done")]


def test_jobs_naming_a_bad_unknown_or_deleted_user_fail_safely_and_create_nothing(
    workers: Workers, app_client: tuple[TestClient, FastAPI, SignedIn]
) -> None:
    client, app, who = app_client
    data_root = Path(app.state.settings.cloud_data_root)
    workers.data_root = data_root
    who.as_(BOB)
    client.get("/api/v1/tasks")  # provisions bob, who is then deleted
    erase_user(data_root, BOB, close_handles=app.state.tenancy.close_user)
    before = sorted(str(p.relative_to(data_root)) for p in data_root.rglob("*"))
    manager = procrastinate.App(connector=procrastinate.SyncPsycopgConnector()).job_manager
    hostile = {
        "../../etc": "failed",
        ALICE.upper(): "failed",
        "d00dfeed-0bad-4bad-8bad-c0ffee000000": "succeeded",  # unknown: dropped
        BOB: "succeeded",  # deleted: dropped
    }
    ids = {}
    with psycopg.connect(workers.url) as conn:
        for user in hostile:
            job = pq_jobs.Job(
                id=None,
                queue=DEFAULT_QUEUE,
                lock=None,
                queueing_lock=None,
                task_name=TASK_NAME,
                task_kwargs=job_args(user, 1, "mark"),
            )
            ids[user] = manager.defer_job(job, connection=conn).id
        conn.commit()
    workers.start("w1")

    def settled() -> dict[str, str] | None:
        states = {u: s for u, (_, s, _, _) in zip(ids, _jobs(workers.url), strict=True)}
        return states if all(s in ("failed", "succeeded") for s in states.values()) else None

    assert wait_for(settled, "the hostile jobs") == hostile
    assert sorted(str(p.relative_to(data_root)) for p in data_root.rglob("*")) == before
    assert workers.runs() == []
    log = workers.log("w1")
    assert log.count("dropped task 1 (mark)") == 2
    assert BOB not in log
    assert "d00dfeed" not in log


def test_the_worker_command_says_what_is_missing_in_one_line(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    base = {
        "CLOUD_MODE": "true",
        "CLOUD_DATA_ROOT": str(root),
        "DIRECTUS_JWT_SECRET": _JWT,
        "CF_SERVER_SECRET": _CF,
    }
    runner = CliRunner()
    missing = runner.invoke(cli, ["worker"], env={**base, "PLATFORM_DB_URL": None})
    assert missing.exit_code == 1
    assert missing.output.strip() == (
        "error: PLATFORM_DB_URL is not set (the platform database's PostgreSQL URL)"
    )
    hung = HungServer()
    try:
        unreachable = runner.invoke(
            cli,
            ["worker"],
            env={**base, "PLATFORM_DB_URL": hung.url, "PLATFORM_CONNECT_TIMEOUT": "2"},
        )
    finally:
        hung.close()
    assert unreachable.exit_code == 1
    assert unreachable.output.startswith("error: cannot reach the platform database")
    assert "Traceback" not in unreachable.output
    local = runner.invoke(cli, ["worker"], env={"CLOUD_MODE": None})
    assert local.exit_code == 1
    assert "CLOUD_MODE=true" in local.output


def test_the_worker_refuses_a_database_without_the_queue_tables(tmp_path: Path, pg: Any) -> None:
    root = tmp_path / "root"
    root.mkdir()
    blank = pg.create_database(migrated=False)
    result = CliRunner().invoke(
        cli,
        ["worker"],
        env={
            "CLOUD_MODE": "true",
            "CLOUD_DATA_ROOT": str(root),
            "DIRECTUS_JWT_SECRET": _JWT,
            "CF_SERVER_SECRET": _CF,
            "PLATFORM_DB_URL": blank,
        },
    )
    assert result.exit_code == 1
    assert "run `peregrine platform migrate`" in result.output


def test_the_embedded_worker_runs_tasks_in_the_app_process(
    make_cloud_client: MakeClient, platform_url: str
) -> None:
    client, app, _ = make_cloud_client(platform_url)
    ran: list[str] = []

    def note(ctx: TaskContext) -> dict[str, Any]:
        ctx.report("noting", 0.5)
        ran.append(ctx.db.path.parent.parent.name)
        return {"ok": True}

    app.state.tasks.registry.register("note", note)
    task = _submit(client, "note", None)
    wait_for(_status_is(client, task["id"], "succeeded"), "the embedded worker")
    assert ran == [ALICE]


def test_a_submit_while_postgres_is_away_answers_503_and_leaves_nothing_queued(
    make_cloud_client: MakeClient, hung_server: HungServer
) -> None:
    client, app, _ = make_cloud_client(hung_server.url, PEREGRINE_EMBEDDED_WORKER="false")
    app.state.tasks.registry.register("mark", _never_runs)
    r = client.post("/api/v1/tasks", json={"kind": "mark", "params": {"canary": "x"}})
    assert r.status_code == 503
    assert "task queue is unavailable" in r.json()["error"]
    listed = client.get("/api/v1/tasks").json()["items"]
    assert [t["status"] for t in listed] == ["cancelled"]
    # Pages keep working meanwhile.
    assert client.get("/api/v1/jobs").status_code == 200
