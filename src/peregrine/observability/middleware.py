"""One pure-ASGI middleware gives every request an id (in the logs and the X-Request-ID
response header) and records its count and latency by route template — never by raw
path, which would hold ids and explode the number of series."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from peregrine.observability.logs import request_id_var
from peregrine.observability.metrics import Metrics

log = logging.getLogger("peregrine.access")

_SAFE_ID = re.compile(r"[A-Za-z0-9-]{8,64}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: Metrics | None) -> None:
        self.app = app
        self.metrics = metrics
        # The labelled series by (method, route template, status): ``labels()`` twice per
        # request cost as much as serving a cached page's bytes. Bounded: templates,
        # methods and status codes are all finite.
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope.get("method", "GET")
            method = method if method in _METHODS else "OTHER"
            if self.metrics is not None:
                series = self._series.get((method, route, status))
                if series is None:
                    series = self._series[(method, route, status)] = (
                        self.metrics.requests.labels(method, route, str(status)),
                        self.metrics.latency.labels(method, route),
                    )
                series[0].inc()
                series[1].observe(elapsed)
            log.info(
                "%s %s %s %.1fms",
                method,
                route,
                status,
                elapsed * 1000,
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            request_id_var.reset(token)


def _incoming_id(scope: Scope) -> str | None:
    """Keep a proxy's request id so logs line up across Caddy and the app; anything odd
    is replaced rather than trusted into our logs."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SAFE_ID.fullmatch(text) else None
    return None
