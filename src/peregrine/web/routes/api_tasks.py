"""JSON API for background tasks: submit, list, show, cancel, retry."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from peregrine.storage.queries import jobs as job_q
from peregrine.tasks.model import TaskInfo
from peregrine.tasks.queue import TaskQueue
from peregrine.web import usage_events
from peregrine.web.deps import UserDBDep
from peregrine.web.platform_deps import TASK_FEATURES, check_feature

router = APIRouter(prefix="/api/v1", tags=["tasks"])


class TaskIn(BaseModel):
    kind: str = Field(min_length=1, max_length=40)
    job_id: int | None = None
    params: dict[str, Any] = Field(default_factory=dict)


def queue_of(request: Request) -> TaskQueue:
    queue: TaskQueue = request.app.state.tasks
    return queue


def _found(info: TaskInfo | None, task_id: int) -> dict[str, Any]:
    if info is None:
        raise HTTPException(404, f"task {task_id} not found")
    return info.to_dict()


@router.get("/tasks")
def list_tasks(
    request: Request,
    db: UserDBDep,
    active: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    items = queue_of(request).list_tasks(db, active_only=active, limit=limit)
    return {"items": [t.to_dict() for t in items]}


@router.get("/tasks/{task_id}")
def show_task(request: Request, db: UserDBDep, task_id: int) -> dict[str, Any]:
    return _found(queue_of(request).get(db, task_id=task_id), task_id)


@router.post("/tasks", status_code=202)
def submit_task(request: Request, db: UserDBDep, body: TaskIn) -> dict[str, Any]:
    """Queue a task; a duplicate of an active (kind, job) task returns that task."""
    if body.job_id is not None:
        with db.read() as conn:
            if job_q.get_job(conn, job_id=body.job_id) is None:
                raise HTTPException(404, f"job {body.job_id} not found")
    feature = TASK_FEATURES.get(body.kind)
    if feature is not None:
        # The generic endpoint must not be a way around the generation routes' gates.
        check_feature(request, feature)
    usage_events.remember_task_owner(request, db)
    info = queue_of(request).submit(db, kind=body.kind, job_id=body.job_id, params=body.params)
    return info.to_dict()


@router.post("/tasks/{task_id}/cancel")
def cancel_task(request: Request, db: UserDBDep, task_id: int) -> dict[str, Any]:
    queue = queue_of(request)
    if queue.get(db, task_id=task_id) is None:
        raise HTTPException(404, f"task {task_id} not found")
    cancelled = queue.cancel(db, task_id=task_id)
    info = _found(queue.get(db, task_id=task_id), task_id)
    return {**info, "cancelled": cancelled}


@router.post("/tasks/{task_id}/retry", status_code=202)
def retry_task(request: Request, db: UserDBDep, task_id: int) -> dict[str, Any]:
    """Queue the same work again (for interrupted or failed tasks)."""
    old = queue_of(request).get(db, task_id=task_id)
    feature = TASK_FEATURES.get(old.kind) if old is not None else None
    if feature is not None:
        check_feature(request, feature)
    usage_events.remember_task_owner(request, db)
    return _found(queue_of(request).retry(db, task_id=task_id), task_id)
