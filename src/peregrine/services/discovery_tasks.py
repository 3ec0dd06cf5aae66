"""Discovery, scoring and enrichment as background-task handlers.

They follow the tasks contract (``register_handler(kind, handler)``, a ``TaskContext`` with
``db``, ``task_id``, ``job_id``, ``params``, ``report(stage, progress)`` and ``cancelled()``);
the app wiring registers them as kinds ``discover``, ``score`` and ``enrich``. The protocol
below names only what these handlers use, so they do not import the queue.
"""

from __future__ import annotations

from typing import Any, Protocol

from peregrine.lib.http import HttpClient
from peregrine.services import discovery, scoring
from peregrine.storage.userdb import UserDB


class TaskContextLike(Protocol):
    db: UserDB
    task_id: int
    job_id: int | None
    params: dict[str, Any]

    def report(self, stage: str, progress: float) -> None: ...

    def cancelled(self) -> bool: ...


def _text_param(ctx: TaskContextLike, name: str) -> str | None:
    value = (ctx.params or {}).get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 100:
        raise discovery.DiscoveryError(f"parameter {name!r} must be a short text")
    return value


def discover_handler(ctx: TaskContextLike) -> dict[str, Any]:
    """Kind ``discover``; params: ``profile`` (name, optional), ``source`` (optional)."""
    report = discovery.run_discovery(
        ctx.db,
        profile_name=_text_param(ctx, "profile"),
        source=_text_param(ctx, "source"),
        progress=ctx.report,
        cancelled=ctx.cancelled,
    )
    return report.as_dict()


def score_handler(ctx: TaskContextLike) -> dict[str, Any]:
    """Kind ``score``: re-score one job (``job_id``) or every job."""
    ctx.report("scoring", 0.0)
    summary = scoring.score_jobs(
        ctx.db,
        job_ids=[ctx.job_id] if ctx.job_id is not None else None,
        progress=lambda done, total: ctx.report("scoring", done / max(total, 1)),
        cancelled=ctx.cancelled,
    )
    return {"scored": summary.scored, "average": summary.average}


def enrich_handler(ctx: TaskContextLike) -> dict[str, Any]:
    """Kind ``enrich``: fetch descriptions for one job (``job_id``) or those waiting."""
    ctx.report("enriching", 0.0)
    with HttpClient() as http:
        enriched, failed = discovery.enrich_jobs(
            ctx.db,
            http,
            job_ids=[ctx.job_id] if ctx.job_id is not None else None,
            progress=lambda fraction: ctx.report("enriching", fraction),
            cancelled=ctx.cancelled,
        )
    return {"enriched": enriched, "failed": failed}
