"""What callers see of a task, and what a handler receives while it runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from peregrine.storage.userdb import UserDB

TaskStatus = Literal["queued", "running", "succeeded", "failed", "cancelled", "interrupted"]
ACTIVE_STATUSES: tuple[str, ...] = ("queued", "running")
FINAL_STATUSES: tuple[str, ...] = ("succeeded", "failed", "cancelled", "interrupted")


class TaskError(Exception):
    """A task request cannot be accepted; the message is meant for a person."""


class TaskCancelled(Exception):
    """Raised by a handler (or ``TaskContext.check``) to stop after a cancel request."""


@dataclass(frozen=True, slots=True)
class TaskInfo:
    id: int
    kind: str
    job_id: int | None
    status: TaskStatus
    stage: str
    progress: float
    result: dict[str, Any] | None
    error: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    created: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(slots=True)
class TaskContext:
    """Handed to a handler: the user's database, the task's inputs, and two callbacks."""

    db: UserDB
    task_id: int
    job_id: int | None
    params: dict[str, Any]
    _report: Callable[[str, float], None] = field(repr=False)
    _cancelled: Callable[[], bool] = field(repr=False)

    def report(self, stage: str, progress: float) -> None:
        """Record a progress stage the UI shows (progress is clamped to 0..1)."""
        self._report(stage, min(1.0, max(0.0, float(progress))))

    def cancelled(self) -> bool:
        """True once someone asked to cancel; handlers check it between steps."""
        return self._cancelled()

    def check(self) -> None:
        """Raise ``TaskCancelled`` when a cancel was requested."""
        if self._cancelled():
            raise TaskCancelled


Handler = Callable[[TaskContext], dict[str, Any]]


def run_handler(handler: Handler | None, kind: str, ctx: TaskContext) -> dict[str, Any]:
    """Run ``kind``'s handler and return its result, checked the same way by every queue:
    a missing handler, a result that is not an object or not JSON all fail the task here,
    not when the result is stored. ``TaskCancelled`` and the handler's errors pass through.
    """
    if handler is None:
        raise TaskError(f"no handler for task kind {kind!r}")
    result = handler(ctx)
    if not isinstance(result, dict):
        raise TaskError(f"the {kind} handler returned no result object")
    json.dumps(result)
    return result
