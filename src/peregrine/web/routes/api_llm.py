"""JSON API for the LLM door: whether it is usable here, and what it has cost."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from peregrine.lib.clock import utcnow
from peregrine.llm.config import PURPOSES
from peregrine.llm.errors import SETTINGS_LINK
from peregrine.llm.router import LLMRouter
from peregrine.storage.queries import llm_calls as call_q
from peregrine.web.deps import UserDBDep

router = APIRouter(prefix="/api/v1/llm", tags=["llm"])


@router.get("/status")
def status(request: Request, db: UserDBDep) -> dict[str, Any]:
    """Which purposes have a backend; the UI shows a link to Settings for the others."""
    llm: LLMRouter = request.app.state.llm
    return {
        "blocked": request.app.state.settings.demo,
        "configured": {p: llm.configured(db, purpose=p) for p in PURPOSES},
        "settings_link": SETTINGS_LINK,
    }


@router.get("/usage")
def usage(
    db: UserDBDep,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
    recent: Annotated[int, Query(ge=0, le=200)] = 20,
) -> dict[str, Any]:
    """Calls, failures, tokens and latency per backend and purpose, plus the latest calls."""
    since = (utcnow() - timedelta(days=days)).isoformat().replace("+00:00", "Z")
    with db.read() as conn:
        summary = call_q.usage_summary(conn, since=since)
        latest = call_q.recent_calls(conn, limit=recent) if recent else []
    return {"days": days, "summary": summary, "recent": latest}
