"""Consent-first usage telemetry against a real PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg
import pytest

from peregrine.observability.metrics import Metrics
from peregrine.platform import usage
from peregrine.platform.consent import ConsentCache
from peregrine.platform.pool import PlatformDB
from peregrine.platform.usage import Telemetry
from tests.integration.platform.conftest import (
    ALICE,
    BOB,
    count_events,
    set_consent,
)

MakeTelemetry = Callable[..., tuple[Telemetry, Metrics]]


@pytest.fixture
def make_telemetry(platform_url: str) -> MakeTelemetry:
    made: list[tuple[Telemetry, PlatformDB]] = []

    def make(
        *, default_consent: bool = False, ttl: float = 15, capacity: int = 1000
    ) -> tuple[Telemetry, Metrics]:
        metrics = Metrics()
        db = PlatformDB(platform_url, connect_timeout=2, on_error=metrics.platform_db_errors.inc)
        db.start()
        telemetry = Telemetry(
            db,
            metrics=metrics,
            consent_cache=ConsentCache(ttl=ttl, default_consent=default_consent),
            capacity=capacity,
        )
        made.append((telemetry, db))
        return telemetry, metrics

    yield make  # type: ignore[misc]
    for telemetry, db in made:
        telemetry.stop()
        db.stop()


def dropped(metrics: Metrics, reason: str) -> float:
    return (
        metrics.registry.get_sample_value(
            "peregrine_telemetry_dropped_events_total", {"reason": reason}
        )
        or 0.0
    )


def moved(telemetry: Telemetry, user_id: str, to_status: str = "applied") -> None:
    usage.job_moved(
        telemetry, user_id, app="peregrine", from_status="approved", to_status=to_status
    )


def test_a_consenting_user_s_events_are_written_with_their_metadata(
    make_telemetry: MakeTelemetry, platform_url: str
) -> None:
    set_consent(platform_url, ALICE, usage_events_enabled=True)
    telemetry, metrics = make_telemetry()
    moved(telemetry, ALICE)
    usage.backup_exported(telemetry, ALICE, app="peregrine", size_bytes=2048, encrypted=True)
    assert telemetry.flush() == 2
    with psycopg.connect(platform_url) as conn:
        rows = conn.execute(
            "SELECT user_id, app, event_type, metadata FROM usage_events ORDER BY id"
        ).fetchall()
    assert [(str(r[0]), r[1], r[2], r[3]) for r in rows] == [
        (ALICE, "peregrine", "job_moved", {"from_status": "approved", "to_status": "applied"}),
        (ALICE, "peregrine", "backup_exported", {"size_bytes": 2048, "encrypted": True}),
    ]
    assert metrics.registry.get_sample_value("peregrine_telemetry_written_events_total") == 2


def test_a_user_without_a_consent_row_is_not_recorded(
    make_telemetry: MakeTelemetry, platform_url: str
) -> None:
    telemetry, metrics = make_telemetry()
    moved(telemetry, BOB)
    assert telemetry.flush() == 0
    assert count_events(platform_url) == 0
    assert dropped(metrics, "no_consent") == 1


def test_the_operator_default_covers_users_who_never_chose(
    make_telemetry: MakeTelemetry, platform_url: str
) -> None:
    set_consent(platform_url, ALICE, all_disabled=True, usage_events_enabled=True)
    telemetry, _ = make_telemetry(default_consent=True)
    moved(telemetry, BOB)  # never chose: the operator default applies
    moved(telemetry, ALICE)  # the kill switch still wins
    telemetry.flush()
    assert count_events(platform_url, user_id=BOB) == 1
    assert count_events(platform_url, user_id=ALICE) == 0


def test_the_kill_switch_overrides_usage_events_enabled(
    make_telemetry: MakeTelemetry, platform_url: str
) -> None:
    set_consent(
        platform_url,
        ALICE,
        all_disabled=True,
        usage_events_enabled=True,
        content_sharing_enabled=True,
    )
    telemetry, _ = make_telemetry()
    for _ in range(5):
        moved(telemetry, ALICE)
    telemetry.flush()
    assert count_events(platform_url) == 0


def test_usage_events_disabled_means_nothing_is_written(
    make_telemetry: MakeTelemetry, platform_url: str
) -> None:
    set_consent(platform_url, ALICE, usage_events_enabled=False)
    telemetry, _ = make_telemetry()
    moved(telemetry, ALICE)
    telemetry.flush()
    assert count_events(platform_url) == 0


def test_buffered_events_are_checked_again_at_flush(
    make_telemetry: MakeTelemetry, platform_url: str
) -> None:
    set_consent(platform_url, ALICE, usage_events_enabled=True)
    telemetry, metrics = make_telemetry()
    moved(telemetry, ALICE)
    assert telemetry.flush() == 1  # consent now remembered as "yes"
    for _ in range(10):
        moved(telemetry, ALICE)
    assert telemetry.pending() == 10
    set_consent(platform_url, ALICE, all_disabled=True)
    assert telemetry.flush() == 0
    assert count_events(platform_url) == 1
    assert dropped(metrics, "no_consent") == 10


def test_a_remembered_refusal_drops_events_before_they_are_buffered(
    make_telemetry: MakeTelemetry, platform_url: str
) -> None:
    telemetry, metrics = make_telemetry()
    moved(telemetry, BOB)
    telemetry.flush()  # learns that bob has not consented
    moved(telemetry, BOB)
    assert telemetry.pending() == 0
    assert dropped(metrics, "no_consent") == 2


def test_the_buffer_is_bounded_and_overflow_is_counted(
    make_telemetry: MakeTelemetry, platform_url: str
) -> None:
    set_consent(platform_url, ALICE, usage_events_enabled=True)
    telemetry, metrics = make_telemetry(capacity=10)
    for _ in range(25):
        moved(telemetry, ALICE)
    assert telemetry.pending() == 10
    assert dropped(metrics, "buffer_full") == 15
    assert telemetry.flush() == 10


def test_a_retried_event_is_recorded_once(make_telemetry: MakeTelemetry, platform_url: str) -> None:
    set_consent(platform_url, ALICE, usage_events_enabled=True)
    telemetry, _ = make_telemetry()
    batch = [usage._Event(ALICE, "peregrine", "research_generated", {"duration_ms": 5}, 1e9)]
    assert telemetry._write(batch) == 1
    assert batch[0].key is not None
    telemetry._write(batch)  # e.g. the first commit's answer was lost and it is retried
    assert count_events(platform_url) == 1


def test_invalid_events_never_raise_and_are_counted(make_telemetry: MakeTelemetry) -> None:
    telemetry, metrics = make_telemetry()
    telemetry.log_usage_event("not-a-uuid", "peregrine", "job_moved", {})
    telemetry.log_usage_event(ALICE, "Peregrine!", "job_moved", {})
    telemetry.log_usage_event(ALICE, "peregrine", "job_moved", {"title": "CEO at Acme"})
    telemetry.log_usage_event(ALICE, "peregrine", "job_moved", object())  # type: ignore[arg-type]
    telemetry.log_usage_event(None, None, None, None)  # type: ignore[arg-type]
    assert telemetry.pending() == 0
    assert dropped(metrics, "invalid") == 5


def test_local_mode_logs_nothing_and_needs_no_database() -> None:
    sink = usage.NoTelemetry()
    usage.job_moved(sink, ALICE, app="peregrine", from_status="pending", to_status="approved")
    sink.start()
    sink.stop()


def test_the_background_thread_writes_without_being_asked(
    make_telemetry: MakeTelemetry, platform_url: str
) -> None:
    set_consent(platform_url, ALICE, usage_events_enabled=True)
    telemetry, _ = make_telemetry()
    telemetry._interval = 0.05
    telemetry.start()
    moved(telemetry, ALICE)
    deadline = time.monotonic() + 5
    while count_events(platform_url) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert count_events(platform_url) == 1
