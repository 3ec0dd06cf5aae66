"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
def readyz(request: Request) -> JSONResponse | dict[str, str]:
    """The process can reach its storage (in cloud mode: the data root, without a user)."""
    if not request.app.state.tenancy.ready():
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return {"status": "ready"}
