"""Lever public postings API, for companies on the watch list."""

from __future__ import annotations

from typing import Any

from peregrine.sources.base import RawListing, mapping, text_of
from peregrine.sources.company_boards import CompanyBoardSource

API = "https://api.lever.co/v0/postings/{token}"
_INTERVALS = {"per-hour-wage": "hour", "per-day-wage": "day", "per-week-salary": "week",
              "per-month-salary": "month", "per-year-salary": "year"}  # fmt: skip
_MODES = {"remote": "remote", "hybrid": "hybrid", "onsite": "onsite", "on-site": "onsite"}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class LeverSource(CompanyBoardSource):
    name = "lever"
    api = API
    board = "Lever"
    params = {"mode": "json"}  # noqa: RUF012 - read only, like the other class settings
    title_key, link_key = "text", "hostedUrl"
    entry = "posting"
    no_entries = "the answer is not a list of postings"
    not_an_object = "a posting is not an object"

    def entries(self, data: Any) -> list[Any] | None:
        return data if isinstance(data, list) else None

    def listing(self, company: str, item: dict[str, Any], *, title: str, url: str) -> RawListing:
        categories = mapping(item.get("categories"))
        salary = mapping(item.get("salaryRange"))
        description = text_of(item.get("descriptionPlain")) or text_of(item.get("description"))
        extra = item.get("lists")
        if isinstance(extra, list):
            for block in extra:
                if isinstance(block, dict):
                    description += "\n\n" + text_of(block.get("text")) + "\n"
                    description += text_of(block.get("content"))
        return RawListing(
            source=self.name,
            title=title,
            url=url,
            company=company,
            location=text_of(categories.get("location")),
            description=description,
            salary_min=_number(salary.get("min")),
            salary_max=_number(salary.get("max")),
            salary_currency=text_of(salary.get("currency")) or None,
            salary_interval=_INTERVALS.get(text_of(salary.get("interval"))),
            # Epoch milliseconds; parse_date reads them although the field is typed as text.
            date_posted=item.get("createdAt") if isinstance(item.get("createdAt"), int) else None,
            work_mode=_MODES.get(text_of(item.get("workplaceType")).lower()),
            external_id=text_of(item.get("id")) or None,
        )
