"""Cloud background tasks open each user's database themselves: they never keep the request's
handle, which the registry may close (here it holds one handle at a time)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from peregrine.app import create_app
from peregrine.tasks.model import TaskContext
from tests.integration.cloud.conftest import ALICE, BOB, Minter, cookie, make_settings


def wait_for(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_each_tenants_tasks_run_against_their_own_database_after_eviction(
    data_root: Path, jwt_secret: str, server_secret: str, mint: Minter
) -> None:
    settings = make_settings(data_root, jwt_secret, server_secret, CLOUD_DB_CACHE_SIZE="1")
    app = create_app(settings)
    gate = threading.Event()
    ran: list[tuple[str, str]] = []

    def mark(ctx: TaskContext) -> dict[str, Any]:
        # Held until both tenants have submitted, so the first request's handle is evicted
        # (cache size 1) before its task runs.
        gate.wait(10)
        with ctx.db.write() as conn:
            conn.execute(
                "INSERT INTO preferences (key, value) VALUES ('mark', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (f'"{ctx.params["who"]}"',),
            )
        ran.append((ctx.params["who"], ctx.db.path.parent.name))
        return {"who": ctx.params["who"]}

    app.state.tasks.registry.register("mark", mark)
    alice, bob = cookie(mint(ALICE)), cookie(mint(BOB))
    with TestClient(app, base_url="https://127.0.0.1:8505") as client:
        first = client.post(
            "/api/v1/tasks", json={"kind": "mark", "params": {"who": "alice"}}, headers=alice
        )
        second = client.post(
            "/api/v1/tasks", json={"kind": "mark", "params": {"who": "bob"}}, headers=bob
        )
        assert first.status_code == 202, first.text
        assert second.status_code == 202, second.text
        gate.set()

        def finished(headers: dict[str, str], task_id: int) -> Callable[[], bool]:
            def check() -> bool:
                status = client.get(f"/api/v1/tasks/{task_id}", headers=headers).json()
                assert status["status"] in ("queued", "running", "succeeded"), status
                return bool(status["status"] == "succeeded")

            return check

        wait_for(finished(alice, first.json()["id"]))
        wait_for(finished(bob, second.json()["id"]))
        assert sorted(who for who, _ in ran) == ["alice", "bob"]
        # Each task wrote into its own tenant's database, nowhere else.
        for user_id, who in ((ALICE, "alice"), (BOB, "bob")):
            with app.state.tenancy.lease(user_id) as db, db.read() as conn:
                value = conn.execute("SELECT value FROM preferences WHERE key = 'mark'")
                assert value.fetchone()[0] == f'"{who}"'
        # A later task, after more evictions, still runs.
        third = client.post(
            "/api/v1/tasks", json={"kind": "mark", "params": {"who": "alice"}}, headers=alice
        )
        client.get("/api/v1/tasks", headers=bob)
        wait_for(finished(alice, third.json()["id"]))
