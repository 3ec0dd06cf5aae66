"""Prometheus /metrics and the request id: off by default locally, counted by route."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from peregrine.app import create_app
from peregrine.settings import Settings


@pytest.fixture
def metrics_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings.from_env(
        {"PEREGRINE_DATA_DIR": str(tmp_path / "data"), "METRICS_ENABLED": "true"}
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8502") as client:
        yield client


def _samples(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    r = client.get("/metrics")
    assert r.status_code == 200
    found = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            found[(s.name, frozenset(s.labels.items()))] = s.value
    return found


def test_metrics_are_off_by_default_in_local_mode(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 404


def test_requests_are_counted_by_route_template_not_raw_path(
    metrics_client: TestClient,
) -> None:
    assert metrics_client.get("/api/v1/jobs").status_code == 200
    assert metrics_client.get("/api/v1/jobs/4242").status_code == 404
    assert metrics_client.get("/no/such/page").status_code == 404
    samples = _samples(metrics_client)
    key = frozenset({("method", "GET"), ("route", "/api/v1/jobs"), ("status", "200")})
    assert samples[("peregrine_http_requests_total", key)] == 1
    by_template = frozenset(
        {("method", "GET"), ("route", "/api/v1/jobs/{job_id}"), ("status", "404")}
    )
    assert samples[("peregrine_http_requests_total", by_template)] == 1
    unmatched = frozenset({("method", "GET"), ("route", "unmatched"), ("status", "404")})
    assert samples[("peregrine_http_requests_total", unmatched)] == 1
    latency = frozenset({("method", "GET"), ("route", "/api/v1/jobs")})
    assert samples[("peregrine_http_request_duration_seconds_count", latency)] == 1
    assert not any("4242" in str(labels) for _, labels in samples)


def test_the_plain_starlette_review_route_is_counted_by_its_template(
    metrics_client: TestClient,
) -> None:
    assert metrics_client.get("/review?status=pending").status_code == 200
    assert metrics_client.get("/review?page=0").status_code == 422
    samples = _samples(metrics_client)
    ok = frozenset({("method", "GET"), ("route", "/review"), ("status", "200")})
    refused = frozenset({("method", "GET"), ("route", "/review"), ("status", "422")})
    assert samples[("peregrine_http_requests_total", ok)] == 1
    assert samples[("peregrine_http_requests_total", refused)] == 1
    assert not any(labels and ("route", "unmatched") in labels for _, labels in samples)


def test_owners_of_a_number_can_connect_a_gauge(metrics_client: TestClient) -> None:
    metrics = metrics_client.app.state.metrics  # type: ignore[attr-defined]
    metrics.watch_tenant_handles(lambda: 3)
    metrics.watch_task_queue_depth(lambda: 2)
    samples = _samples(metrics_client)
    assert samples[("peregrine_open_tenant_handles", frozenset())] == 3
    assert samples[("peregrine_task_queue_depth", frozenset())] == 2
    for name in (
        "peregrine_telemetry_buffered_events",
        "peregrine_telemetry_written_events_total",
        "peregrine_platform_db_errors_total",
    ):
        assert (name, frozenset()) in samples


def test_every_response_carries_a_request_id(metrics_client: TestClient) -> None:
    first = metrics_client.get("/healthz").headers["x-request-id"]
    second = metrics_client.get("/healthz").headers["x-request-id"]
    assert first != second
    assert len(first) >= 16
    kept = metrics_client.get("/healthz", headers={"X-Request-ID": "caddy-req-0001"})
    assert kept.headers["x-request-id"] == "caddy-req-0001"
    odd = metrics_client.get("/healthz", headers={"X-Request-ID": "<script>alert(1)</script>"})
    assert "<" not in odd.headers["x-request-id"]


def test_metrics_can_be_switched_off_in_cloud_mode(tmp_path: Path) -> None:
    from tests.integration.platform.conftest import cloud_settings

    on = create_app(cloud_settings(tmp_path, None))
    off = create_app(cloud_settings(tmp_path, None, METRICS_ENABLED="false"))
    with TestClient(on, base_url="http://127.0.0.1:8505") as client:
        assert client.get("/metrics").status_code == 200
    with TestClient(off, base_url="http://127.0.0.1:8505") as client:
        assert client.get("/metrics").status_code == 404
