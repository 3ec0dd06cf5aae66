"""Prometheus scrape endpoint (mounted only when METRICS_ENABLED)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from peregrine.observability.metrics import CONTENT_TYPE_LATEST, Metrics

router = APIRouter(tags=["metrics"])


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    registry: Metrics = request.app.state.metrics
    return Response(registry.render(), media_type=CONTENT_TYPE_LATEST)
