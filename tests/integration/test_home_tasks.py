"""Home against the background-tasks contract (app.state.tasks), before the real queue is
merged: a small queue that keeps the contract's promises in memory stands in for it."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, replace
from typing import Any

from fastapi.testclient import TestClient

from tests.integration.web_helpers import post_form


@dataclass(frozen=True)
class Info:
    id: int
    kind: str
    job_id: int | None
    status: str
    stage: str
    progress: float
    result: dict[str, Any] | None
    error: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    created: bool


class ContractQueue:
    """One active task per (kind, job); a duplicate returns the existing task."""

    def __init__(self) -> None:
        self.tasks: list[Info] = []
        self.params: dict[int, dict[str, Any] | None] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def submit(self, db: Any, *, kind: str, job_id: int | None = None, params: Any = None) -> Info:
        with self._lock:
            for task in self.tasks:
                if task.kind == kind and task.job_id == job_id and task.status == "running":
                    return replace(task, created=False)
            task = Info(next(self._ids), kind, job_id, "running", "fetching", 0.4, None, None,
                        "2026-11-27T00:00:00Z", None, None, True)  # fmt: skip
            self.tasks.append(task)
            self.params[task.id] = params
            return task

    def list_tasks(self, db: Any, *, active_only: bool = False, limit: int = 20) -> list[Info]:
        return [t for t in self.tasks if not active_only or t.status == "running"][:limit]


def test_run_discovery_submits_a_task_and_home_shows_its_progress(client: TestClient) -> None:
    queue = ContractQueue()
    client.app.state.tasks = queue  # type: ignore[attr-defined]
    post_form(client, "/settings/search", {"name": "Remote", "titles": "Engineer"})
    response = post_form(client, "/tasks/run", {"kind": "discover", "profile": "Remote"})
    assert "Discovery started." in response.text
    assert queue.params[1] == {"profile": "Remote"}
    assert "data-tasks-list" in response.text
    assert '<progress max="1" value="0.4">40%</progress>' in response.text
    again = post_form(client, "/tasks/run", {"kind": "discover"})
    assert "Discovery is already running." in again.text
    assert len(queue.tasks) == 1


def test_an_unknown_task_kind_is_refused(client: TestClient) -> None:
    queue = ContractQueue()
    client.app.state.tasks = queue  # type: ignore[attr-defined]
    response = post_form(client, "/tasks/run", {"kind": "rm -rf"})
    assert "Task must be one of" in response.text
    assert queue.tasks == []
