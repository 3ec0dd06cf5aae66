"""Tenant isolation, proven over every route of the app.

Alice and Bob get a unique canary string in every column of every table. Each of them,
and Mallory (signed out, with a forged token, and signed in as a third tenant), then calls
every route with the other tenants' row ids. No canary may cross, no one else's database
may change, and no request may fail with a server error.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from peregrine.app import create_app
from peregrine.settings import Settings
from peregrine.web.security import CSRF_COOKIE, CSRF_HEADER
from tests.integration.cloud.conftest import ALICE, BOB, MALLORY, Minter, cookie
from tests.integration.cloud.routes import Probe, endpoints, fill_path, path_params
from tests.integration.cloud.seeding import canaries_of, fingerprint, seed

USERS = {"alice": ALICE, "bob": BOB, "mallory": MALLORY}
BASES = {"alice": 1000, "bob": 2000, "mallory": 3000}


@dataclass
class World:
    client: TestClient
    tokens: dict[str, str]
    ids: dict[str, dict[str, int]]
    canaries: dict[str, set[str]]

    def db(self, name: str) -> Any:
        tenancy = self.client.app.state.tenancy  # type: ignore[attr-defined]
        return tenancy.open_user(USERS[name])

    def release(self, name: str, db: Any) -> None:
        self.client.app.state.tenancy.registry.release(USERS[name], db)  # type: ignore[attr-defined]

    def fingerprint(self, name: str) -> str:
        db = self.db(name)
        try:
            return fingerprint(db)
        finally:
            self.release(name, db)


@pytest.fixture
def world(cloud_settings: Settings, mint: Minter) -> Iterator[World]:
    with TestClient(create_app(cloud_settings), base_url="https://127.0.0.1:8505") as client:
        w = World(client, {n: mint(uid) for n, uid in USERS.items()}, {}, {})
        for name in ("alice", "bob"):
            db = w.db(name)
            try:
                w.ids[name] = seed(db, name, BASES[name])
                w.canaries[name] = canaries_of(db, name)
            finally:
                w.release(name, db)
        w.ids["mallory"] = {}
        w.canaries["mallory"] = set()
        yield w


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    params: dict[str, Any]
    body: Any


def calls_aimed_at(world: World, victims: list[str]) -> list[Call]:
    """One call per route per row id of the victims (path, query and body ids)."""
    app = world.client.app
    spec = app.openapi()  # type: ignore[attr-defined]
    target_ids = sorted({i for v in victims for i in world.ids[v].values()}) or [1]
    calls = []
    for endpoint in endpoints(app):  # type: ignore[arg-type]
        ids = target_ids if path_params(endpoint.path) or endpoint.method != "GET" else [1]
        for target in ids:
            probe = Probe(spec, target)
            calls.append(
                Call(
                    endpoint.method,
                    fill_path(endpoint.path, str(target)),
                    probe.query(endpoint.operation),
                    probe.body(endpoint.operation),
                )
            )
    return calls


def _send(client: TestClient, call: Call, headers: dict[str, str]) -> Any:
    # Carry a valid CSRF token so form routes are reached and checked for tenancy too,
    # instead of stopping at the CSRF refusal.
    if CSRF_COOKIE not in client.cookies:
        client.get("/healthz")
    headers = {**headers, CSRF_HEADER: client.cookies[CSRF_COOKIE]}
    return client.request(
        call.method,
        call.url,
        params=call.params,
        json=call.body if call.body is not None else None,
        headers=headers,
    )


def _check(world: World, who: str, call: Call, response: Any) -> list[str]:
    problems = []
    text = response.text + " ".join(f"{k}: {v}" for k, v in response.headers.items())
    for owner, marks in world.canaries.items():
        if owner == who:
            continue
        leaked = [m for m in marks if m in text]
        if leaked:
            problems.append(f"{who} {call.method} {call.url} leaked {owner}'s {leaked[:3]}")
    # Privacy settings live in the platform database, which this test does not start:
    # those routes answer 503 "unavailable", the honest answer for a missing service.
    platform_only = "/privacy" in call.url and response.status_code == 503
    if response.status_code >= 500 and not platform_only:
        problems.append(f"{who} {call.method} {call.url} → {response.status_code}")
    return problems


def test_seeding_put_a_canary_in_every_table(world: World) -> None:
    tables_with_canaries = {m.split("-")[2] for m in world.canaries["alice"]}
    db = world.db("alice")
    try:
        tables = {
            r[0]
            for r in db.execute(
                "SELECT m.name FROM sqlite_master m WHERE m.type = 'table' "
                "AND m.name NOT LIKE 'sqlite_%' AND EXISTS (SELECT 1 FROM pragma_table_info("
                "m.name) WHERE type = 'TEXT' AND pk = 0)"
            )
        }
    finally:
        world.release("alice", db)
    assert tables - tables_with_canaries == set()
    assert world.canaries["alice"]
    assert world.canaries["bob"]


def test_every_route_needs_a_session_and_leaks_nothing_to_strangers(
    world: World, mint: Minter
) -> None:
    before = {n: world.fingerprint(n) for n in ("alice", "bob")}
    forged = mint(ALICE, key="mallory-guessed-this-secret-0123456789abcdef")
    problems = []
    user_routes = {(e.method, e.path) for e in endpoints(world.client.app) if e.needs_user}  # type: ignore[arg-type]
    assert user_routes, "no route uses the user database?"
    for headers in ({}, cookie(forged), cookie(mint(BOB, iss="other"))):
        for call in calls_aimed_at(world, ["alice", "bob"]):
            response = _send(world.client, call, headers)
            problems += _check(world, "mallory", call, response)
            route = next(
                (r for r in user_routes if fill_path(r[1], "") == fill_path(call.url, "")), None
            )
            if route is not None and response.status_code != 401:
                problems.append(f"anonymous {call.method} {call.url} → {response.status_code}")
    assert problems == []
    assert {n: world.fingerprint(n) for n in ("alice", "bob")} == before


@pytest.mark.parametrize("who", ["alice", "bob", "mallory"])
def test_a_tenant_calling_every_route_with_others_ids_sees_only_their_own_data(
    world: World, who: str
) -> None:
    others = [n for n in ("alice", "bob") if n != who]
    before = {n: world.fingerprint(n) for n in others}
    problems = []
    for call in calls_aimed_at(world, others):
        response = _send(world.client, call, cookie(world.tokens[who]))
        problems += _check(world, who, call, response)
    assert problems == []
    assert {n: world.fingerprint(n) for n in others} == before
    db = world.db(who) if who != "mallory" else None
    if db is not None:
        # Their own writes (profile, keywords…) may replace their own rows, but nothing of
        # anyone else's ever lands in their database.
        try:
            for other in others:
                assert canaries_of(db, other) == set()
        finally:
            world.release(who, db)


def test_own_rows_are_visible_to_their_owner(world: World) -> None:
    response = world.client.get(
        f"/api/v1/jobs/{world.ids['alice']['jobs']}", headers=cookie(world.tokens["alice"])
    )
    assert response.status_code == 200
    assert "CANARY-alice-jobs-title" in response.text
    other = world.client.get(
        f"/api/v1/jobs/{world.ids['bob']['jobs']}", headers=cookie(world.tokens["alice"])
    )
    assert other.status_code == 404


def test_fifty_concurrent_mixed_requests_stay_isolated(world: World) -> None:
    rng = random.Random(4)
    work: list[tuple[str, Call]] = []
    for who in ("alice", "bob", "mallory"):
        others = [n for n in ("alice", "bob") if n != who]
        work += [(who, c) for c in calls_aimed_at(world, others)]
        # Their own reads too, so each response really carries the reader's canaries.
        work += [(who, Call("GET", "/api/v1/jobs", {}, None))] * 20
    rng.shuffle(work)
    work = work[:400]

    def run(item: tuple[str, Call]) -> list[str]:
        who, call = item
        return _check(world, who, call, _send(world.client, call, cookie(world.tokens[who])))

    with ThreadPoolExecutor(max_workers=50) as pool:
        problems = [p for found in pool.map(run, work) for p in found]
    assert problems == []
    own = world.client.get("/api/v1/jobs", headers=cookie(world.tokens["bob"])).text
    assert "CANARY-bob-jobs-title" in own
    # Own writes may replace one's own rows; no one else's canary may ever land here.
    for name, other in (("alice", "bob"), ("bob", "alice")):
        db = world.db(name)
        try:
            assert canaries_of(db, other) == set()
        finally:
            world.release(name, db)
