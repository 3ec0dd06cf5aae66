"""Usage events for tasks finished by workers: a real `peregrine worker` subprocess and the
app's embedded worker, a real PostgreSQL, real SQLCipher user databases, and a loopback
model server so the real research task runs end to end.

Every test has alice and bob finish one research task each, with different consent, so a
"no event" answer is always next to a user whose event did arrive through the same path.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from peregrine.app import task_registry
from peregrine.lib.clock import now_iso
from peregrine.llm.router import build_router
from peregrine.observability.metrics import Metrics
from peregrine.platform.runtime import build_platform
from peregrine.platform.task_events import task_finished_reporter
from peregrine.platform.tiers import set_tier
from peregrine.services.research import SECTIONS
from peregrine.storage.queries import tasks as task_q
from peregrine.tasks.worker import UserTaskRunner
from peregrine.tenancy.task_access import TaskTenancy
from tests.integration.platform.conftest import (
    ALICE,
    BOB,
    HungServer,
    SignedIn,
    cloud_settings,
    count_events,
    set_consent,
)
from tests.integration.platform.test_worker_queue import Workers, wait_for
from tests.support.llm_servers import FakeLLMServer, fake_llm

MakeClient = Callable[..., tuple[TestClient, FastAPI, SignedIn]]
BRIEF = {key: f"{key} in one short paragraph." for key in SECTIONS}


class TelemetryWorkers(Workers):
    """Worker subprocesses with the model server and a short flush interval."""

    extra: dict[str, str]

    def env(self, who: str) -> dict[str, str]:
        return {**super().env(who), **self.extra}


@pytest.fixture
def model() -> Iterator[FakeLLMServer]:
    with fake_llm("ollama") as server:
        server.behaviour.text = "```json\n" + json.dumps(BRIEF) + "\n```"
        yield server


@pytest.fixture
def llm_env(tmp_path: Path, model: FakeLLMServer) -> dict[str, str]:
    backends = tmp_path / "llm.json"
    backends.write_text(
        json.dumps({"backends": [{"name": "m", "type": "ollama", "base_url": model.url}]})
    )
    return {"LLM_BACKENDS_FILE": str(backends), "TELEMETRY_FLUSH_INTERVAL_MS": "50"}


@pytest.fixture
def premium_platform(platform_url: str) -> str:
    """Research is a paid feature: both tenants may run it."""
    with psycopg.connect(platform_url) as conn:
        for user in (ALICE, BOB):
            set_tier(conn, user_id=user, product="peregrine", tier="premium")
    return platform_url


@pytest.fixture
def workers(
    tmp_path: Path, premium_platform: str, llm_env: dict[str, str]
) -> Iterator[TelemetryWorkers]:
    data_root = tmp_path / "cloud-root"
    data_root.mkdir(mode=0o700, exist_ok=True)
    pool = TelemetryWorkers(tmp_path, premium_platform, data_root, tmp_path / "runs.log")
    pool.extra = llm_env
    yield pool
    pool.stop_all()


def _research(client: TestClient, who: SignedIn, user: str) -> int:
    """Submit a research task for a new job of ``user``; returns the task id."""
    who.as_(user)
    r = client.post(
        "/api/v1/jobs",
        json={
            "url": f"https://jobs.example/{uuid.uuid4().hex}",
            "title": "Engineer",
            "company": "Hydra Energy",
        },
    )
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/tasks", json={"kind": "research", "job_id": r.json()["id"]})
    assert r.status_code == 202, r.text
    return int(r.json()["id"])


def _succeeded(client: TestClient, who: SignedIn, user: str, task_id: int) -> None:
    def check() -> Any:
        who.as_(user)
        task = client.get(f"/api/v1/tasks/{task_id}").json()
        return task if task["status"] in ("succeeded", "failed", "interrupted") else None

    done = wait_for(check, f"task {task_id}", timeout=60)
    assert done["status"] == "succeeded", done


def _events(url: str, user: str) -> list[tuple[str, str, dict[str, Any]]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT app, event_type, metadata FROM usage_events WHERE user_id = %s",
            (uuid.UUID(user),),
        ).fetchall()
    return [(app, kind, dict(meta)) for app, kind, meta in rows]


def _assert_one_research_event(url: str, user: str) -> None:
    events = _events(url, user)
    assert len(events) == 1, events
    app, kind, meta = events[0]
    assert (app, kind) == ("peregrine", "research_generated")
    assert set(meta) == {"duration_ms"}
    assert isinstance(meta["duration_ms"], int)
    assert meta["duration_ms"] >= 0


def _run_both_in_worker(
    workers: TelemetryWorkers, make_cloud_client: MakeClient, llm_env: dict[str, str]
) -> None:
    """Alice and bob each finish one research task in a worker subprocess, which is then
    stopped with SIGTERM (its buffer is flushed on the way out)."""
    client, _, who = make_cloud_client(workers.url, PEREGRINE_EMBEDDED_WORKER="false", **llm_env)
    tasks = {user: _research(client, who, user) for user in (ALICE, BOB)}
    workers.start("w1")
    for user, task_id in tasks.items():
        _succeeded(client, who, user, task_id)
    workers.stop_all()
    assert workers.running["w1"].returncode == 0, workers.log("w1")


def test_a_task_finished_by_a_worker_process_sends_one_event_for_its_consenting_user(
    workers: TelemetryWorkers, make_cloud_client: MakeClient, llm_env: dict[str, str]
) -> None:
    set_consent(workers.url, ALICE, usage_events_enabled=True)
    # Bob never chose: no consent row means no events.
    _run_both_in_worker(workers, make_cloud_client, llm_env)
    _assert_one_research_event(workers.url, ALICE)
    assert count_events(workers.url, user_id=BOB) == 0
    assert count_events(workers.url) == 1
    # The worker's totals, in its log since it has no /metrics endpoint.
    assert "usage events: 1 written, 1 not written" in workers.log("w1")


def test_a_worker_process_sends_nothing_for_a_user_with_usage_statistics_off(
    workers: TelemetryWorkers, make_cloud_client: MakeClient, llm_env: dict[str, str]
) -> None:
    set_consent(workers.url, ALICE, usage_events_enabled=False)
    set_consent(workers.url, BOB, usage_events_enabled=True)
    _run_both_in_worker(workers, make_cloud_client, llm_env)
    assert count_events(workers.url, user_id=ALICE) == 0
    _assert_one_research_event(workers.url, BOB)


def test_the_kill_switch_stops_worker_process_events_whatever_else_is_on(
    workers: TelemetryWorkers, make_cloud_client: MakeClient, llm_env: dict[str, str]
) -> None:
    set_consent(workers.url, ALICE, all_disabled=True, usage_events_enabled=True)
    set_consent(workers.url, BOB, usage_events_enabled=True)
    _run_both_in_worker(workers, make_cloud_client, llm_env)
    assert count_events(workers.url, user_id=ALICE) == 0
    _assert_one_research_event(workers.url, BOB)


def test_a_worker_stopped_with_sigterm_writes_the_events_it_still_holds(
    workers: TelemetryWorkers, make_cloud_client: MakeClient, llm_env: dict[str, str]
) -> None:
    set_consent(workers.url, ALICE, usage_events_enabled=True)
    # The longest flush interval allowed: only the shutdown flush can write in time.
    workers.extra = {**llm_env, "TELEMETRY_FLUSH_INTERVAL_MS": "60000"}
    client, _, who = make_cloud_client(workers.url, PEREGRINE_EMBEDDED_WORKER="false", **llm_env)
    task_id = _research(client, who, ALICE)
    started = time.monotonic()
    workers.start("w1")
    _succeeded(client, who, ALICE, task_id)
    time.sleep(0.3)
    if time.monotonic() - started > 50:
        pytest.skip("too slow a machine to tell the shutdown flush from the periodic one")
    assert count_events(workers.url) == 0  # still in the worker's buffer
    workers.stop_all()
    assert workers.running["w1"].returncode == 0, workers.log("w1")
    _assert_one_research_event(workers.url, ALICE)


def _run_both_in_app(url: str, make_cloud_client: MakeClient, llm_env: dict[str, str]) -> FastAPI:
    client, app, who = make_cloud_client(url, **llm_env)
    for user in (ALICE, BOB):
        _succeeded(client, who, user, _research(client, who, user))
    return app


def _wait_for_written(app: FastAPI, count: int) -> None:
    registry = app.state.metrics.registry
    wait_for(
        lambda: (
            (registry.get_sample_value("peregrine_telemetry_written_events_total") or 0) >= count
        ),
        "the telemetry flush",
    )
    # One more flush interval: a second, wrong event would have been written by now.
    time.sleep(0.3)


def test_a_task_finished_by_the_embedded_worker_sends_one_event_for_its_consenting_user(
    premium_platform: str, make_cloud_client: MakeClient, llm_env: dict[str, str]
) -> None:
    set_consent(premium_platform, ALICE, usage_events_enabled=True)
    app = _run_both_in_app(premium_platform, make_cloud_client, llm_env)
    _wait_for_written(app, 1)
    _assert_one_research_event(premium_platform, ALICE)
    assert count_events(premium_platform, user_id=BOB) == 0
    # Bob's event reached the one writer and was refused there for want of consent.
    registry = app.state.metrics.registry
    assert (
        registry.get_sample_value(
            "peregrine_telemetry_dropped_events_total", {"reason": "no_consent"}
        )
        or 0
    ) >= 1


def test_the_embedded_worker_sends_nothing_without_consent_or_under_the_kill_switch(
    premium_platform: str, make_cloud_client: MakeClient, llm_env: dict[str, str]
) -> None:
    set_consent(premium_platform, ALICE, all_disabled=True, usage_events_enabled=True)
    set_consent(premium_platform, BOB, usage_events_enabled=False)
    app = _run_both_in_app(premium_platform, make_cloud_client, llm_env)
    registry = app.state.metrics.registry
    wait_for(
        lambda: (
            (
                registry.get_sample_value(
                    "peregrine_telemetry_dropped_events_total", {"reason": "no_consent"}
                )
                or 0
            )
            >= 2
        ),
        "both events to be refused",
    )
    time.sleep(0.3)
    assert count_events(premium_platform) == 0


def test_a_worker_whose_telemetry_cannot_reach_postgres_still_finishes_its_tasks(
    tmp_path: Path,
    hung_server: HungServer,
    make_cloud_client: MakeClient,
    llm_env: dict[str, str],
) -> None:
    """What `peregrine worker` builds, with the platform database hung: the task succeeds,
    the reporter returns at once, and the event is dropped and counted at the flush."""
    client, app, who = make_cloud_client(
        hung_server.url, PEREGRINE_EMBEDDED_WORKER="false", **llm_env
    )
    r = client.post(
        "/api/v1/jobs",
        json={"url": "https://jobs.example/1", "title": "Engineer", "company": "Hydra Energy"},
    )
    assert r.status_code == 201, r.text
    with app.state.tenancy.lease(ALICE) as db, db.write() as conn:
        task = task_q.insert_task(
            conn, kind="research", job_id=r.json()["id"], params={}, now=now_iso()
        )
    settings = cloud_settings(tmp_path, hung_server.url, **llm_env)
    metrics = Metrics()
    platform = build_platform(settings, metrics)
    llm = build_router(settings)
    runner = UserTaskRunner(
        registry=task_registry(settings, llm),
        tenancy=TaskTenancy(settings),
        stopping=threading.Event(),
        on_finished=task_finished_reporter(platform.telemetry),
    )
    platform.start()
    try:
        outcome = runner.run(user_id=ALICE, task_id=task.id, kind="research", attempts=0)
    finally:
        runner.tenancy.stop()
        llm.close()
        platform.stop()
    assert outcome == "succeeded"
    registry = metrics.registry
    assert (registry.get_sample_value("peregrine_telemetry_written_events_total") or 0) == 0
    dropped = registry.get_sample_value(
        "peregrine_telemetry_dropped_events_total", {"reason": "db_unavailable"}
    )
    assert dropped == 1
    who.as_(ALICE)
    assert client.get(f"/api/v1/tasks/{task.id}").json()["status"] == "succeeded"
