"""Greenhouse public job-board API, for companies on the watch list (board token = company)."""

from __future__ import annotations

import html
import re
from urllib.parse import quote

from peregrine.lib.http import FetchError
from peregrine.sources.base import RawListing, Source, SourceQuery, SourceResult, mapping, text_of

API = "https://boards-api.greenhouse.io/v1/boards/{token}/jobs"
BOARD_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


def board_token(company: str) -> str:
    """'Acme Robotics' → 'acmerobotics'; a token given as is stays as is."""
    token = company.strip()
    return token if BOARD_TOKEN.match(token) else re.sub(r"[^a-z0-9]", "", token.lower())


class GreenhouseSource(Source):
    name = "greenhouse"
    api = API

    def collect(self, query: SourceQuery, result: SourceResult) -> None:
        for company in query.companies:
            token = board_token(company)
            if not token:
                result.problem(f"{company!r}: not a usable board name")
                continue
            url = self.api.format(token=quote(token))
            try:
                data = self.http.get(url, params={"content": "true"}).json()
            except FetchError as exc:
                if exc.status == 404:
                    result.problem(f"{company}: no Greenhouse board named {token!r}")
                    continue
                raise
            jobs = data.get("jobs") if isinstance(data, dict) else None
            if not isinstance(jobs, list):
                result.problem(f"{company}: the answer has no job list")
                continue
            for item in jobs[: query.results_wanted]:
                if not isinstance(item, dict):
                    result.problem(f"{company}: a job entry is not an object")
                    continue
                title, link = text_of(item.get("title")), text_of(item.get("absolute_url"))
                if not title or not link:
                    result.problem(f"{company}: a job without title or link was skipped")
                    continue
                result.listings.append(
                    RawListing(
                        source=self.name,
                        title=title,
                        url=link,
                        company=text_of(item.get("company_name")) or company,
                        location=text_of(mapping(item.get("location")).get("name")),
                        # The API returns the description HTML entity-escaped.
                        description=html.unescape(text_of(item.get("content"))),
                        date_posted=text_of(item.get("first_published"))
                        or text_of(item.get("updated_at")),
                        external_id=text_of(item.get("id")) or None,
                    )
                )
