"""Queries on jobs and the sources that listed them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal, NamedTuple

from peregrine.lib.text import normalise_company, normalise_title

SortOrder = Literal["score", "newest", "posted", "salary", "company", "title"]
SORT_ORDERS: dict[str, str] = {
    # SQLite sorts NULL below every value, so DESC already puts unscored jobs last; spelling
    # it without "match_score IS NULL" lets the (status, match_score DESC) index do the sort.
    "score": "match_score DESC, id DESC",
    "newest": "date_found DESC, id DESC",
    "posted": "date_posted IS NULL, date_posted DESC, id DESC",
    "salary": "salary_annual_max IS NULL, coalesce(salary_annual_max, salary_annual_min) DESC, "
    "id DESC",
    "company": "company_norm ASC, title_norm ASC, id ASC",
    "title": "title_norm ASC, company_norm ASC, id ASC",
}
SORT_LABELS: dict[str, str] = {
    "score": "Best match",
    "newest": "Newest found",
    "posted": "Newest posted",
    "salary": "Highest salary",
    "company": "Company A–Z",
    "title": "Title A–Z",
}


@dataclass(frozen=True, slots=True)
class NewJob:
    """A listing as it arrives from a source or the user, before it is stored."""

    title: str
    url: str  # canonical
    company: str = ""
    location: str = ""
    work_mode: str = "unknown"
    source: str = "manual"
    external_id: str | None = None
    description: str = ""
    salary_text: str = ""
    salary_min: float | None = None
    salary_max: float | None = None
    salary_currency: str | None = None
    salary_interval: str | None = None
    salary_annual_min: float | None = None
    salary_annual_max: float | None = None
    date_posted: str | None = None
    source_url: str | None = None  # the link as the source gave it, if not the canonical one
    # True while ``description`` is still the text the source sent (HTML perhaps) and the
    # work mode not yet read from it: discovery leaves that, the costly part of normalising,
    # until de-duplication has kept the listing (``normalise.finish_text``).
    raw_text: bool = False


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    title: str
    company: str
    location: str
    is_remote: bool
    work_mode: str
    url: str
    source: str
    external_id: str | None
    description: str
    salary_text: str
    salary_min: float | None
    salary_max: float | None
    salary_currency: str | None
    salary_interval: str | None
    salary_annual_min: float | None
    salary_annual_max: float | None
    date_posted: str | None
    date_found: str
    status: str
    match_score: float | None
    match_explanation: dict[str, Any]
    keyword_gaps: list[str]
    flags: list[str]
    applied_match_id: int | None
    cover_letter: str
    interview_at: str | None
    interview_tz: str | None
    rejection_stage: str | None
    notes: str
    applied_at: str | None
    follow_up_on: str | None
    updated_at: str
    sources: list[str] = field(default_factory=list)

    @classmethod
    def from_row(cls, row: Any, sources: list[str] | None = None) -> Job:
        # Positional access: rows are selected with JOB_COLUMNS in _ROW_NAMES order, and
        # by-name lookups of 34 columns cost more than the query on a 50-job page.
        values = list(row)
        if len(values) != len(_ROW_NAMES):
            raise ValueError(f"expected {len(_ROW_NAMES)} columns, got {len(values)}")
        values[_IS_REMOTE] = bool(values[_IS_REMOTE])
        values[_EXPLANATION] = _json(values[_EXPLANATION], "{}")
        values[_GAPS] = _json(values[_GAPS], "[]")
        values[_FLAGS] = _json(values[_FLAGS], "[]")
        if sources is not None:
            # "sources" is the last field, right after the row's columns.
            values.append(sources or [values[_SOURCE]])
        return cls(*values)

    def to_dict(self) -> dict[str, Any]:
        # A fixed tuple of names: dataclasses.fields() rebuilds its list on every call.
        return {name: getattr(self, name) for name in _FIELD_NAMES}


_FIELD_NAMES = tuple(f.name for f in fields(Job))
_ROW_FIELDS = [f for f in fields(Job) if f.name != "sources"]
_ROW_NAMES = tuple(f.name for f in _ROW_FIELDS)
JOB_COLUMNS = ", ".join(_ROW_NAMES)
_IS_REMOTE = _ROW_NAMES.index("is_remote")
_SOURCE = _ROW_NAMES.index("source")
_EXPLANATION = _ROW_NAMES.index("match_explanation")
_GAPS = _ROW_NAMES.index("keyword_gaps")
_FLAGS = _ROW_NAMES.index("flags")


def _json(text: str | None, empty: str) -> Any:
    # Most rows hold "[]" or "{}"; building those directly skips the JSON parser.
    text = text or empty
    if text == "[]":
        return []
    if text == "{}":
        return {}
    return json.loads(text)


@dataclass(frozen=True, slots=True)
class UpsertResult:
    inserted: int
    updated: int


_UPSERT = """
INSERT INTO jobs (title, company, company_norm, title_norm, location, is_remote, work_mode, url,
                  source, external_id, description, salary_text, salary_min, salary_max,
                  salary_currency, salary_interval, salary_annual_min, salary_annual_max,
                  date_posted, date_found, updated_at)
