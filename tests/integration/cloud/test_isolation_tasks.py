"""Tenant isolation under 50 concurrent mixed requests *including background tasks*.

Alice and Bob (paid tenants, real PostgreSQL for their tiers) browse every route aimed at
each other's row ids while they submit real background tasks through the API: scoring,
enrichment against a loopback job site, discovery from a loopback feed, cover letters,
research and interview prep against a loopback model server, and a probe that reads the
tenant's mark from whatever database the queue handed it. They poll their task lists and
results, cancel and retry some, and try each other's task ids. Mallory tries the same with
forged sessions. The handle cache holds one tenant at a time, so every task runs on a
handle the worker opened itself while requests evict each other's.

The sweep is written against the HTTP API and ``app.state.tasks`` only, so it covers
whichever queue the app is wired with.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from peregrine.app import create_app
from peregrine.platform.tiers import set_tier
from tests.integration.cloud.conftest import ALICE, BOB, MALLORY, Minter, cookie, make_settings
from tests.integration.cloud.seeding import canaries_of, seed
from tests.integration.cloud.task_sweep import (
    CANARY,
    EchoingModel,
    job_sites,
    prepare_tenant,
    register_probes,
)
from tests.integration.cloud.test_isolation import USERS, Call, World, _check, _send, calls_aimed_at
from tests.integration.platform import conftest as platform_fixtures

pg = platform_fixtures.pg
PgServer = platform_fixtures.PgServer

BASES = {"alice": 1000, "bob": 2000}
OTHER = {"alice": "bob", "bob": "alice"}
# Every kind the app registers that a tenant can start here, plus the sweep's own.
SUBMITS: list[tuple[str, str | None, dict[str, Any]]] = [
    ("score", "job", {}),
    ("score", None, {}),
    ("enrich_site", "bare_1", {}),
    ("enrich_site", "bare_2", {}),
    ("discover_site", None, {}),
    ("cover_letter", "job", {}),
    ("research", "job", {}),
    ("prep", "job", {}),
    # The production doors refuse the loopback site: these fail, with messages that name
    # the tenant's own URLs, which must not reach anyone else either.
    ("enrich", "bare_3", {}),
    ("discover", None, {"profile": "sweep"}),
    # One active task per (kind, job): the probes get a job each so none is merged.
    ("probe", "job", {"hold": 0}),
    ("probe", "bare_1", {"hold": 0}),
    ("probe", "bare_2", {"hold": 20}),
    ("probe", "bare_3", {"hold": 20}),
]

SUBMITTED_KINDS = {kind for kind, _job, _params in SUBMITS}


@dataclass
class Arena:
    world: World
    data_root: Path
    model: EchoingModel
    jobs: dict[str, dict[str, int]]
    forged: list[dict[str, str]]
    submitted: dict[str, list[int]] = field(default_factory=lambda: {"alice": [], "bob": []})
    held: dict[str, list[int]] = field(default_factory=lambda: {"alice": [], "bob": []})
    lock: threading.Lock = field(default_factory=threading.Lock)

    def headers(self, who: str) -> dict[str, str]:
        return cookie(self.world.tokens[who])

    def task_ids(self, who: str) -> list[int]:
        with self.lock:
            mine = list(self.submitted[who])
        return mine or [self.world.ids[who]["tasks"]]


@pytest.fixture
def arena(
    pg: PgServer, data_root: Path, jwt_secret: str, server_secret: str, mint: Minter
) -> Iterator[Arena]:
    platform_url = pg.create_database()
    with psycopg.connect(platform_url) as conn, conn.transaction():
        for user in (ALICE, BOB):
            set_tier(conn, user_id=user, product="peregrine", tier="premium", period_end=None)
    model = EchoingModel().start()
    backends = data_root.parent / "llm.json"
    backends.write_text(
        json.dumps({"backends": [{"name": "op", "type": "ollama", "base_url": model.url}]})
    )
    try:
        with job_sites() as sites:
            settings = make_settings(
                data_root,
                jwt_secret,
                server_secret,
                PLATFORM_DB_URL=platform_url,
                LLM_BACKENDS_FILE=str(backends),
                # One open tenant at a time: every request and task evicts the other's
                # handle, so a task never rides on a request's handle by luck.
                CLOUD_DB_CACHE_SIZE="1",
                PEREGRINE_TASK_WORKERS="2",
            )
            app = create_app(settings)
            register_probes(app.state.tasks.registry, sites)
            with TestClient(app, base_url="https://127.0.0.1:8505") as client:
                world = World(client, {n: mint(uid) for n, uid in USERS.items()}, {}, {})
                jobs = {}
                for name in ("alice", "bob"):
                    db = world.db(name)
                    try:
                        world.ids[name] = seed(db, name, BASES[name])
                        jobs[name] = prepare_tenant(db, name, sites)
                        world.canaries[name] = canaries_of(db, name)
                    finally:
                        world.release(name, db)
                world.ids["mallory"] = {}
                world.canaries["mallory"] = set()
                forged = [
                    cookie(mint(MALLORY, key="mallory-guessed-this-secret-0123456789abcdef")),
                    cookie(mint(ALICE, key="mallory-guessed-this-secret-0123456789abcdef")),
                    cookie(mint(BOB, iss="other")),
                    {},
                ]
                yield Arena(world, data_root, model, jobs, forged)
    finally:
        model.stop()


# -- what each worker thread does ----------------------------------------------------------


def _submit(arena: Arena, who: str, kind: str, job: str | None, params: dict[str, Any]) -> Any:
    body = {
        "kind": kind,
        "job_id": arena.jobs[who][job] if job else None,
        "params": {**params, "who": who},
    }
    call = Call("POST", "/api/v1/tasks", {}, body)
    response = _send(arena.world.client, call, arena.headers(who))
    if response.status_code == 202:
        with arena.lock:
            if response.json()["id"] not in arena.submitted[who]:
                arena.submitted[who].append(response.json()["id"])
            if params.get("hold"):
                arena.held[who].append(response.json()["id"])
    return call, response


def _own(arena: Arena, who: str, rng: random.Random) -> tuple[Call, Any]:
    ids = arena.task_ids(who)
    choice = rng.choice(["list", "list_active", "show", "show", "cancel", "retry"])
    if choice == "list":
        call = Call("GET", "/api/v1/tasks", {"limit": 200}, None)
    elif choice == "list_active":
        call = Call("GET", "/api/v1/tasks", {"active": "true"}, None)
    elif choice == "show":
        call = Call("GET", f"/api/v1/tasks/{rng.choice(ids)}", {}, None)
    elif choice == "cancel":
        # Only held probes: the other kinds must each get to run once.
        with arena.lock:
            held = list(arena.held[who])
        if held:
            call = Call("POST", f"/api/v1/tasks/{rng.choice(held)}/cancel", {}, None)
        else:
            call = Call("GET", "/api/v1/tasks", {}, None)
    else:
        call = Call("POST", f"/api/v1/tasks/{rng.choice(ids)}/retry", {}, None)
    return call, _send(arena.world.client, call, arena.headers(who))


def _attack(arena: Arena, who: str, rng: random.Random) -> list[str]:
    """``who`` (a tenant) aims at the other tenant's task ids: every answer is 404."""
    victim = OTHER[who]
    task_id = rng.choice(arena.task_ids(victim))
    verb = rng.choice(["GET", "cancel", "retry"])
    if verb == "GET":
        call = Call("GET", f"/api/v1/tasks/{task_id}", {}, None)
    else:
        call = Call("POST", f"/api/v1/tasks/{task_id}/{verb}", {}, None)
    response = _send(arena.world.client, call, arena.headers(who))
    problems = _check(arena.world, who, call, response)
    if response.status_code != 404:
        problems.append(
            f"{who} {call.method} {call.url} (a task of {victim}) → {response.status_code}"
        )
    return problems


