"""The finished-task reporter shared by the app's embedded worker and `peregrine worker`:
what each task kind sends, and that every event it builds passes the allow-list (an event
refused there would be lost silently in production)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import pytest

from peregrine.platform.pool import PlatformDB
from peregrine.platform.task_events import task_finished_reporter
from peregrine.platform.usage import check_metadata
from peregrine.tasks.distributed import ProcrastinateTaskQueue
from peregrine.tasks.registry import Registry
from peregrine.tasks.worker import EmbeddedWorker, UserTaskRunner, WorkerOptions

ALICE = "a11ce000-0000-4000-8000-000000000001"


class Recorder:
    """A usage sink that keeps what it is given, after the real allow-list check."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, dict[str, Any]]] = []

    def log_usage_event(
        self,
        user_id: str,
        app: str,
        event_type: str,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.events.append((user_id, app, event_type, check_metadata(event_type, metadata)))


@pytest.mark.parametrize(
    ("kind", "result", "event", "metadata"),
    [
        (
            "cover_letter",
            {"version": 2, "words": 310, "origin": "llm", "backend": "m"},
            "cover_letter_generated",
            {"regenerated": True, "duration_ms": 1500, "words": 310},
        ),
        (
            "cover_letter",
            {"version": 1, "words": True},
            "cover_letter_generated",
            {"regenerated": False, "duration_ms": 1500, "words": 0},
        ),
        ("research", {"sources": 3}, "research_generated", {"duration_ms": 1500}),
        ("prep", {"answers": 5}, "interview_prep_generated", {"duration_ms": 1500}),
        (
            "discover",
            {"sources": ["greenhouse", "lever"], "received": 40, "inserted": 7},
            "discovery_run",
            {
                "trigger": "manual",
                "sources": 2,
                "jobs_found": 40,
                "jobs_new": 7,
                "duration_ms": 1500,
            },
        ),
    ],
)
def test_each_reported_kind_sends_one_allowed_event_for_its_owner(
    kind: str, result: dict[str, Any], event: str, metadata: dict[str, Any]
) -> None:
    sink = Recorder()
    task_finished_reporter(sink)(ALICE, kind, result, 1.5)
    assert sink.events == [(ALICE, "peregrine", event, metadata)]


def test_it_sends_nothing_for_other_kinds_or_without_an_owner() -> None:
    sink = Recorder()
    report = task_finished_reporter(sink)
    report(ALICE, "score", {"scored": 3, "average": 0.5}, 0.1)
    report(ALICE, "enrich", {"enriched": 1, "failed": 0}, 0.1)
    report(None, "research", {}, 0.1)
    assert sink.events == []


def test_result_text_never_reaches_the_event() -> None:
    sink = Recorder()
    report = task_finished_reporter(sink)
    report(ALICE, "discover", {"sources": "Hydra Energy", "received": "many"}, 0.2)
    report(ALICE, "cover_letter", {"version": "2", "words": -4, "text": "Dear Hydra"}, 0.2)
    assert [e[3] for e in sink.events] == [
        {"trigger": "manual", "sources": 0, "jobs_found": 0, "jobs_new": 0, "duration_ms": 200},
        {"regenerated": False, "duration_ms": 200, "words": 0},
    ]


def test_the_hook_reaches_the_embedded_worker_whenever_it_is_set() -> None:
    """The queue hands its completion hook to the code that calls it, the embedded
    worker's runner, whether the hook is set before or after the queue starts."""
    runner = UserTaskRunner(
        registry=Registry(),
        tenancy=None,  # type: ignore[arg-type]  # never used: no task runs here
        stopping=threading.Event(),
    )
    embedded = EmbeddedWorker(WorkerOptions(conninfo="postgresql://unused"), runner)
    # Nothing connects before start(): constructing the pool is safe offline.
    queue = ProcrastinateTaskQueue(
        PlatformDB("postgresql://unused"), registry=Registry(), embedded=embedded
    )
    first = task_finished_reporter(Recorder())
    queue.on_finished = first
    assert runner.on_finished is first
    second = task_finished_reporter(Recorder())
    queue.on_finished = second
    assert runner.on_finished is second
    assert queue.on_finished is second