VALUES (:title, :company, :company_norm, :title_norm, :location, :is_remote, :work_mode, :url,
        :source, :external_id, :description, :salary_text, :salary_min, :salary_max,
        :salary_currency, :salary_interval, :salary_annual_min, :salary_annual_max,
        :date_posted, :now, :now)
ON CONFLICT (url) DO UPDATE SET
    -- A repeat sighting fills in what we did not know; it never overwrites what we had,
    -- because the user may have corrected it.
    description = CASE WHEN jobs.description = '' THEN excluded.description
                       ELSE jobs.description END,
    location = CASE WHEN jobs.location = '' THEN excluded.location ELSE jobs.location END,
    company = CASE WHEN jobs.company = '' THEN excluded.company ELSE jobs.company END,
    company_norm = CASE WHEN jobs.company = '' THEN excluded.company_norm
                        ELSE jobs.company_norm END,
    work_mode = CASE WHEN jobs.work_mode = 'unknown' THEN excluded.work_mode
                     ELSE jobs.work_mode END,
    is_remote = CASE WHEN jobs.work_mode = 'unknown' THEN excluded.is_remote
                     ELSE jobs.is_remote END,
    salary_text = CASE WHEN jobs.salary_text = '' THEN excluded.salary_text
                       ELSE jobs.salary_text END,
    salary_min = coalesce(jobs.salary_min, excluded.salary_min),
    salary_max = coalesce(jobs.salary_max, excluded.salary_max),
    salary_currency = coalesce(jobs.salary_currency, excluded.salary_currency),
    salary_interval = coalesce(jobs.salary_interval, excluded.salary_interval),
    salary_annual_min = coalesce(jobs.salary_annual_min, excluded.salary_annual_min),
    salary_annual_max = coalesce(jobs.salary_annual_max, excluded.salary_annual_max),
    date_posted = coalesce(jobs.date_posted, excluded.date_posted),
    external_id = coalesce(jobs.external_id, excluded.external_id)
"""

_SOURCE_LINK = """
INSERT OR IGNORE INTO job_sources (job_id, source, url, external_id, found_at)
SELECT id, :source, :source_url, :external_id, :now FROM jobs WHERE url = :url
"""


def _params(job: NewJob, now: str) -> dict[str, Any]:
    return {
        "title": job.title,
        "company": job.company,
        "company_norm": normalise_company(job.company),
        "title_norm": normalise_title(job.title),
        "location": job.location,
        "is_remote": 1 if job.work_mode == "remote" else 0,
        "work_mode": job.work_mode,
        "url": job.url,
        "source": job.source,
        "external_id": job.external_id,
        "description": job.description,
        "salary_text": job.salary_text,
        "salary_min": job.salary_min,
        "salary_max": job.salary_max,
        "salary_currency": job.salary_currency,
        "salary_interval": job.salary_interval,
        "salary_annual_min": job.salary_annual_min,
        "salary_annual_max": job.salary_annual_max,
        "date_posted": job.date_posted,
        "now": now,
        "source_url": job.source_url or job.url,
    }


def _finished(job: NewJob) -> NewJob:
    if job.raw_text:
        raise ValueError(f"listing {job.url!r} is not normalised yet (raw description)")
    return job


def upsert_jobs(conn: Any, *, jobs: Iterable[NewJob], now: str) -> UpsertResult:
    """Insert new jobs and merge repeats (by canonical URL) in the caller's transaction."""
    rows = [_params(_finished(job), now) for job in jobs]
    before = conn.execute("SELECT count(*) FROM jobs").fetchone()[0]
    conn.executemany(_UPSERT, rows)
    conn.executemany(_SOURCE_LINK, rows)
    after = conn.execute("SELECT count(*) FROM jobs").fetchone()[0]
    inserted = after - before
    return UpsertResult(inserted=inserted, updated=len(rows) - inserted)


