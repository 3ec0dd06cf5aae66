"""What every job source looks like: a name, ``fetch(query)`` and a result with its health.

A source never raises for an expected failure (blocked, no results, a broken response): it
returns a ``SourceResult`` whose ``health`` and ``message`` say what happened, so one failing
source never stops the others. Listings it could not read are counted in ``skipped`` with a
reason in ``problems``.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Literal

from peregrine.lib.http import FetchError, HttpClient

Health = Literal["ok", "no_results", "blocked", "error"]
MAX_PROBLEMS = 20


@dataclass(slots=True)
class RawListing:
    """A listing as a source saw it, before normalisation. Only title and url are required."""

    source: str
    title: str
    url: str
    company: str = ""
    location: str = ""
    description: str = ""  # plain text or HTML; normalisation reduces it to text
    salary_text: str = ""
    salary_min: float | None = None
    salary_max: float | None = None
    salary_currency: str | None = None
    salary_interval: str | None = None
    date_posted: str | None = None  # anything normalise.parse_date understands
    work_mode: str | None = None  # remote / hybrid / onsite when the source says so
    external_id: str | None = None


@dataclass(frozen=True, slots=True)
class SourceQuery:
    """What a search profile asks of a source."""

    titles: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()
    remote: bool = False
    results_wanted: int = 50
    max_age_days: int = 14
    companies: tuple[str, ...] = ()  # watch list (board tokens for ATS sources)
    feed_urls: tuple[str, ...] = ()
    url: str | None = None  # the single page for job_page


@dataclass(slots=True)
class SourceResult:
    source: str
    listings: list[RawListing] = field(default_factory=list)
    health: Health = "ok"
    message: str = ""
    elapsed: float = 0.0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        """A listing (or board) that could not be read: counted and explained."""
        self.skipped += 1
        self.note(text)

    def note(self, text: str) -> None:
        """Something worth telling that is not a skipped listing (e.g. a dead feed)."""
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text[:300])

    def finish(self, started: float) -> SourceResult:
        self.elapsed = round(time.monotonic() - started, 3)
        if self.health == "ok" and not self.listings:
            self.health = "no_results"
        return self


class Source(ABC):
    """One place jobs come from. Subclasses implement ``collect``."""

    name: str = ""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def fetch(self, query: SourceQuery) -> SourceResult:
        started = time.monotonic()
        result = SourceResult(source=self.name)
        try:
            self.collect(query, result)
        except FetchError as exc:
            result.health = "blocked" if exc.status in {401, 403, 429} else "error"
            result.message = str(exc)
        return result.finish(started)

    @abstractmethod
    def collect(self, query: SourceQuery, result: SourceResult) -> None:
        """Append listings to ``result``; record per-item problems with ``result.problem``."""


def mapping(value: Any) -> dict[str, Any]:
    """A JSON field that should be an object; anything else reads as empty."""
    return value if isinstance(value, dict) else {}


def text_of(value: Any) -> str:
    """A JSON field as text: None and non-strings become '' or their str()."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return ""