def _mallory(arena: Arena, rng: random.Random) -> list[str]:
    victim = rng.choice(["alice", "bob"])
    task_id = rng.choice(arena.task_ids(victim))
    call = rng.choice(
        [
            Call("POST", "/api/v1/tasks", {}, {"kind": "probe", "params": {"who": "mallory"}}),
            Call("GET", "/api/v1/tasks", {}, None),
            Call("GET", f"/api/v1/tasks/{task_id}", {}, None),
            Call("POST", f"/api/v1/tasks/{task_id}/cancel", {}, None),
            Call("POST", f"/api/v1/tasks/{task_id}/retry", {}, None),
        ]
    )
    response = _send(arena.world.client, call, rng.choice(arena.forged))
    problems = _check(arena.world, "mallory", call, response)
    if response.status_code != 401:
        problems.append(f"mallory {call.method} {call.url} → {response.status_code}")
    return problems


def _work(arena: Arena) -> list[Callable[[random.Random], list[str]]]:
    work: list[Callable[[random.Random], list[str]]] = []
    for who in ("alice", "bob"):
        for kind, job, params in SUBMITS:

            def submit(
                _rng: random.Random,
                who: str = who,
                kind: str = kind,
                job: Any = job,
                p: Any = params,
            ) -> list[str]:
                call, response = _submit(arena, who, kind, job, p)
                problems = _check(arena.world, who, call, response)
                if response.status_code != 202:
                    problems.append(f"{who} could not submit {kind}: {response.status_code}")
                return problems

            work.append(submit)

        def own(rng: random.Random, who: str = who) -> list[str]:
            call, response = _own(arena, who, rng)
            return _check(arena.world, who, call, response)

        def attack(rng: random.Random, who: str = who) -> list[str]:
            return _attack(arena, who, rng)

        work += [own] * 60 + [attack] * 30
        # The route sweep aimed at the other tenant, as in test_isolation.
        for call in calls_aimed_at(arena.world, [OTHER[who]])[:120]:

            def route(_rng: random.Random, who: str = who, call: Call = call) -> list[str]:
                response = _send(arena.world.client, call, arena.headers(who))
                return _check(arena.world, who, call, response)

            work.append(route)
    work += [lambda rng: _mallory(arena, rng)] * 40
    return work


