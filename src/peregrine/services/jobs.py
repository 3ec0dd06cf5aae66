"""Adding jobs by hand: one URL, or a CSV file of many. Validation happens before any write."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime

from peregrine.lib.clock import now_iso
from peregrine.lib.urls import InvalidURLError, canonical_url
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.userdb import UserDB

MAX_TITLE = 500
MAX_COMPANY = 300
MAX_DESCRIPTION = 200_000
MAX_CSV_BYTES = 20 * 1024 * 1024
MAX_CSV_ROWS = 50_000
WORK_MODES = ("remote", "hybrid", "onsite", "unknown")

# Accepted header spellings → our field.
_HEADERS = {
    "title": "title",
    "job title": "title",
    "position": "title",
    "company": "company",
    "employer": "company",
    "company name": "company",
    "url": "url",
    "link": "url",
    "job url": "url",
    "job_url": "url",
    "location": "location",
    "description": "description",
    "salary": "salary_text",
    "salary_text": "salary_text",
    "date_posted": "date_posted",
    "date posted": "date_posted",
    "posted": "date_posted",
    "work_mode": "work_mode",
    "remote": "work_mode",
    "source": "source",
}


class JobInputError(ValueError):
    """A job given by the user is not valid; the message says what and where."""


def build_new_job(
    *,
    url: str,
    title: str,
    company: str = "",
    location: str = "",
    description: str = "",
    salary_text: str = "",
    date_posted: str | None = None,
    work_mode: str = "unknown",
    source: str = "manual",
) -> job_q.NewJob:
    """Validate the fields of one job and return it ready to store."""
    try:
        canonical = canonical_url(url)
    except InvalidURLError as exc:
        raise JobInputError(f"invalid URL: {exc}") from None
    title = " ".join(title.split())
    if not title:
        raise JobInputError("the title is empty")
    if len(title) > MAX_TITLE:
        raise JobInputError(f"the title is longer than {MAX_TITLE} characters")
    company = " ".join(company.split())
    if len(company) > MAX_COMPANY:
        raise JobInputError(f"the company name is longer than {MAX_COMPANY} characters")
    if len(description) > MAX_DESCRIPTION:
        description = description[:MAX_DESCRIPTION]
    mode = _work_mode(work_mode)
    posted = _date(date_posted) if date_posted else None
    source = " ".join(source.split()).lower() or "manual"
    return job_q.NewJob(
        title=title,
        url=canonical,
        company=company,
        location=" ".join(location.split()),
        work_mode=mode,
        source=source[:50],
        description=description,
        salary_text=" ".join(salary_text.split())[:200],
        date_posted=posted,
        source_url=url.strip() if url.strip() != canonical else None,
    )


def _work_mode(value: str) -> str:
    lowered = value.strip().lower()
    if lowered in WORK_MODES:
        return lowered
    if lowered in {"yes", "true", "1", "remote ok", "fully remote"}:
        return "remote"
    if lowered in {"no", "false", "0", "", "on-site", "on site", "office"}:
        return "onsite" if lowered in {"on-site", "on site", "office"} else "unknown"
    raise JobInputError(f"work mode must be one of {', '.join(WORK_MODES)}, got {value!r}")


def _date(value: str) -> str:
    text = value.strip()
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        raise JobInputError(f"date must look like 2026-01-31, got {text!r}") from None


@dataclass
class AddResult:
    job_id: int
    created: bool


def add_job(db: UserDB, job: job_q.NewJob) -> AddResult:
    with db.write() as conn:
        existing = job_q.find_job_id_by_url(conn, url=job.url)
        job_q.upsert_jobs(conn, jobs=[job], now=now_iso())
        job_id = job_q.find_job_id_by_url(conn, url=job.url)
    assert job_id is not None
    return AddResult(job_id=job_id, created=existing is None)


@dataclass
class CsvImport:
    jobs: list[job_q.NewJob] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    duplicates_in_file: int = 0


def parse_csv(data: bytes) -> CsvImport:
    """Read a CSV of jobs; every problem is reported with its line number."""
    result = CsvImport()
    if len(data) > MAX_CSV_BYTES:
        result.errors.append(f"the file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB")
        return result
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        result.errors.append(
            f"the file is not UTF-8 text (byte {exc.start}); save it as 'CSV UTF-8' and retry"
        )
        return result
    if not text.strip():
        result.errors.append("the file is empty")
        return result
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], ",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header = next(reader)
    except csv.Error as exc:
        result.errors.append(f"line 1: {exc}")
        return result
    columns: list[str | None] = [_HEADERS.get(h.strip().lower()) for h in header]
    missing = {"title", "url"} - {c for c in columns if c}
    if missing:
        result.errors.append(
            f"line 1: the header needs columns {', '.join(sorted(missing))} "
            f"(found: {', '.join(h.strip() for h in header) or 'nothing'})"
        )
        return result
    seen: dict[str, int] = {}
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(result.jobs) + len(result.errors) >= MAX_CSV_ROWS:
                result.errors.append(f"line {line}: more than {MAX_CSV_ROWS} rows; split the file")
                break
            if len(row) > len(columns):
                result.errors.append(
                    f"line {line}: {len(row)} fields but the header has {len(columns)}"
                )
                continue
            values = {col: cell for col, cell in zip(columns, row, strict=False) if col}
            try:
                job = build_new_job(
                    url=values.get("url", ""),
                    title=values.get("title", ""),
                    company=values.get("company", ""),
                    location=values.get("location", ""),
                    description=values.get("description", ""),
                    salary_text=values.get("salary_text", ""),
                    date_posted=values.get("date_posted") or None,
                    work_mode=values.get("work_mode", "") or "unknown",
                    source=values.get("source", "") or "csv",
                )
            except JobInputError as exc:
                result.errors.append(f"line {line}: {exc}")
                continue
            if job.url in seen:
                result.duplicates_in_file += 1
            seen.setdefault(job.url, line)
            result.jobs.append(job)
    except csv.Error as exc:
        result.errors.append(f"line {reader.line_num}: {exc}")
    return result


@dataclass
class ImportSummary:
    inserted: int
    merged: int
    skipped: int


def store_imported(db: UserDB, jobs: list[job_q.NewJob], *, skipped: int = 0) -> ImportSummary:
    """Store the parsed jobs in one transaction (all or nothing)."""
    with db.write() as conn:
        outcome = job_q.upsert_jobs(conn, jobs=jobs, now=now_iso())
    return ImportSummary(inserted=outcome.inserted, merged=outcome.updated, skipped=skipped)
