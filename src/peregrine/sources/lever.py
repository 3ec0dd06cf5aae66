"""Lever public postings API, for companies on the watch list."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from peregrine.lib.http import FetchError
from peregrine.sources.base import RawListing, Source, SourceQuery, SourceResult, mapping, text_of
from peregrine.sources.greenhouse import board_token

API = "https://api.lever.co/v0/postings/{token}"
_INTERVALS = {"per-hour-wage": "hour", "per-day-wage": "day", "per-week-salary": "week",
              "per-month-salary": "month", "per-year-salary": "year"}  # fmt: skip
_MODES = {"remote": "remote", "hybrid": "hybrid", "onsite": "onsite", "on-site": "onsite"}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class LeverSource(Source):
    name = "lever"
    api = API

    def collect(self, query: SourceQuery, result: SourceResult) -> None:
        for company in query.companies:
            token = board_token(company)
            if not token:
                result.problem(f"{company!r}: not a usable board name")
                continue
            try:
                data = self.http.get(self.api.format(token=quote(token)), params={"mode": "json"})
                items = data.json()
            except FetchError as exc:
                if exc.status == 404:
                    result.problem(f"{company}: no Lever board named {token!r}")
                    continue
                raise
            if not isinstance(items, list):
                result.problem(f"{company}: the answer is not a list of postings")
                continue
            for item in items[: query.results_wanted]:
                if not isinstance(item, dict):
                    result.problem(f"{company}: a posting is not an object")
                    continue
                title, link = text_of(item.get("text")), text_of(item.get("hostedUrl"))
                if not title or not link:
                    result.problem(f"{company}: a posting without title or link was skipped")
                    continue
                categories = mapping(item.get("categories"))
                salary = mapping(item.get("salaryRange"))
                description = text_of(item.get("descriptionPlain")) or text_of(
                    item.get("description")
                )
                extra = item.get("lists")
                if isinstance(extra, list):
                    for block in extra:
                        if isinstance(block, dict):
                            description += "\n\n" + text_of(block.get("text")) + "\n"
                            description += text_of(block.get("content"))
                result.listings.append(
                    RawListing(
                        source=self.name,
                        title=title,
                        url=link,
                        company=company,
                        location=text_of(categories.get("location")),
                        description=description,
                        salary_min=_number(salary.get("min")),
                        salary_max=_number(salary.get("max")),
                        salary_currency=text_of(salary.get("currency")) or None,
                        salary_interval=_INTERVALS.get(text_of(salary.get("interval"))),
                        date_posted=item.get("createdAt")
                        if isinstance(item.get("createdAt"), int)
                        else None,
                        work_mode=_MODES.get(text_of(item.get("workplaceType")).lower()),
                        external_id=text_of(item.get("id")) or None,
                    )
                )
