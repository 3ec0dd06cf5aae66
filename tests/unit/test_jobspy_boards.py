"""The jobspy adapter on real DataFrames shaped like jobspy's output, blocked vs no results."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import pytest

from peregrine.lib.http import HttpClient
from peregrine.services.normalise import to_new_job
from peregrine.sources.base import SourceQuery
from peregrine.sources.jobspy_boards import JobSpyBoard, classify

pd = pytest.importorskip("pandas")

# The columns python-jobspy 1.4 returns (JobPost fields), in its order.
COLUMNS = [
    "id", "site", "job_url", "job_url_direct", "title", "company", "location", "date_posted",
    "job_type", "salary_source", "interval", "min_amount", "max_amount", "currency",
    "is_remote", "job_level", "job_function", "listing_type", "emails", "description",
    "company_industry", "company_url", "company_logo", "company_url_direct",
    "company_addresses", "company_num_employees", "company_revenue", "company_description",
    "skills", "experience_range", "company_rating", "company_reviews_count", "vacancy_count",
    "work_from_home_type",
]  # fmt: skip


def _frame(rows: list[dict[str, Any]], errors: dict[str, str] | None = None) -> Any:
    frame = pd.DataFrame([{c: row.get(c) for c in COLUMNS} for row in rows], columns=COLUMNS)
    frame.attrs = {"errors": errors or {}, "warnings": {}}
    return frame


class FakeJobSpy:
    """Stands in for the network only: returns the DataFrame jobspy would have built."""

    def __init__(self, frame: Any, log_error: str | None = None) -> None:
        self.frame = frame
        self.log_error = log_error
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        if self.log_error:
            logging.getLogger("jobspy.linkedin").error(self.log_error)
        return self.frame


def _board(name: str, scraper: FakeJobSpy) -> JobSpyBoard:
    return JobSpyBoard(HttpClient(), name, scraper=scraper)


def test_rows_become_listings_with_salary_and_remote() -> None:
    frame = _frame(
        [
            {
                "id": "li-4012345678", "site": "linkedin",
                "job_url": "https://www.linkedin.com/jobs/view/4012345678",
                "title": "Senior Python Developer", "company": "Acme", "location": "Austin, TX, US",
                "date_posted": date(2026, 11, 25), "interval": "hourly", "min_amount": 60.0,
                "max_amount": 75.0, "currency": "USD", "is_remote": True,
                "description": "**Python**, Django",
            },
            {
                "id": "li-2", "site": "linkedin", "job_url": "https://www.linkedin.com/jobs/view/4000000002",
                "title": "Data Analyst", "company": float("nan"), "location": None,
                "date_posted": pd.NaT, "min_amount": float("nan"), "is_remote": None,
            },
            {"id": "li-3", "site": "linkedin", "job_url": None, "title": "No link"},
        ]
    )  # fmt: skip
    scraper = FakeJobSpy(frame)
    result = _board("linkedin", scraper).fetch(
        SourceQuery(titles=("python",), locations=("Austin",), max_age_days=3)
    )
    assert result.health == "ok"
    assert result.skipped == 1
    first, second = (to_new_job(listing) for listing in result.listings)
    assert first.work_mode == "remote"
    assert first.salary_annual_min == 60 * 2080
    assert first.date_posted == "2026-11-25"
    assert second.company == ""
    assert second.salary_min is None
    assert second.date_posted is None
    call = scraper.calls[0]
    assert call["site_name"] == ["linkedin"]  # one board at a time
    assert call["hours_old"] == 72


def test_an_empty_table_with_a_403_error_is_blocked_not_no_results() -> None:
    frame = _frame([], errors={"indeed": "response status code 403 (blocked: use a proxy)"})
    result = _board("indeed", FakeJobSpy(frame)).fetch(SourceQuery(titles=("x",)))
    assert result.health == "blocked"
    assert "403" in result.message


def test_an_empty_table_without_errors_is_no_results() -> None:
    result = _board("glassdoor", FakeJobSpy(_frame([]))).fetch(SourceQuery(titles=("x",)))
    assert result.health == "no_results"


def test_an_empty_table_with_a_logged_error_reads_the_log() -> None:
    """Older jobspy versions only log the failure; the adapter listens to the jobspy logger."""
    frame = pd.DataFrame(columns=COLUMNS)
    scraper = FakeJobSpy(frame, log_error="LinkedIn: 429 Too Many Requests")
    result = _board("linkedin", scraper).fetch(SourceQuery(titles=("x",)))
    assert result.health == "blocked"


def test_a_network_failure_is_an_error() -> None:
    frame = _frame([], errors={"zip_recruiter": "Failed to connect: timed out"})
    result = _board("zip_recruiter", FakeJobSpy(frame)).fetch(SourceQuery(titles=("x",)))
    assert result.health == "error"
    assert "timed out" in result.message


def test_classify_reads_blocked_words_only_as_whole_words() -> None:
    assert classify(["captcha required"]) == ("blocked", "captcha required")
    assert classify(["unblockedness parser failed"])[0] == "error"  # type: ignore[index]
    assert classify([]) is None


def test_unknown_boards_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown board"):
        JobSpyBoard(HttpClient(), "monster")