class NewJobExtras(NamedTuple):
    """What discovery knows about a new job before inserting it: its flags, the applied job
    it repeats, its normalised keys, and its score when one was computed."""

    company_norm: str
    title_norm: str
    flags: list[str]
    applied_match_id: int | None = None
    match_score: float | None = None
    match_explanation: dict[str, Any] | None = None
    keyword_gaps: list[str] | None = None


_INSERT_NEW = """
INSERT INTO jobs (title, company, company_norm, title_norm, location, is_remote, work_mode, url,
                  source, external_id, description, salary_text, salary_min, salary_max,
                  salary_currency, salary_interval, salary_annual_min, salary_annual_max,
                  date_posted, date_found, updated_at, flags, applied_match_id, match_score,
                  match_explanation, keyword_gaps, rev)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, random())
"""
# One encoder for every explanation: json.dumps with separators builds a new one per call.
_COMPACT = json.JSONEncoder(separators=(",", ":"))
_LINK_BY_ID = """
INSERT OR IGNORE INTO job_sources (job_id, source, url, external_id, found_at)
VALUES (?, ?, ?, ?, ?)
"""


def insert_new_jobs(
    conn: Any, *, jobs: Sequence[tuple[NewJob, NewJobExtras]], now: str
) -> list[int]:
    """Insert jobs whose canonical URL the caller found unknown in this same transaction,
    each with its source link, flags and score in the one INSERT; returns their ids.

    Every statement that touches a stored job rewrites its whole row (the description
    included), so flags, score and change mark go in with the one INSERT: the job's first
    source link (its own source) leaves the mark alone (migration 0003), and the row is
    written once.
    """
    for job, _ in jobs:
        _finished(job)
    cur = conn.cursor()
    ids: list[int] = []
    links: list[tuple[int, str, str, str | None, str]] = []
    for job, extra in jobs:
        cur.execute(
            _INSERT_NEW,
            (
                job.title, job.company, extra.company_norm, extra.title_norm, job.location,
                1 if job.work_mode == "remote" else 0, job.work_mode, job.url, job.source,
                job.external_id, job.description, job.salary_text, job.salary_min,
                job.salary_max, job.salary_currency, job.salary_interval,
                job.salary_annual_min, job.salary_annual_max, job.date_posted, now, now,
                json.dumps(sorted(set(extra.flags))) if extra.flags else "[]",
                extra.applied_match_id, extra.match_score,
                "{}" if extra.match_explanation is None
                else _COMPACT.encode(extra.match_explanation),
                json.dumps(extra.keyword_gaps) if extra.keyword_gaps else "[]",
            ),
        )  # fmt: skip
        job_id = int(cur.lastrowid)
        ids.append(job_id)
        links.append((job_id, job.source, job.source_url or job.url, job.external_id, now))
    conn.executemany(_LINK_BY_ID, links)
    return ids


def get_job(conn: Any, *, job_id: int) -> Job | None:
    row = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        return None
    job = Job.from_row(row)
    sources = [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT source FROM job_sources WHERE job_id = ? ORDER BY id", (job_id,)
        )
    ]
    return _with_sources(job, sources)


