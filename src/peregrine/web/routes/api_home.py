"""JSON API behind Home: dashboard figures and CSV import."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, File, UploadFile
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from peregrine.services import dashboard, pipeline
from peregrine.services import jobs as job_service
from peregrine.storage.queries import jobs as job_q
from peregrine.web.deps import UserDBDep

router = APIRouter(prefix="/api/v1", tags=["home"])


@router.get("/dashboard")
def get_dashboard(db: UserDBDep) -> dict[str, Any]:
    """Counts per status, the funnel, response rate by source, time to first response."""
    with db.read() as conn:
        counts = job_q.counts_by_status(conn)
        board = dashboard.build(conn)
        follow_ups = [j.id for j in pipeline.due_follow_ups(conn)]
    return {
        "counts": counts,
        "funnel": [asdict(step) for step in board.funnel],
        "by_source": [
            {
                "source": r.source,
                "applied": r.applied,
                "responded": r.responded,
                "rate": r.rate,
                "small_sample": r.small,
            }
            for r in board.by_source
        ],
        "median_days_to_response": board.median_days_to_response,
        "responses_measured": board.responses_measured,
        "due_follow_ups": follow_ups,
    }


@router.post("/jobs/import", response_model=None)
async def import_csv(db: UserDBDep, file: Annotated[UploadFile, File()]) -> Any:
    """Import a CSV of jobs: all rows, or (when any row is wrong) none, with every error."""
    parsed = job_service.parse_csv(await file.read())
    if parsed.errors:
        return JSONResponse(
            {
                "error": f"{len(parsed.errors)} problem(s); nothing imported",
                "problems": parsed.errors,
            },
            status_code=422,
        )
    summary = await run_in_threadpool(
        job_service.store_imported, db, parsed.jobs, skipped=parsed.duplicates_in_file
    )
    return asdict(summary)
