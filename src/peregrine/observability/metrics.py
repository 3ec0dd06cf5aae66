"""Prometheus metrics, one registry per app so tests can build many apps in one process."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

# Page and API latencies we care about sit between 5 ms and a few seconds.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Every metric Peregrine exposes. Objects that own a number (the telemetry buffer, the
    tenant handle cache, the task queue) either update these or register a callback."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "peregrine_http_requests",
            "HTTP requests by method, route template and status code.",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "peregrine_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.telemetry_buffered = Gauge(
            "peregrine_telemetry_buffered_events",
            "Usage events waiting in memory to be written.",
            registry=r,
        )
        self.telemetry_written = Counter(
            "peregrine_telemetry_written_events",
            "Usage events written to the platform database.",
            registry=r,
        )
        self.telemetry_dropped = Counter(
            "peregrine_telemetry_dropped_events",
            "Usage events not written, by reason (no_consent, buffer_full, db_unavailable, "
            "invalid, shutdown).",
            ["reason"],
            registry=r,
        )
        self.platform_db_errors = Counter(
            "peregrine_platform_db_errors",
            "Failed attempts to use the platform database (connection or statement).",
            registry=r,
        )
        self.tenant_handles = Gauge(
            "peregrine_open_tenant_handles",
            "User databases currently held open.",
            registry=r,
        )
        self.task_queue_depth = Gauge(
            "peregrine_task_queue_depth",
            "Background tasks queued or running.",
            registry=r,
        )

    def watch_tenant_handles(self, count: Callable[[], float]) -> None:
        """Read the open-handle count from its owner whenever metrics are scraped."""
        self.tenant_handles.set_function(count)

    def watch_task_queue_depth(self, count: Callable[[], float]) -> None:
        self.task_queue_depth.set_function(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)
