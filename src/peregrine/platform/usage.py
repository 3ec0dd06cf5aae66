"""Usage events: ``log_usage_event`` is the only path into ``usage_events``.

Consent comes first, the request path never waits: an event is validated against its
allow-list, checked against the remembered consent answer, and put in a bounded in-memory
buffer. A background thread writes the buffer in batches, reading every user's consent
again in the same transaction, so events buffered before a user switched telemetry off are
never written. When PostgreSQL is down or hung, batches are dropped and counted.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from peregrine.lib.statuses import STATUSES
from peregrine.observability.metrics import Metrics
from peregrine.platform import consent as consent_q
from peregrine.platform.consent import ConsentCache
from peregrine.platform.ids import is_user_id
from peregrine.platform.pool import PlatformDB, PlatformUnavailable

log = logging.getLogger("peregrine.telemetry")

JOB_STATUSES = frozenset(STATUSES)

# A value rule is a simple type (counts, durations, flags) or a closed set of words.
# There is deliberately no rule for free text: no job text, URLs, names or e-mails can
# pass, whatever a caller puts in.
Rule = type | frozenset[str]

EVENTS: dict[str, dict[str, Rule]] = {
    "job_moved": {"from_status": JOB_STATUSES, "to_status": JOB_STATUSES},
    "cover_letter_generated": {"regenerated": bool, "duration_ms": int, "words": int},
    "research_generated": {"duration_ms": int},
    "interview_prep_generated": {"duration_ms": int},
    "discovery_run": {
        "trigger": frozenset({"manual", "scheduled"}),
        "sources": int,
        "jobs_found": int,
        "jobs_new": int,
        "duration_ms": int,
    },
    "backup_exported": {"size_bytes": int, "encrypted": bool},
}

_APP = re.compile(r"[a-z][a-z0-9-]{1,31}")
_MAX_INT = 10**12


class UsageEventRejected(ValueError):
    """The event or its metadata is not on the allow-list."""


def check_metadata(event_type: str, metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return a clean copy of ``metadata`` or raise ``UsageEventRejected``."""
    rules = EVENTS.get(event_type)
    if rules is None:
        raise UsageEventRejected(f"unknown usage event {event_type!r}")
    clean: dict[str, Any] = {}
    for key, value in (metadata or {}).items():
        rule = rules.get(key)
        if rule is None:
            raise UsageEventRejected(f"{event_type}: metadata key {key!r} is not allowed")
        if isinstance(rule, frozenset):
            ok = type(value) is str and value in rule
        elif rule is int:
            ok = type(value) is int and 0 <= value <= _MAX_INT
        elif rule is float:
            ok = type(value) in (int, float) and math.isfinite(value) and abs(value) <= _MAX_INT
        else:
            ok = type(value) is rule
        if not ok:
            raise UsageEventRejected(f"{event_type}: metadata {key!r} has a value not allowed")
        clean[key] = value
    return clean


@dataclass(frozen=True, slots=True)
class _Event:
    user_id: str
    app: str
    event_type: str
    metadata: dict[str, Any]
    occurred_at: float  # epoch seconds; turned into a timestamp off the request path
    # Made when the event is first written, so a retried batch keeps its keys.
    key: uuid.UUID | None = None


class UsageSink(Protocol):
    def log_usage_event(
        self,
        user_id: str,
        app: str,
        event_type: str,
        metadata: Mapping[str, Any] | None = None,
    ) -> None: ...


