"""Usage events, emitted by the web layer where the user's action happens.

Services below the web layer know nothing of users or consent; the route that made the
change knows both, so it reports the change here. Finished background tasks are reported
by platform/task_events.py instead, which `peregrine worker` processes share. Only
allow-listed metadata (statuses, counts, durations, flags) is passed on: never job text,
URLs or names.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import Request

from peregrine.platform import usage
from peregrine.platform.task_events import APP
from peregrine.services.pipeline import MoveResult


def event_user(request: Request) -> str | None:
    """The cloud user an event belongs to; None (no event) in local and demo mode."""
    if not request.app.state.settings.cloud:
        return None
    user_id = getattr(request.state, "user_id", None)
    return user_id if isinstance(user_id, str) else None


def jobs_moved(request: Request, results: Iterable[MoveResult]) -> None:
    user_id = event_user(request)
    if user_id is None:
        return
    sink = request.app.state.platform.telemetry
    for result in results:
        usage.job_moved(
            sink,
            user_id,
            app=APP,
            from_status=result.from_status,
            to_status=result.to_status,
        )


def backup_exported(request: Request, *, size_bytes: int) -> None:
    user_id = event_user(request)
    if user_id is None:
        return
    # The download is a plain zip: the database inside is decrypted for portability.
    usage.backup_exported(
        request.app.state.platform.telemetry,
        user_id,
        app=APP,
        size_bytes=size_bytes,
        encrypted=False,
    )


def remember_task_owner(request: Request, db: object) -> None:
    """Tell the task queue whose database ``db`` is, so the task's completion can be
    reported for that user (tasks finish outside any request)."""
    user_id = event_user(request)
    # A queue may be absent (some test apps) or not support owners (another queue kind).
    remember = getattr(getattr(request.app.state, "tasks", None), "remember_owner", None)
    if user_id is not None and remember is not None:
        remember(db, user_id)
