"""The app keeps serving when the platform database is down, hung or restarted."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi.testclient import TestClient

from peregrine.observability.metrics import Metrics
from peregrine.platform import usage
from tests.integration.platform.conftest import (
    ALICE,
    HungServer,
    PgServer,
    count_events,
    set_consent,
)

MakeClient = Callable[..., tuple[TestClient, object, object]]


def _sample(app: object, name: str, labels: dict[str, str] | None = None) -> float:
    metrics: Metrics = app.state.metrics  # type: ignore[attr-defined]
    return metrics.registry.get_sample_value(name, labels or {}) or 0.0


def _emit(app: object, n: int) -> None:
    telemetry = app.state.platform.telemetry  # type: ignore[attr-defined]
    for _ in range(n):
        usage.job_moved(
            telemetry, ALICE, app="peregrine", from_status="pending", to_status="applied"
        )


def _wait_for(predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _serves_pages(client: TestClient) -> list[float]:
    took = []
    for path in ("/healthz", "/readyz", "/api/v1/jobs"):
        started = time.perf_counter()
        r = client.get(path)
        took.append(time.perf_counter() - started)
        assert r.status_code == 200, (path, r.text)
    return took


def test_it_starts_and_serves_while_postgres_is_down_then_recovers(
    embedded_pg: PgServer, make_cloud_client: MakeClient
) -> None:
    url = embedded_pg.create_database()
    set_consent(url, ALICE, usage_events_enabled=True)
    embedded_pg.stop()
    try:
        client, app, _ = make_cloud_client(url)
        _serves_pages(client)
        # Gated features fall back to free; privacy says plainly it is unavailable.
        assert app.state.platform.tiers.tier_of(ALICE) == "free"  # type: ignore[attr-defined]
        r = client.get("/api/v1/privacy")
        assert r.status_code == 503
        assert "unavailable" in r.json()["error"]
        _emit(app, 4)
        assert _wait_for(
            lambda: (
                _sample(
                    app, "peregrine_telemetry_dropped_events_total", {"reason": "db_unavailable"}
                )
                == 4
            )
        )
        assert _sample(app, "peregrine_platform_db_errors_total") >= 1
    finally:
        embedded_pg.start()
    # Back up: the pool reconnects by itself and the next events are written.
    assert _wait_for(lambda: client.get("/api/v1/privacy").status_code == 200)
    _emit(app, 3)
    assert _wait_for(lambda: count_events(url) == 3)


def test_a_hung_postgres_does_not_slow_pages_and_events_are_dropped_and_counted(
    hung_server: HungServer, make_cloud_client: MakeClient
) -> None:
    client, app, _ = make_cloud_client(hung_server.url, PLATFORM_CONNECT_TIMEOUT="5")
    _emit(app, 10)
    # While the flusher waits on the silent server, pages answer without waiting on it: a
    # page that touched the database would take the 5 s connect timeout. (How close the
    # latency stays to normal is measured in bench/telemetry.py, not asserted here.)
    slowest = max(max(_serves_pages(client)) for _ in range(20))
    assert slowest < 2.5
    assert _wait_for(
        lambda: (
            _sample(app, "peregrine_telemetry_dropped_events_total", {"reason": "db_unavailable"})
            == 10
        )
    )
    assert _sample(app, "peregrine_platform_db_errors_total") >= 1
    assert app.state.platform.telemetry.pending() == 0  # type: ignore[attr-defined]


def test_a_postgres_restart_mid_run_is_invisible_to_users(
    embedded_pg: PgServer, make_cloud_client: MakeClient
) -> None:
    url = embedded_pg.create_database()
    client, app, _ = make_cloud_client(url)
    assert client.put("/api/v1/privacy", json={"usage_events_enabled": True}).status_code == 200
    _emit(app, 2)
    assert _wait_for(lambda: count_events(url) == 2)
    embedded_pg.stop()
    embedded_pg.start()
    # The pooled connections died with the old server; the pool notices at checkout and
    # replaces them, so the very first request after the restart succeeds.
    r = client.get("/api/v1/privacy")
    assert r.status_code == 200, r.text
    assert r.json()["usage_events_enabled"] is True
    _serves_pages(client)
    _emit(app, 2)
    assert _wait_for(lambda: count_events(url) == 4)
