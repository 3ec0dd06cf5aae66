"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(request: Request) -> dict[str, str]:
    """The process is up (and which node this is, when PEREGRINE_NODE_NAME names it)."""
    node = request.app.state.settings.node_name
    return {"status": "ok", "node": node} if node else {"status": "ok"}


@router.get("/readyz", response_model=None)
def readyz(request: Request) -> JSONResponse | dict[str, str]:
    """The process can reach its storage (in cloud mode: the data root, without a user)."""
    if not request.app.state.tenancy.ready():
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return {"status": "ready"}