class NoTelemetry:
    """Local and demo mode: there is no platform database and nothing is collected."""

    def log_usage_event(
        self,
        user_id: str,
        app: str,
        event_type: str,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        return None

    def consent_changed(self, user_id: str) -> None:
        return None

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None


# One statement per batch (arrays unnested server-side) is several times faster than a
# row-per-statement executemany, and ON CONFLICT makes a retried batch harmless.
_INSERT = (
    "INSERT INTO usage_events (user_id, app, event_type, metadata, occurred_at,"
    " idempotency_key)"
    " SELECT * FROM unnest(%b::uuid[], %b::text[], %b::text[], %b::text[]::jsonb[],"
    " %b::timestamptz[], %b::uuid[])"
    " ON CONFLICT (idempotency_key) DO NOTHING"
)


class Telemetry:
    """Cloud mode: the buffer, its flusher thread and the only writer of usage events."""

    def __init__(
        self,
        db: PlatformDB,
        *,
        metrics: Metrics,
        consent_cache: ConsentCache,
        capacity: int = 10_000,
        flush_interval: float = 2.0,
        batch_size: int = 1000,
    ) -> None:
        self._db = db
        self._metrics = metrics
        self._consent = consent_cache
        self._capacity = capacity
        self._interval = flush_interval
        self._batch_size = batch_size
        self._buffer: deque[_Event] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._abandon = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the request path ------------------------------------------------------------
    def log_usage_event(
        self,
        user_id: str,
        app: str,
        event_type: str,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Queue one event if it is allowed; never raises, never waits on the database."""
        try:
            if not is_user_id(user_id):
                raise UsageEventRejected("not a canonical user id")
            if not _APP.fullmatch(app):
                raise UsageEventRejected(f"bad app name {app!r}")
            clean = check_metadata(event_type, metadata)
        except Exception as exc:
            self._metrics.telemetry_dropped.labels("invalid").inc()
            # The reason names keys and the event, never values.
            log.warning(
                "usage event refused: %s",
                exc if isinstance(exc, UsageEventRejected) else type(exc).__name__,
            )
            return
        try:
            if self._consent.known(user_id) is False:
                self._metrics.telemetry_dropped.labels("no_consent").inc()
                return
            event = _Event(user_id, app, event_type, clean, time.time())
            with self._lock:
                if len(self._buffer) >= self._capacity:
                    full = True
                else:
                    full = False
                    self._buffer.append(event)
                    size = len(self._buffer)
            if full:
                self._metrics.telemetry_dropped.labels("buffer_full").inc()
                return
            self._metrics.telemetry_buffered.set(size)
            if size == self._batch_size:
                self._wake.set()
        except Exception:  # pragma: no cover - defensive: telemetry must never break a page
            log.exception("usage event lost")

    def consent_changed(self, user_id: str) -> None:
        """Forget the remembered answer so the next event asks the database again."""
        self._consent.forget(user_id)

    # -- the background side ---------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="peregrine-telemetry", daemon=True)
        self._thread.start()

    def stop(self, *, timeout: float = 10.0) -> None:
        """Write what is buffered (within the pool's timeouts), then end the thread."""
        if self._thread is None:
            return
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            # Shutdown must not wait on a slow database: what is left is dropped and counted.
            self._abandon.set()
            self._thread.join(timeout)
        self._thread = None
        self._abandon.clear()

    def pending(self) -> int:
        with self._lock:
            return len(self._buffer)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            self._flush_quietly()
        self._flush_quietly()

    def _flush_quietly(self) -> None:
        # The thread must outlive any surprise, or telemetry would stop for good.
        try:
            self.flush()
        except Exception:
            log.exception("usage event flush failed")

    def flush(self) -> int:
        """Write everything buffered now; return the number of events written."""
        written = 0
        while True:
            batch = self._take(self._batch_size)
            if not batch:
                return written
            if self._abandon.is_set():
                self._metrics.telemetry_dropped.labels("shutdown").inc(len(batch))
                continue
            written += self._write(batch)

    def _take(self, limit: int) -> list[_Event]:
        with self._lock:
            count = min(limit, len(self._buffer))
            batch = [self._buffer.popleft() for _ in range(count)]
            self._metrics.telemetry_buffered.set(len(self._buffer))
        return batch

    def _write(self, batch: list[_Event]) -> int:
        for i, e in enumerate(batch):
            if e.key is None:
                batch[i] = dataclasses.replace(e, key=uuid.uuid4())
        try:
            with self._db.connection() as conn:
                # Consent is read again here, in the writing transaction: an event queued a
                # second before the user switched telemetry off is still not written.
                answers = consent_q.get_many(conn, user_ids={e.user_id for e in batch})
                allowed = self._consent.remember(answers)
                keep = [e for e in batch if allowed.get(e.user_id, False)]
                if keep:
                    # %b (binary) parameters: text-format arrays cost a regex per element.
                    conn.execute(
                        _INSERT,
                        (
                            [uuid.UUID(e.user_id) for e in keep],
                            [e.app for e in keep],
                            [e.event_type for e in keep],
                            [json.dumps(e.metadata) for e in keep],
                            [datetime.fromtimestamp(e.occurred_at, UTC) for e in keep],
                            [e.key for e in keep],
                        ),
                    )
        except PlatformUnavailable:
            self._metrics.telemetry_dropped.labels("db_unavailable").inc(len(batch))
            return 0
        except Exception as exc:
            self._metrics.telemetry_dropped.labels("db_unavailable").inc(len(batch))
            log.warning("usage events dropped: %s", type(exc).__name__)
            return 0
        refused = len(batch) - len(keep)
        if refused:
            self._metrics.telemetry_dropped.labels("no_consent").inc(refused)
        self._metrics.telemetry_written.inc(len(keep))
        return len(keep)


# -- named events: call these where the thing happens ------------------------------------
def job_moved(sink: UsageSink, user_id: str, *, app: str, from_status: str, to_status: str) -> None:
    """A job changed status (approved, applied, interviewing, …)."""
    sink.log_usage_event(
        user_id, app, "job_moved", {"from_status": from_status, "to_status": to_status}
    )


def cover_letter_generated(
    sink: UsageSink, user_id: str, *, app: str, regenerated: bool, duration_ms: int, words: int
) -> None:
    sink.log_usage_event(
        user_id,
        app,
        "cover_letter_generated",
        {"regenerated": regenerated, "duration_ms": duration_ms, "words": words},
    )


def research_generated(sink: UsageSink, user_id: str, *, app: str, duration_ms: int) -> None:
    sink.log_usage_event(user_id, app, "research_generated", {"duration_ms": duration_ms})


def interview_prep_generated(sink: UsageSink, user_id: str, *, app: str, duration_ms: int) -> None:
    sink.log_usage_event(user_id, app, "interview_prep_generated", {"duration_ms": duration_ms})


def discovery_run(
    sink: UsageSink,
    user_id: str,
    *,
    app: str,
    trigger: str,
    sources: int,
    jobs_found: int,
    jobs_new: int,
    duration_ms: int,
) -> None:
    sink.log_usage_event(
        user_id,
        app,
        "discovery_run",
        {
            "trigger": trigger,
            "sources": sources,
            "jobs_found": jobs_found,
            "jobs_new": jobs_new,
            "duration_ms": duration_ms,
        },
    )


def backup_exported(
    sink: UsageSink, user_id: str, *, app: str, size_bytes: int, encrypted: bool
) -> None:
    sink.log_usage_event(
        user_id, app, "backup_exported", {"size_bytes": size_bytes, "encrypted": encrypted}
    )
