"""Helpers for the Apply, Pipeline and Prep tests: CSRF like a browser, jobs at a given stage,
and a task queue that follows the tasks contract in memory (the real queue lives on another
branch; this one records submissions so the pages' real code paths run)."""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, replace
from html import unescape
from typing import Any
from urllib.parse import urlencode

from fastapi.testclient import TestClient

from peregrine.services import jobs as job_service
from peregrine.services import pipeline
from peregrine.storage.userdb import UserDB


def csrf(client: TestClient) -> str:
    if client.cookies.get("peregrine_csrf") is None:
        client.get("/healthz")
    token = client.cookies.get("peregrine_csrf")
    assert token
    return token


def post_form(client: TestClient, path: str, data: dict[str, Any] | list[Any]) -> Any:
    if isinstance(data, list):
        # Repeated field names (practice Q&A rows) need a hand-encoded body.
        body = urlencode([("csrf_token", csrf(client)), *data])
        return client.post(
            path, content=body, headers={"content-type": "application/x-www-form-urlencoded"}
        )
    return client.post(path, data={"csrf_token": csrf(client), **data})


def user_db(client: TestClient) -> UserDB:
    db: UserDB = client.app.state.tenancy.db  # type: ignore[attr-defined]
    return db


def flashes(html: str) -> list[str]:
    return [unescape(m) for m in re.findall(r'class="flash flash-\w+">([^<]*)<', html)]


PATHS = {
    "approved": ["approved"],
    "applied": ["approved", "applied"],
    "phone_screen": ["approved", "applied", "phone_screen"],
    "interviewing": ["approved", "applied", "phone_screen", "interviewing"],
    "offer": ["approved", "applied", "phone_screen", "interviewing", "offer"],
    "withdrawn": ["approved", "applied", "withdrawn"],
}


def add_job(db: UserDB, n: int = 1, *, status: str = "pending", **fields: Any) -> int:
    job = job_service.build_new_job(
        url=f"https://jobs.example.org/{n}",
        title=fields.pop("title", f"Engineer {n}"),
        company=fields.pop("company", f"Company {n}"),
        **fields,
    )
    job_id = job_service.add_job(db, job).job_id
    for to in PATHS.get(status, []):
        pipeline.move(db, job_id=job_id, to_status=to)
    return job_id


def status_of(db: UserDB, job_id: int) -> str:
    return str(db.execute("SELECT status FROM jobs WHERE id = ?", (job_id,))[0][0])


@dataclass(frozen=True)
class FakeTaskInfo:
    id: int
    kind: str
    job_id: int | None
    status: str
    stage: str = ""
    progress: float = 0.0
    result: dict[str, Any] | None = None
    error: str | None = None
    created_at: str = "2026-11-27T12:00:00Z"
    started_at: str | None = None
    finished_at: str | None = None
    created: bool = True

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


class RecordingQueue:
    """The queue interface of the tasks contract, kept in memory."""

    def __init__(self) -> None:
        self.tasks: list[FakeTaskInfo] = []
        self.params: dict[int, dict[str, Any] | None] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def submit(
        self,
        db: UserDB,
        *,
        kind: str,
        job_id: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> FakeTaskInfo:
        with self._lock:
            for task in self.tasks:
                if (task.kind, task.job_id) == (kind, job_id) and task.status in (
                    "queued",
                    "running",
                ):
                    return replace(task, created=False)
            task = FakeTaskInfo(next(self._ids), kind, job_id, "queued")
            self.tasks.append(task)
            self.params[task.id] = params
            return task

    def list_tasks(
        self, db: UserDB, *, active_only: bool = False, limit: int = 20
    ) -> list[FakeTaskInfo]:
        items = [
            t for t in reversed(self.tasks) if not active_only or t.status in ("queued", "running")
        ]
        return items[:limit]

    def get(self, db: UserDB, *, task_id: int) -> FakeTaskInfo | None:
        return next((t for t in self.tasks if t.id == task_id), None)

    def cancel(self, db: UserDB, *, task_id: int) -> bool:
        return False

    def finish(self, task_id: int, *, status: str, error: str | None = None) -> None:
        self.tasks = [
            replace(t, status=status, error=error) if t.id == task_id else t for t in self.tasks
        ]