def _wait_until_idle(arena: Arena, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = 0
        for who in ("alice", "bob"):
            active = arena.world.client.get(
                "/api/v1/tasks", params={"active": "true"}, headers=arena.headers(who)
            ).json()["items"]
            # Only what the sweep submitted: the seeded canary row was written straight into
            # the database as 'queued' and no queue holds it (Procrastinate never saw it).
            active = [t for t in active if t["kind"] in SUBMITTED_KINDS]
            for task in active:
                if task["kind"] == "probe":
                    # Held probes are cancelled here if the random run did not get to them.
                    cancel = Call("POST", f"/api/v1/tasks/{task['id']}/cancel", {}, None)
                    _send(arena.world.client, cancel, arena.headers(who))
            busy += len(active)
        if not busy:
            return
        time.sleep(0.1)
    raise AssertionError("background tasks did not finish in time")


# -- the test --------------------------------------------------------------------------------


def test_fifty_concurrent_requests_with_background_tasks_stay_isolated(arena: Arena) -> None:
    rng = random.Random(44)
    work = _work(arena)
    rng.shuffle(work)
    seeds = [rng.randrange(1 << 30) for _ in work]
    with ThreadPoolExecutor(max_workers=50) as pool:
        found = pool.map(
            lambda item: item[0](random.Random(item[1])), zip(work, seeds, strict=True)
        )
        problems = [p for batch in found for p in batch]
    _wait_until_idle(arena)
    # Retry a finished task of each and let it run too, so retries are checked as well.
    for who in ("alice", "bob"):
        finished = [
            t for t in _tasks(arena, who) if t["kind"] == "probe" and t["status"] == "succeeded"
        ]
        retried = _send(
            arena.world.client,
            Call("POST", f"/api/v1/tasks/{finished[0]['id']}/retry", {}, None),
            arena.headers(who),
        )
        assert retried.status_code == 202, retried.text
    _wait_until_idle(arena)
    assert problems == []

    client = arena.world.client
    for who in ("alice", "bob"):
        other = OTHER[who]
        tasks = _tasks(arena, who)
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for task in tasks:
            by_kind.setdefault(task["kind"], []).append(task)
        # Nothing of the other tenant in any task record: result, error or progress text.
        for task in tasks:
            text = json.dumps(task)
            assert not [m for m in CANARY.findall(text) if m.startswith(f"CANARY-{other}-")], task
        # Each kind really ran, against its owner's database.
        for kind in (
            "score",
            "enrich_site",
            "discover_site",
            "cover_letter",
            "research",
            "prep",
            "probe",
        ):
            assert any(t["status"] == "succeeded" for t in by_kind[kind]), (kind, by_kind[kind])
        for probe in by_kind["probe"]:
            # Progress text stays as last reported unless the task finished ('started':
            # claimed, then cancelled before its first report).
            stages = ("", "started", "done", f"read CANARY-{who}-sweep-mark")
            assert probe["stage"] in stages, probe
            if probe["status"] == "succeeded":
                assert probe["result"] == {"read": f"CANARY-{who}-sweep-mark"}, probe
        assert any(t["status"] == "cancelled" for t in by_kind["probe"]), by_kind["probe"]
        for kind in ("enrich", "discover"):
            assert all(t["status"] in ("succeeded", "failed") for t in by_kind[kind]), kind
        # No task id of one tenant answers for the other, nor for a forged session.
        for task_id in arena.submitted[who]:
            for verb in ("", "/cancel", "/retry"):
                method = "GET" if not verb else "POST"
                call = Call(method, f"/api/v1/tasks/{task_id}{verb}", {}, None)
                assert _send(client, call, arena.headers(other)).status_code == 404, call
                assert _send(client, call, arena.forged[1]).status_code == 401, call

        db = arena.world.db(who)
        try:
            # Every task row created in the run is the owner's own submission.
            rows = db.execute(
                "SELECT id, params FROM tasks WHERE id > ?", (arena.world.ids[who]["tasks"],)
            )
            assert rows
            assert {json.loads(r["params"]).get("who") for r in rows} == {who}
            # The tasks' writes carry the owner's canaries (enriched pages, feed jobs,
            # letters) and none of the other's anywhere.
            found = canaries_of(db, who)
            assert f"CANARY-{who}-page-description" in found
            assert f"CANARY-{who}-feed-title" in found
            for table in ("cover_letters", "company_research", "interview_prep"):
                stored = json.dumps([tuple(r) for r in db.execute(f"SELECT * FROM {table}")])
                assert f"Noted: CANARY-{who}-" in stored, table
            assert canaries_of(db, other) == set()
        finally:
            arena.world.release(who, db)

    # Every prompt the model saw came from one tenant only.
    for request in arena.model.chat_requests():
        owners = {m.split("-")[1] for m in CANARY.findall(json.dumps(request.body))}
        assert len(owners) <= 1, owners
    assert arena.model.chat_requests()
    # Mallory's forged sessions created nothing on disk.
    assert not (arena.data_root / MALLORY).exists()
    tenants = {p.name for p in arena.data_root.iterdir() if not p.name.startswith(".")}
    assert tenants <= {ALICE, BOB} | {p.name for p in arena.data_root.iterdir() if p.is_file()}


def _tasks(arena: Arena, who: str) -> list[dict[str, Any]]:
    response = arena.world.client.get(
        "/api/v1/tasks", params={"limit": 200}, headers=arena.headers(who)
    )
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items
