"""One job from one URL: fetch the page safely and read its title, company and details."""

from __future__ import annotations

from peregrine.lib.http import HttpClient
from peregrine.services.jobs import JobInputError
from peregrine.services.normalise import ListingError, to_new_job
from peregrine.sources.base import SourceQuery
from peregrine.sources.job_page import JobPageSource
from peregrine.storage.queries.jobs import NewJob


def job_from_url(
    url: str,
    http: HttpClient,
    *,
    title: str | None = None,
    company: str | None = None,
    location: str | None = None,
    work_mode: str | None = None,
) -> tuple[NewJob, str]:
    """The job a page describes (values given by the user win) and which layer was used."""
    result = JobPageSource(http).fetch(SourceQuery(url=url))
    if not result.listings:
        raise JobInputError(f"could not read a job from {url[:200]}: {result.message}")
    listing = result.listings[0]
    listing.url = url  # store the link the user gave, not wherever redirects ended
    listing.source = "manual"
    if title:
        listing.title = title
    if company:
        listing.company = company
    if location:
        listing.location = location
    if work_mode and work_mode != "unknown":
        listing.work_mode = work_mode
    try:
        return to_new_job(listing), result.message.removeprefix("read from ")
    except ListingError as exc:
        raise JobInputError(f"could not read a job from {url[:200]}: {exc}") from None
