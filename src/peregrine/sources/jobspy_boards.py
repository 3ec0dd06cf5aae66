"""Job boards through python-jobspy: linkedin, indeed, glassdoor, zip_recruiter, google.

jobspy fetches with its own HTTP stack (fixed board hosts, never a user-supplied URL), so this
is the one source that does not go through ``lib.http``. We call it one board at a time so a
blocked board cannot sink the others, and we read jobspy's per-board errors: jobspy returns an
empty table instead of raising when a board blocks us or the network fails. Recent versions
put them in ``DataFrame.attrs['errors']``; older ones only log them, so we also listen to the
``jobspy`` logger. An error mentioning 403/429/captcha/blocked is reported as "blocked";
another error as "error"; no error and no rows as "no_results".
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from peregrine.lib.http import HttpClient
from peregrine.sources.base import RawListing, Source, SourceQuery, SourceResult

BOARDS = ("linkedin", "indeed", "glassdoor", "zip_recruiter", "google")
_BLOCKED = re.compile(
    r"\b(403|429|blocked|captcha|rate[\s-]?limit|too many requests|forbidden|cloudflare)\b", re.I
)
_INTERVALS = {"hourly": "hour", "daily": "day", "weekly": "week", "monthly": "month",
              "yearly": "year"}  # fmt: skip

Scraper = Callable[..., Any]


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage()[:300])


@contextmanager
def _captured_errors() -> Iterator[_Collector]:
    collector = _Collector()
    logger = logging.getLogger("jobspy")
    logger.addHandler(collector)
    try:
        yield collector
    finally:
        logger.removeHandler(collector)


def default_scraper() -> Scraper | None:
    try:
        from jobspy import scrape_jobs
    except ImportError:
        return None
    return scrape_jobs


def classify(errors: list[str]) -> tuple[str, str] | None:
    """(health, message) from jobspy's error texts, or None when there were none."""
    if not errors:
        return None
    message = "; ".join(dict.fromkeys(errors))[:500]
    return ("blocked" if _BLOCKED.search(message) else "error"), message


def _clean(value: Any) -> Any:
    """pandas gives NaN/NaT/None for missing cells; read all of them as None."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if type(value).__name__ in {"NaTType", "NAType"}:
        return None
    return value


def _text(value: Any) -> str:
    value = _clean(value)
    return "" if value is None else str(value)


def _number(value: Any) -> float | None:
    value = _clean(value)
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _day(value: Any) -> str | None:
    value = _clean(value)
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    if hasattr(value, "isoformat"):
        return str(value.isoformat())[:10]
    return _text(value) or None


def rows_to_listings(frame: Any, board: str, result: SourceResult) -> None:
    """Turn a jobspy DataFrame into listings; unusable rows are counted as problems."""
    for row in frame.to_dict("records"):
        title, link = _text(row.get("title")), _text(row.get("job_url"))
        if not title or not link:
            result.problem(f"{board}: a row without title or link was skipped")
            continue
        remote = _clean(row.get("is_remote"))
        result.listings.append(
            RawListing(
                source=board,
                title=title,
                url=link,
                company=_text(row.get("company")),
                location=_text(row.get("location")),
                description=_text(row.get("description")),
                salary_min=_number(row.get("min_amount")),
                salary_max=_number(row.get("max_amount")),
                salary_currency=_text(row.get("currency")) or None,
                salary_interval=_INTERVALS.get(_text(row.get("interval")).lower()),
                date_posted=_day(row.get("date_posted")),
                work_mode="remote" if remote is True else None,
                external_id=_text(row.get("id")) or None,
            )
        )


class JobSpyBoard(Source):
    """One board; the registry makes one instance per board name."""

    def __init__(
        self,
        http: HttpClient,
        board: str,
        *,
        scraper: Scraper | None = None,
        proxies: list[str] | None = None,
        country: str = "usa",
        fetch_description: bool = True,
    ) -> None:
        super().__init__(http)
        if board not in BOARDS:
            raise ValueError(f"unknown board {board!r}; known: {', '.join(BOARDS)}")
        self.name = board
        self.scraper = scraper
        self.proxies = proxies or None
        self.country = country
        self.fetch_description = fetch_description

    def collect(self, query: SourceQuery, result: SourceResult) -> None:
        scraper = self.scraper or default_scraper()
        if scraper is None:
            result.health = "error"
            result.message = (
                "python-jobspy is not installed; install the 'boards' extra to use " + self.name
            )
            return
        errors: list[str] = []
        for term in query.titles or ("",):
            for location in query.locations or ("",):
                with _captured_errors() as logged:
                    try:
                        frame = scraper(
                            site_name=[self.name],
                            search_term=term or None,
                            google_search_term=f"{term} jobs near {location}".strip()
                            if self.name == "google"
                            else None,
                            location=location or None,
                            is_remote=query.remote,
                            results_wanted=query.results_wanted,
                            hours_old=query.max_age_days * 24,
                            country_indeed=self.country,
                            proxies=self.proxies,
                            fetch_description=self.fetch_description,
                            verbose=1,
                        )
                    except ValueError as exc:
                        errors.append(str(exc))
                        continue
                board_errors = dict(getattr(frame, "attrs", {}).get("errors") or {})
                if board_errors.get(self.name):
                    errors.append(str(board_errors[self.name]))
                elif logged.messages and len(frame) == 0:
                    errors.extend(logged.messages)
                rows_to_listings(frame, self.name, result)
        verdict = classify(errors)
        if verdict and not result.listings:
            result.health, result.message = verdict  # type: ignore[assignment]
        elif verdict:
            result.message = f"partly failed: {verdict[1]}"
