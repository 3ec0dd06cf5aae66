"""The task queue interface callers code against.

Local mode runs ``LocalTaskQueue`` (threads in the server process over the user's own
``tasks`` table). A distributed implementation (Procrastinate on the platform PostgreSQL)
implements the same protocol; callers only ever see ``app.state.tasks``.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from peregrine.storage.queries import tasks as task_q
from peregrine.storage.userdb import UserDB
from peregrine.tasks.model import ACTIVE_STATUSES, TaskError, TaskInfo
from peregrine.tasks.registry import Registry

MAX_PARAMS_BYTES = 64 * 1024


class TaskQueue(Protocol):
    def submit(
        self,
        db: UserDB,
        *,
        kind: str,
        job_id: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> TaskInfo: ...

    def list_tasks(
        self, db: UserDB, *, active_only: bool = False, limit: int = 20
    ) -> list[TaskInfo]: ...

    def get(self, db: UserDB, *, task_id: int) -> TaskInfo | None: ...

    def cancel(self, db: UserDB, *, task_id: int) -> bool: ...

    def retry(self, db: UserDB, *, task_id: int) -> TaskInfo | None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


class TaskRows:
    """What is the same for every queue: the user's own ``tasks`` table is the record the
    user sees, whichever queue runs them, and a submit is checked the same way."""

    registry: Registry

    def _accepted(self, kind: str, params: dict[str, Any] | None) -> dict[str, Any]:
        """A copy of ``params`` for a known ``kind``, or ``TaskError``."""
        self.registry.require(kind)
        accepted = dict(params or {})
        if len(json.dumps(accepted)) > MAX_PARAMS_BYTES:
            raise TaskError("task parameters are too large")
        return accepted

    def list_tasks(
        self, db: UserDB, *, active_only: bool = False, limit: int = 20
    ) -> list[TaskInfo]:
        with db.read() as conn:
            return task_q.list_tasks(conn, active_only=active_only, limit=limit)

    def get(self, db: UserDB, *, task_id: int) -> TaskInfo | None:
        with db.read() as conn:
            return task_q.get_task(conn, task_id=task_id)

    def submit(
        self,
        db: UserDB,
        *,
        kind: str,
        job_id: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> TaskInfo:
        raise NotImplementedError

    def retry(self, db: UserDB, *, task_id: int) -> TaskInfo | None:
        """Queue a new task with the inputs of a finished one (interrupted, failed…)."""
        with db.read() as conn:
            old = task_q.get_task(conn, task_id=task_id)
            params = task_q.task_params(conn, task_id=task_id)
        if old is None:
            return None
        if old.status in ACTIVE_STATUSES:
            return old
        return self.submit(db, kind=old.kind, job_id=old.job_id, params=params)
