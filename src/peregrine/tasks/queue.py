"""The task queue interface callers code against.

Local mode runs ``LocalTaskQueue`` (threads in the server process over the user's own
``tasks`` table). A distributed implementation (Procrastinate on the platform PostgreSQL)
implements the same protocol; callers only ever see ``app.state.tasks``.
"""

from __future__ import annotations

from typing import Any, Protocol

from peregrine.storage.userdb import UserDB
from peregrine.tasks.model import TaskInfo


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
