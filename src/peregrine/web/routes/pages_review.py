"""Review: go through found jobs and approve, dismiss or skip them, one or many at a time."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup, escape
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse

from peregrine.lib.clock import utcnow
from peregrine.lib.html import sanitise
from peregrine.services import pipeline
from peregrine.services import review as review_service
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.userdb import UserDB
from peregrine.web import usage_events
from peregrine.web.deps import UserDBDep, query_model, read_with
from peregrine.web.fragments import LRU, FragmentCache, current_page, page_cache
from peregrine.web.render import flash, page_response, pending_flashes, render_text, root, url
from peregrine.web.routes.api_jobs import SortParam, StatusParam
from peregrine.web.security import csrf_token

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
UNDO_COOKIE = "peregrine_undo"
# Review actions and the status each one moves a job to. "Skip" archives: the job leaves the
# queue without a verdict, and undo brings it back.
ACTIONS: dict[str, str] = {"approve": "approved", "dismiss": "dismissed", "skip": "archived"}
ACTION_DONE = {"approve": "Approved", "dismiss": "Dismissed", "skip": "Skipped"}
FLAG_LABELS = {
    "already_applied": "You applied to this before",
    "salary_unknown": "Salary not given",
}


@dataclass(frozen=True, slots=True)
class Card:
    job: job_q.Job
    description_html: str
    age_days: int | None
    explanation: list[tuple[str, str]]
    flags: list[str]


def _explanation(data: Any) -> list[tuple[str, str]]:
    """Whatever the scorer left, shown as label/value pairs; unknown shapes degrade to text."""
    out: list[tuple[str, str]] = []
    if not isinstance(data, dict):
        # Written by a scorer we do not control; anything but an object is shown as nothing.
        return out
    for key, value in data.items():
        label = str(key).replace("_", " ").capitalize()
        if isinstance(value, list):
            text = ", ".join(str(v) for v in value)
        elif isinstance(value, dict):
            text = ", ".join(f"{k}: {v}" for k, v in value.items())
        elif isinstance(value, float):
            text = f"{value:g}"
        else:
            text = str(value)
        if text:
            out.append((label, text[:300]))
    return out[:12]


def _age(found: str, today: date) -> int | None:
    try:
        return (today - date.fromisoformat(found[:10])).days
    except ValueError:
        return None


def _render_card(env: Any, job: job_q.Job, age: int | None, actionable: bool) -> Markup:
    flags = [
        FLAG_LABELS.get(f, f.replace("_", " "))
        for f in (job.flags if isinstance(job.flags, list) else [])
        if isinstance(f, str)
    ]
    gaps = tuple(str(g) for g in job.keyword_gaps) if isinstance(job.keyword_gaps, list) else ()
    card = Card(
        job=job,
        description_html=sanitise(job.description),
        age_days=age,
        explanation=_explanation(job.match_explanation),
        flags=flags,
    )
    html: str = env.get_template("_job_card.html").render(
        card=card, gaps=gaps, actionable=actionable
    )
    # An autoescaping template render: its output is safe HTML.
    return Markup(html)  # noqa: S704


CardKey = tuple[str, int, int, int | None, bool]


def _card_keys(
    db_key: str, marks: list[job_q.JobMark], today: date, actionable: bool
) -> tuple[CardKey, ...]:
    """What each card shows, in a few values: a card depends only on its job (whose every
    change gives it a new ``rev``), the database it comes from, its age in days and whether
    it has action buttons."""
    return tuple((db_key, m.id, m.rev, _age(m.date_found, today), actionable) for m in marks)


def _cards(env: Any, cache: FragmentCache, conn: Any, keys: tuple[CardKey, ...]) -> list[Markup]:
    """The page's cards, rendered only for jobs whose card the cache does not hold
    (rendering 50 cards and decoding their rows was most of the review page's time)."""
    found = [cache.get(key) for key in keys]
    missing = [key[1] for key, html in zip(keys, found, strict=True) if html is None]
    jobs = job_q.jobs_by_ids(conn, ids=missing) if missing else {}
    cards: list[Markup] = []
    for key, hit in zip(keys, found, strict=True):
        html = hit
        if html is None:
            # Rows are read after the marks, so a job changed in between is cached under
            # its older mark with newer content: harmless, only readers of that older mark
            # (who read it before the change) could ever ask for that key.
            job = jobs.get(key[1])
            if job is None:  # deleted between the two reads
                continue
            html = _render_card(env, job, key[3], key[4])
            cache.put(key, html)
        cards.append(Markup(html))  # noqa: S704 (only rendered cards enter the cache)
    return cards


@dataclass(frozen=True, slots=True)
class Filters:
    status: str
    source: str
    remote: bool
    min_score: float | None
    q: str
    sort: str
    page: int

    def query(self, **override: Any) -> dict[str, Any]:
        data = {
            "status": self.status,
            "source": self.source,
            "remote": "1" if self.remote else "",
            "min_score": "" if self.min_score is None else f"{self.min_score:g}",
            "q": self.q,
            "sort": self.sort,
            "page": self.page if self.page > 1 else "",
        }
        data.update(override)
        return data


class ReviewQuery(BaseModel):
    """The review page's filters, validated as FastAPI would validate query parameters."""

    status: StatusParam = "pending"
    source: str = Field(default="", max_length=50)
    remote: bool = False
    min_score: str = Field(default="", max_length=6)
    q: str = Field(default="", max_length=200)
    sort: SortParam = "score"
    page: int = Field(default=1, ge=1, le=100_000)


async def review(request: Request) -> Response:
    """The review page.

    A plain Starlette endpoint (registered below with ``add_route``), not a FastAPI one:
    FastAPI's per-request work on seven query parameters and a dependency cost more than
    the whole page once it is cached. The parameters are validated by one pydantic model
    and refused with the same 422 page (errors.py) FastAPI would give.
    """
    # FastAPI's routes name themselves in the scope and plain ones do not: without this,
    # logs and metrics counted the review page as "unmatched".
    request.scope["route"] = _REVIEW_ROUTE
    query = query_model(request, ReviewQuery)
    return await read_with(
        request,
        lambda db: _review_page(request, db, query),
        cached=lambda db: _cached_review(request, db, query),
    )


def _filters(query: ReviewQuery) -> Filters:
    score: float | None = None
    if query.min_score.strip():
        try:
            score = min(max(float(query.min_score), 0.0), 100.0)
        except ValueError:
            score = None
    return Filters(
        query.status,
        query.source.strip(),
        query.remote,
        score,
        query.q.strip(),
        query.sort,
        query.page,
    )


def _pages_cache(request: Request) -> LRU[tuple[int, tuple[bytes, ...]]]:
    state = request.app.state.__dict__
    pages_cache: LRU[tuple[int, tuple[bytes, ...]]] | None = state.get("review_pages")
    if pages_cache is None:
        settings = request.app.state.settings
        # Two thirds of PEREGRINE_PAGE_CACHE_MB (128 MiB by default); a review page of 50
        # cards is 70-150 KB: room for one page each of ~1,000 tenants.
        pages_cache = state.setdefault(
            "review_pages",
            page_cache(settings.cloud_db_cache_size, settings.page_cache_mb * 2**20 * 2 // 3),
        )
    return pages_cache


def _page_key(request: Request, db: UserDB, filters: Filters, today: date) -> tuple[Any, ...]:
    # Everything the page shows but the CSRF token (and flashes, which skip the cache):
    # the jobs and their sources (the mark is new after any change to them), the filters,
    # the day (cards show ages) and the database, so tenants never share a page. A page is
    # served only if it was built at the current mark.
    return (str(db.path), root(request), filters, today)


def _cached_review(request: Request, db: UserDB, query: ReviewQuery) -> Response | None:
    """The page from the cache if it is current, else None (see ``read_with``)."""
    if pending_flashes(request):
        return None
    key = _page_key(request, db, _filters(query), utcnow().date())
    parts = current_page(db, _pages_cache(request), key)
    return None if parts is None else _with_token(request, parts)


def _with_token(request: Request, parts: tuple[bytes, ...]) -> Response:
    # The token goes where the template put the placeholder, escaped as the template would
    # have escaped it (a browser's cookie may hold any printable characters).
    token = str(escape(csrf_token(request.scope))).encode()
    return page_response(request, token.join(parts))


def _review_page(request: Request, db: UserDB, query: ReviewQuery) -> Response:
    filters = _filters(query)
    flt = job_q.JobFilter(
        statuses=(filters.status,),
        source=filters.source or None,
        remote_only=filters.remote,
        min_score=filters.min_score,
        text=filters.q or None,
    )
    state = request.app.state.__dict__
    cards_cache: FragmentCache = state.setdefault("review_cards", FragmentCache(maxsize=2048))
    pages_cache = _pages_cache(request)
    placeholder: str = state.setdefault("review_csrf_placeholder", secrets.token_hex(16))
    actionable = filters.status == "pending"
    flashes = pending_flashes(request)
    today = utcnow().date()
    with db.read() as conn:
        # One snapshot for the mark and the rows: content read after a concurrent write
        # must not be cached under the mark from before it.
        conn.execute("BEGIN")
        mark = job_q.changes_mark(conn)
        page_key = _page_key(request, db, filters, today)
        entry = None if flashes or mark is None else pages_cache.get(page_key)
        cached = entry[1] if entry is not None and entry[0] == mark else None
        if cached is None:
            marks, total = job_q.page_marks(
                conn,
                flt=flt,
                sort=filters.sort,
                limit=PAGE_SIZE,
                offset=(filters.page - 1) * PAGE_SIZE,
            )
            keys = _card_keys(str(db.path), marks, today, actionable)
            cards = _cards(request.app.state.templates, cards_cache, conn, keys)
            sources = job_q.distinct_sources(conn)
    if cached is None:
        html = render_text(
            request,
            "review.html",
            {
                "cards": cards,
                "total": total,
                "filters": filters,
                "pages": max(1, -(-total // PAGE_SIZE)),
                "sources": sources,
                "statuses": [(s, pipeline.STATUS_LABELS[s]) for s in pipeline.STATUSES],
                "sort_labels": job_q.SORT_LABELS,
                "actionable": actionable,
            },
            active="review",
            flashes=flashes,
            csrf=None if flashes else placeholder,
        )
        if flashes:
            return page_response(request, html, flashes=flashes)
        # Kept encoded and cut at the placeholder: a hit then costs one join of the parts
        # around this request's token, not a search and an encode of the whole page.
        cached = tuple(html.encode().split(placeholder.encode()))
        if mark is not None:
            pages_cache.put(page_key, (mark, cached))
    return _with_token(request, cached)


router.add_route("/review", review, methods=["GET"], name="review", include_in_schema=False)
_REVIEW_ROUTE = router.routes[-1]


def _back(request: Request, form: Any) -> RedirectResponse:
    """Back to the review page with the same filters (rebuilt, never a raw URL from the form,
    so the redirect cannot be pointed elsewhere)."""
    keys = ("status", "source", "remote", "min_score", "q", "sort", "page")
    query = {k: str(form.get(k, ""))[:200] for k in keys}
    return RedirectResponse(url(request, "review", query=query), status_code=303)


@router.post("/review/move", name="review_move")
async def review_move(request: Request, db: UserDBDep) -> Response:
    form = await request.form()
    response = _back(request, form)
    single = str(form.get("act", ""))
    if single:
        # A card's own button: "approve:123" acts on that job alone, ignoring ticked boxes.
        action, _, job_id = single.partition(":")
        raw_ids = [job_id]
    else:
        action = str(form.get("action", ""))
        raw_ids = [str(v) for v in form.getlist("job_id")]
    if action not in ACTIONS:
        flash(response, request, "error", "Choose approve, dismiss or skip.")
        return response
    if not raw_ids:
        flash(response, request, "error", "Select at least one job first.")
        return response
    if not all(v.isdigit() for v in raw_ids) or len(raw_ids) > 500:
        flash(response, request, "error", "The selection is not valid; reload and try again.")
        return response
    ids = list(dict.fromkeys(int(v) for v in raw_ids))
    try:
        moved = await run_in_threadpool(
            lambda: pipeline.move_many(db, job_ids=ids, to_status=ACTIONS[action])
        )
    except (pipeline.TransitionError, pipeline.JobNotFoundError) as exc:
        flash(response, request, "error", f"Nothing was changed: {exc}.")
        return response
    usage_events.jobs_moved(request, moved)
    noun = "job" if len(ids) == 1 else "jobs"
    flash(
        response, request, "success", f"{ACTION_DONE[action]} {len(ids)} {noun}. Press u to undo."
    )
    # Remember the whole action, so undo puts back every job it moved, not just the last.
    response.set_cookie(
        UNDO_COOKIE,
        f"{ACTIONS[action]}:{'.'.join(str(i) for i in ids)}",
        max_age=3600,
        path=root(request) or "/",
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.cloud,
    )
    return response


def _last_action(request: Request) -> tuple[str, list[int]] | None:
    status, _, raw = request.cookies.get(UNDO_COOKIE, "").partition(":")
    ids = raw.split(".")
    if status not in ACTIONS.values() or not raw or not all(i.isdigit() for i in ids):
        return None
    return status, [int(i) for i in ids[:500]]


@router.post("/review/undo", name="review_undo")
async def review_undo(request: Request, db: UserDBDep) -> Response:
    form = await request.form()
    response = _back(request, form)
    last = _last_action(request)
    response.delete_cookie(UNDO_COOKIE, path=root(request) or "/")
    if last is not None:
        status, ids = last
        undone = await run_in_threadpool(
            lambda: review_service.undo_action(db, job_ids=ids, to_status=status)
        )
        usage_events.jobs_moved(request, undone)
        if undone:
            back_to = pipeline.STATUS_LABELS[undone[0].to_status].lower()
            noun = "job is" if len(undone) == 1 else "jobs are"
            flash(response, request, "success", f"Undone: {len(undone)} {noun} back in {back_to}.")
            return response
    # No action remembered in this browser (or it was already undone): the latest move.
    try:
        result = await run_in_threadpool(lambda: pipeline.undo_last(db))
    except pipeline.TransitionError as exc:
        flash(response, request, "error", f"Cannot undo: {exc}.")
        return response
    if result is None:
        flash(response, request, "info", "There is nothing to undo.")
    else:
        usage_events.jobs_moved(request, [result])
        flash(
            response,
            request,
            "success",
            f"Undone: 1 job is back in {pipeline.STATUS_LABELS[result.to_status].lower()}.",
        )
    return response
