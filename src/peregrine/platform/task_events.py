"""Usage events for finished background tasks, shared by every process that runs them.

The web app's embedded worker and standalone `peregrine worker` processes report through
this one reporter, so a task's event looks the same wherever it ran. It only builds events
from counts and durations in the task's result and hands them to a ``UsageSink``
(``platform/usage.py``, the one writer); consent, the kill switch and the allow-list are
checked there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from peregrine.platform import usage

APP = "peregrine"

TaskFinishedHook = Callable[[str | None, str, dict[str, Any], float], None]


def task_finished_reporter(sink: usage.UsageSink) -> TaskFinishedHook:
    """The queue's completion hook: one usage event per finished generation or discovery
    run (other kinds, such as scoring, send nothing). ``owner`` is the user id the worker
    validated before opening the user's database; None (local mode without a signed-in
    user) sends nothing."""

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
                sources=_length(result.get("sources")),
                jobs_found=_count(result.get("received")),
                jobs_new=_count(result.get("inserted")),
                duration_ms=ms,
            )

    return report


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _length(value: object) -> int:
    # The discovery report lists the sources it ran; anything else counts as none.
    return len(value) if isinstance(value, list | tuple) else 0
