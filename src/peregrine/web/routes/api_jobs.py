"""JSON API for jobs: list with filters and paging, add, show, move, undo, edit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field

from peregrine.lib.clock import now_iso
from peregrine.lib.statuses import STATUSES
from peregrine.services import jobs as job_service
from peregrine.services import pipeline
from peregrine.storage.queries import events as event_q
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.userdb import UserDB
from peregrine.web import usage_events
from peregrine.web.deps import UserDBDep, query_model, query_parameters, read_with
from peregrine.web.fragments import LRU, FragmentCache, current_page, page_cache

router = APIRouter(prefix="/api/v1", tags=["jobs"])

SortParam = Literal["score", "newest", "posted", "salary", "company", "title"]
if TYPE_CHECKING:
    StatusParam = str
else:
    # Literal over the shared tuple: FastAPI validates it and OpenAPI lists the values.
    StatusParam = Literal[STATUSES]


class JobOut(BaseModel):
    id: int
    title: str
    company: str
    location: str
    work_mode: str
    url: str
    source: str
    sources: list[str]
    status: str
    match_score: float | None
    match_explanation: dict[str, Any]
    keyword_gaps: list[str]
    flags: list[str]
    salary_text: str
    salary_annual_min: float | None
    salary_annual_max: float | None
    salary_currency: str | None
    date_posted: str | None
    date_found: str
    applied_at: str | None
    follow_up_on: str | None
    interview_at: str | None
    interview_tz: str | None
    rejection_stage: str | None
    notes: str

    @classmethod
    def of(cls, job: job_q.Job) -> JobOut:
        return cls.model_validate(job.to_dict())


class JobDetailOut(JobOut):
    description: str
    cover_letter: str
    allowed_moves: list[str]
    events: list[dict[str, Any]]
    links: list[dict[str, str]]


class JobPage(BaseModel):
    items: list[JobOut]
    total: int
    limit: int
    offset: int


class NewJobIn(BaseModel):
    url: str = Field(max_length=2048)
    title: str = Field(max_length=500)
    company: str = Field(default="", max_length=300)
    location: str = Field(default="", max_length=300)
    description: str = Field(default="", max_length=200_000)
    salary_text: str = Field(default="", max_length=200)
    work_mode: Literal["remote", "hybrid", "onsite", "unknown"] = "unknown"


class MoveIn(BaseModel):
    status: StatusParam
    note: str = Field(default="", max_length=2000)


class BulkMoveIn(BaseModel):
    job_ids: list[int] = Field(min_length=1, max_length=500)
    status: StatusParam


class MoveOut(BaseModel):
    job_id: int
    from_status: str
    to_status: str


class JobEditIn(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=500)
    company: str | None = Field(default=None, max_length=300)
    location: str | None = Field(default=None, max_length=300)
    notes: str | None = Field(default=None, max_length=50_000)
    interview_at: str | None = Field(default=None, max_length=40)
    interview_tz: str | None = Field(default=None, max_length=64)
    follow_up_on: str | None = Field(default=None, max_length=10)


def _require(job: job_q.Job | None, job_id: int) -> job_q.Job:
    if job is None:
        raise HTTPException(404, f"job {job_id} not found")
    return job


class JobsQuery(BaseModel):
    status: list[StatusParam] | None = None
    source: str | None = Field(default=None, max_length=50)
    remote: bool = False
    min_score: float | None = Field(default=None, ge=0, le=100)
    q: str | None = Field(default=None, max_length=200)
    sort: SortParam = "score"
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0)


@router.get(
    "/jobs",
    response_model=JobPage,
    openapi_extra={"parameters": query_parameters(JobsQuery)},
)
async def list_jobs(request: Request) -> Response:
    """Jobs matching the filters, one page at a time."""
    # The query is validated by one model, not as eight FastAPI parameters, and the
    # database borrowed without a dependency: FastAPI's per-request work on those cost
    # more than building the cached answer (bench/pages.py).
    query = query_model(request, JobsQuery, lists=("status",))
    return await read_with(
        request,
        lambda db: _job_page(request, db, query),
        cached=lambda db: _cached_job_page(request, db, query),
    )


def _job_filter(query: JobsQuery) -> job_q.JobFilter:
    return job_q.JobFilter(
        statuses=tuple(query.status or ()),
        source=query.source,
        remote_only=query.remote,
        min_score=query.min_score,
        text=query.q or None,
    )


def _pages_cache(request: Request) -> LRU[tuple[int, bytes]]:
    state = request.app.state.__dict__
    pages_cache: LRU[tuple[int, bytes]] | None = state.get("api_job_pages")
    if pages_cache is None:
        settings = request.app.state.settings
        # A third of PEREGRINE_PAGE_CACHE_MB (64 MiB by default); a 50-job page is ~35 KB:
        # room for one page each of ~1,800 tenants.
        pages_cache = state.setdefault(
            "api_job_pages",
            page_cache(settings.cloud_db_cache_size, settings.page_cache_mb * 2**20 // 3),
        )
    return pages_cache


def _page_key(db: UserDB, flt: job_q.JobFilter, query: JobsQuery) -> tuple[Any, ...]:
    # The mark is new after any change to any job or source link (migration 0002); a page
    # is served only if it was built at the current mark.
    return (str(db.path), flt, query.sort, query.limit, query.offset)


def _cached_job_page(request: Request, db: UserDB, query: JobsQuery) -> Response | None:
    """The page from the cache if it is current, else None (see ``read_with``)."""
    key = _page_key(db, _job_filter(query), query)
    body = current_page(db, _pages_cache(request), key)
    return None if body is None else Response(body, media_type="application/json")


def _job_page(request: Request, db: UserDB, query: JobsQuery) -> Response:
    flt = _job_filter(query)
    sort, limit, offset = query.sort, query.limit, query.offset
    state = request.app.state.__dict__
    rows_cache: FragmentCache = state.setdefault("api_job_rows", FragmentCache(maxsize=4096))
    pages_cache = _pages_cache(request)
    db_key = str(db.path)
    with db.read() as conn:
        # One snapshot for the mark and the rows: content read after a concurrent write
        # must not be cached under the mark from before it.
        conn.execute("BEGIN")
        mark = job_q.changes_mark(conn)
        page_key = _page_key(db, flt, query)
        entry = None if mark is None else pages_cache.get(page_key)
        body = entry[1] if entry is not None and entry[0] == mark else None
        if body is None:
            marks, total = job_q.page_marks(conn, flt=flt, sort=sort, limit=limit, offset=offset)
            keys = [(db_key, m.id, m.rev) for m in marks]
            found = [rows_cache.get(key) for key in keys]
            missing = [key[1] for key, row in zip(keys, found, strict=True) if row is None]
            jobs = job_q.jobs_by_ids(conn, ids=missing) if missing else {}
    if body is None:
        items: list[str] = []
        for key, hit in zip(keys, found, strict=True):
            row = hit
            if row is None:
                job = jobs.get(key[1])
                if job is None:  # deleted between the two reads
                    continue
                # Each row is serialised once per version of the job (a job's every change
                # gives it a new rev), by the same model as before.
                row = JobOut.of(job).model_dump_json()
                rows_cache.put(key, row)
            items.append(row)
        # Exactly what JobPage(...).model_dump_json() writes (compact, fields in this
        # order), without re-validating 50 rows into a page model to get there.
        body = (
            f'{{"items":[{",".join(items)}],"total":{int(total)},'
            f'"limit":{int(limit)},"offset":{int(offset)}}}'
        ).encode()
        if mark is not None:
            pages_cache.put(page_key, (mark, body))
    return Response(body, media_type="application/json")


@router.post("/jobs", status_code=201)
def add_job(db: UserDBDep, body: NewJobIn) -> dict[str, Any]:
    """Add one job by URL (a repeat URL merges into the existing job)."""
    new = job_service.build_new_job(**body.model_dump())
    result = job_service.add_job(db, new)
    return {"id": result.job_id, "created": result.created}


@router.get("/jobs/{job_id}", response_model=JobDetailOut)
def show_job(db: UserDBDep, job_id: int) -> JobDetailOut:
    with db.read() as conn:
        job = _require(job_q.get_job(conn, job_id=job_id), job_id)
        events = [_event(e) for e in event_q.events_for_job(conn, job_id=job_id)]
        links = job_q.source_links(conn, job_id=job_id)
    return JobDetailOut.model_validate(
        {
            **job.to_dict(),
            "allowed_moves": pipeline.allowed_moves(job.status),
            "events": events,
            "links": links,
        }
    )


def _event(event: event_q.JobEvent) -> dict[str, Any]:
    return {k: getattr(event, k) for k in event.__slots__}


@router.patch("/jobs/{job_id}", response_model=JobOut)
def edit_job(db: UserDBDep, job_id: int, body: JobEditIn) -> JobOut:
    values = body.model_dump(exclude_unset=True)
    with db.write() as conn:
        if not job_q.update_job_fields(conn, job_id=job_id, values=values, now=now_iso()):
            raise HTTPException(404, f"job {job_id} not found")
        job = _require(job_q.get_job(conn, job_id=job_id), job_id)
    return JobOut.of(job)


@router.post("/jobs/{job_id}/move", response_model=MoveOut)
def move_job(request: Request, db: UserDBDep, job_id: int, body: MoveIn) -> MoveOut:
    """Move a job to another status, following the pipeline rules."""
    result = pipeline.move(db, job_id=job_id, to_status=body.status, note=body.note)
    usage_events.jobs_moved(request, [result])
    return MoveOut(job_id=result.job_id, from_status=result.from_status, to_status=result.to_status)


@router.post("/jobs/move", response_model=list[MoveOut])
def move_jobs(request: Request, db: UserDBDep, body: BulkMoveIn) -> list[MoveOut]:
    """Move several jobs at once; if one move is refused, none happens."""
    results = pipeline.move_many(db, job_ids=body.job_ids, to_status=body.status)
    usage_events.jobs_moved(request, results)
    return [
        MoveOut(job_id=r.job_id, from_status=r.from_status, to_status=r.to_status) for r in results
    ]


@router.post("/jobs/undo", response_model=MoveOut | None)
def undo(request: Request, db: UserDBDep, job_id: int | None = None) -> MoveOut | None:
    """Undo the most recent move (of one job with ``job_id``, or of any job)."""
    result = pipeline.undo_last(db, job_id=job_id)
    if result is None:
        raise HTTPException(409, "there is nothing to undo")
    usage_events.jobs_moved(request, [result])
    return MoveOut(job_id=result.job_id, from_status=result.from_status, to_status=result.to_status)


@router.get("/stats")
def stats(db: UserDBDep) -> dict[str, Any]:
    with db.read() as conn:
        return {"counts": job_q.counts_by_status(conn)}
