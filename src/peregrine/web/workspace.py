"""Helpers shared by the Apply, Pipeline and Prep pages and their JSON API: finding the job
(404 otherwise) and submitting background tasks through the tasks contract."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request

from peregrine.storage.queries import jobs as job_q
from peregrine.storage.userdb import UserDB
from peregrine.web import usage_events

NO_TASKS = "Background tasks are not available in this installation yet."
TASK_LABELS = {
    "cover_letter": "Cover letter",
    "research": "Company research",
    "prep": "Interview prep",
}


def require_job(conn: Any, job_id: int) -> job_q.Job:
    """The job, or 404: every per-job route goes through here."""
    job = job_q.get_job(conn, job_id=job_id)
    if job is None:
        raise HTTPException(404, f"job {job_id} not found")
    return job


def job_exists(db: UserDB, job_id: int) -> job_q.Job:
    with db.read() as conn:
        return require_job(conn, job_id)


@dataclass(frozen=True, slots=True)
class TaskState:
    """The newest task of one kind for a job, as the page shows it."""

    kind: str
    label: str
    status: str
    stage: str
    progress: float
    error: str | None

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")


def task_queue(request: Request) -> Any | None:
    return getattr(request.app.state, "tasks", None)


def latest_tasks(request: Request, db: UserDB, *, job_id: int) -> dict[str, TaskState] | None:
    """Newest task per kind for this job; None when the app has no task queue."""
    queue = task_queue(request)
    if queue is None:
        return None
    out: dict[str, TaskState] = {}
    for task in queue.list_tasks(db, active_only=False, limit=100):
        if task.job_id != job_id or task.kind not in TASK_LABELS or task.kind in out:
            continue
        out[task.kind] = TaskState(
            kind=task.kind,
            label=TASK_LABELS[task.kind],
            status=task.status,
            stage=task.stage,
            progress=task.progress,
            error=task.error,
        )
    return out


def submit_task(
    request: Request, db: UserDB, *, kind: str, job_id: int, params: dict[str, Any] | None
) -> tuple[str, str]:
    """Submit through ``app.state.tasks``; returns (flash kind, message) for the page."""
    queue = task_queue(request)
    if queue is None:
        return "error", NO_TASKS
    usage_events.remember_task_owner(request, db)
    info = queue.submit(db, kind=kind, job_id=job_id, params=params)
    label = TASK_LABELS.get(kind, kind)
    if info.created:
        return "info", f"{label} started; this page shows the result when it is done."
    return "info", f"{label} is already running for this job."