def _with_sources(job: Job, sources: list[str]) -> Job:
    data = job.to_dict()
    data["sources"] = sources or [job.source]
    return Job(**data)


def find_job_id_by_url(conn: Any, *, url: str) -> int | None:
    row = conn.execute("SELECT id FROM jobs WHERE url = ?", (url,)).fetchone()
    return int(row[0]) if row else None


def source_links(conn: Any, *, job_id: int) -> list[dict[str, str]]:
    return [
        {"source": r["source"], "url": r["url"], "found_at": r["found_at"]}
        for r in conn.execute(
            "SELECT source, url, found_at FROM job_sources WHERE job_id = ? ORDER BY id",
            (job_id,),
        )
    ]


@dataclass(frozen=True, slots=True)
class JobFilter:
    statuses: Sequence[str] = ()
    source: str | None = None
    remote_only: bool = False
    min_score: float | None = None
    text: str | None = None


def _where(flt: JobFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if flt.statuses:
        clauses.append(f"status IN ({', '.join('?' for _ in flt.statuses)})")
        params.extend(flt.statuses)
    if flt.source:
        clauses.append("(source = ? OR id IN (SELECT job_id FROM job_sources WHERE source = ?))")
        params.extend([flt.source, flt.source])
    if flt.remote_only:
        clauses.append("work_mode = 'remote'")
    if flt.min_score is not None:
        clauses.append("match_score >= ?")
        params.append(flt.min_score)
    if flt.text:
        like = "%" + flt.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses.append(
            "(title LIKE ? ESCAPE '\\' OR company LIKE ? ESCAPE '\\' "
            "OR location LIKE ? ESCAPE '\\' OR description LIKE ? ESCAPE '\\')"
        )
        params.extend([like, like, like, like])
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def changes_mark(conn: Any) -> int | None:
    """A mark that is new after every change to any job or source link (migration 0002):
    a list built from the jobs can be cached by it. None if the table was emptied by hand:
    then nothing may be cached by it."""
    row = conn.execute("SELECT mark FROM job_changes ORDER BY rowid DESC LIMIT 1").fetchone()
    return int(row[0]) if row is not None else None


class JobMark(NamedTuple):
    """What tells one version of a job from another: its id and its revision mark (set
    by triggers on every change, see migration 0002), plus the date it was found, which
    the review page needs for a card's age. A tuple: a page builds 50 of them per request,
    and a frozen dataclass costs several times more to build."""

    id: int
    rev: int
    date_found: str


def page_marks(
    conn: Any,
    *,
    flt: JobFilter = JobFilter(),
    sort: str = "score",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[JobMark], int]:
    """The marks of a page of jobs, in order, and the total matching the filter.

    Callers that cache what they build from a job fetch whole rows (``jobs_by_ids``) only
    for the marks they have not seen.
    """
    order = SORT_ORDERS.get(sort)
    if order is None:
        raise ValueError(f"unknown sort order {sort!r}; choose one of {', '.join(SORT_ORDERS)}")
    where, params = _where(flt)
    total = conn.execute(f"SELECT count(*) FROM jobs{where}", params).fetchone()[0]
    # Sort ids only, then look the page's marks up: sorting wider rows would drag them
    # through the sorter, and the id query is answered from the sort's index.
    ids = [
        r[0]
        for r in conn.execute(
            f"SELECT id FROM jobs{where} ORDER BY {order} LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
    ]
    if not ids:
        return [], int(total)
    marks = {
        r[0]: JobMark._make(r)
        for r in conn.execute(
            f"SELECT id, rev, date_found FROM jobs WHERE id IN ({_marks(len(ids))})", ids
        )
    }
    return [marks[i] for i in ids if i in marks], int(total)


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def jobs_by_ids(conn: Any, *, ids: Sequence[int]) -> dict[int, Job]:
    """Whole jobs (with every source that listed them) by id; missing ids are left out."""
    if not ids:
        return {}
    ids = list(ids)
    marks = _marks(len(ids))
    by_job: dict[int, list[str]] = {}
    for r in conn.execute(
        f"SELECT job_id, source FROM job_sources WHERE job_id IN ({marks}) ORDER BY id", ids
    ):
        names = by_job.setdefault(r[0], [])
        if r[1] not in names:
            names.append(r[1])
    return {
        r[0]: Job.from_row(r, by_job.get(r[0], []))
        for r in conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id IN ({marks})", ids)
    }


def list_jobs(
    conn: Any,
    *,
    flt: JobFilter = JobFilter(),
    sort: str = "score",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Job], int]:
    """A page of jobs and the total matching the filter."""
    marks, total = page_marks(conn, flt=flt, sort=sort, limit=limit, offset=offset)
    jobs = jobs_by_ids(conn, ids=[m.id for m in marks])
    return [jobs[m.id] for m in marks if m.id in jobs], total


def counts_by_status(conn: Any) -> dict[str, int]:
    return {r[0]: r[1] for r in conn.execute("SELECT status, count(*) FROM jobs GROUP BY status")}


# Every source name, by hopping from one name to the next in the (source, url) index: a
# few index seeks instead of reading one entry per listing (8x faster at 2,000 jobs).
_DISTINCT_SOURCES = """
WITH RECURSIVE names(source) AS (
    SELECT min(source) FROM job_sources
    UNION ALL
    SELECT (SELECT min(source) FROM job_sources WHERE source > names.source)
    FROM names WHERE names.source IS NOT NULL
)
SELECT source FROM names WHERE source IS NOT NULL
"""


def distinct_sources(conn: Any) -> list[str]:
    """Every source that listed a job, in order."""
    return [r[0] for r in conn.execute(_DISTINCT_SOURCES)]


_EDITABLE = {
    "title",
    "company",
    "location",
    "work_mode",
    "description",
    "notes",
    "cover_letter",
    "interview_at",
    "interview_tz",
    "follow_up_on",
    "salary_text",
}


def update_job_fields(conn: Any, *, job_id: int, values: dict[str, Any], now: str) -> bool:
    """Update user-editable fields; returns False when the job does not exist."""
    unknown = set(values) - _EDITABLE
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    if not values:
        return get_job(conn, job_id=job_id) is not None
    data = dict(values)
    if "company" in data:
        data["company_norm"] = normalise_company(data["company"])
    if "title" in data:
        data["title_norm"] = normalise_title(data["title"])
    if "work_mode" in data:
        data["is_remote"] = 1 if data["work_mode"] == "remote" else 0
    assignments = ", ".join(f"{name} = :{name}" for name in data)
    cur = conn.execute(
        f"UPDATE jobs SET {assignments}, updated_at = :now WHERE id = :id",
        {**data, "now": now, "id": job_id},
    )
    return bool(cur.rowcount == 1)


def set_score(
    conn: Any,
    *,
    job_id: int,
    score: float,
    explanation: dict[str, Any],
    gaps: list[str],
    now: str,
) -> None:
    conn.execute(
        "UPDATE jobs SET match_score = ?, match_explanation = ?, keyword_gaps = ?, "
        "updated_at = ? WHERE id = ?",
        (score, json.dumps(explanation), json.dumps(gaps), now, job_id),
    )


def set_flags(conn: Any, *, job_id: int, flags: list[str], applied_match_id: int | None) -> None:
    conn.execute(
        "UPDATE jobs SET flags = ?, applied_match_id = ? WHERE id = ?",
        (json.dumps(sorted(set(flags))), applied_match_id, job_id),
    )


def delete_job(conn: Any, *, job_id: int) -> bool:
    return bool(conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,)).rowcount == 1)


def due_follow_ups(conn: Any, *, day: str) -> list[Job]:
    """Applied jobs whose follow-up date has come and that have heard nothing since."""
    rows = conn.execute(
        f"SELECT {JOB_COLUMNS} FROM jobs WHERE follow_up_on IS NOT NULL "
        "AND follow_up_on <= ? AND status IN ('applied', 'survey') ORDER BY follow_up_on",
        (day,),
    )
    return [Job.from_row(r) for r in rows]
