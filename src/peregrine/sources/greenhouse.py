"""Greenhouse public job-board API, for companies on the watch list (board token = company)."""

from __future__ import annotations

import html
from typing import Any

from peregrine.sources.base import RawListing, mapping, text_of
from peregrine.sources.company_boards import CompanyBoardSource

API = "https://boards-api.greenhouse.io/v1/boards/{token}/jobs"


class GreenhouseSource(CompanyBoardSource):
    name = "greenhouse"
    api = API
    board = "Greenhouse"
    params = {"content": "true"}  # noqa: RUF012 - read only, like the other class settings
    link_key = "absolute_url"

    def listing(self, company: str, item: dict[str, Any], *, title: str, url: str) -> RawListing:
        return RawListing(
            source=self.name,
            title=title,
            url=url,
            company=text_of(item.get("company_name")) or company,
            location=text_of(mapping(item.get("location")).get("name")),
            # The API returns the description HTML entity-escaped.
            description=html.unescape(text_of(item.get("content"))),
            date_posted=text_of(item.get("first_published")) or text_of(item.get("updated_at")),
            external_id=text_of(item.get("id")) or None,
        )
