"""Usage events, emitted by the web layer where the user's action happens.

Services below the web layer know nothing of users or consent; the route that made the
change knows both, so it reports the change here. Only allow-listed metadata (statuses,
counts, durations, flags) is passed on: never job text, URLs or names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import Request

from peregrine.platform import usage
from peregrine.services.pipeline import MoveResult

APP = "peregrine"


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


def task_finished_reporter(
    sink: usage.UsageSink,
) -> Callable[[str | None, str, dict[str, Any], float], None]:
    """The queue's completion hook: one usage event per finished generation or discovery
    run, built from counts in the task's result only."""

    def report(owner: str | None, kind: str, result: dict[str, Any], seconds: float) -> None:
        if owner is None:
            return
        ms = max(0, int(seconds * 1000))
        if kind == "cover_letter":
            version = result.get("version")
            usage.cover_letter_generated(
                sink,
                owner,
                app=APP,
                regenerated=isinstance(version, int) and version > 1,
                duration_ms=ms,
                words=_count(result.get("words")),
            )
        elif kind == "research":
            usage.research_generated(sink, owner, app=APP, duration_ms=ms)
        elif kind == "prep":
            usage.interview_prep_generated(sink, owner, app=APP, duration_ms=ms)
        elif kind == "discover":
            usage.discovery_run(
                sink,
                owner,
                app=APP,
                trigger="manual",
                sources=len(result.get("sources") or ()),
                jobs_found=_count(result.get("received")),
                jobs_new=_count(result.get("inserted")),
                duration_ms=ms,
            )

    return report


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
