"""Ashby public job-board API, for companies on the watch list."""

from __future__ import annotations

from typing import Any

from peregrine.sources.base import RawListing, text_of
from peregrine.sources.company_boards import CompanyBoardSource

API = "https://api.ashbyhq.com/posting-api/job-board/{token}"
_INTERVALS = {"1 HOUR": "hour", "1 DAY": "day", "1 WEEK": "week", "1 MONTH": "month",
              "1 YEAR": "year"}  # fmt: skip
_MODES = {"remote": "remote", "hybrid": "hybrid", "onsite": "onsite"}


def _salary(comp: Any) -> tuple[float | None, float | None, str | None, str | None, str]:
    if not isinstance(comp, dict):
        return None, None, None, None, ""
    summary = text_of(comp.get("compensationTierSummary"))
    for part in comp.get("summaryComponents") or []:
        if isinstance(part, dict) and part.get("compensationType") == "Salary":
            low, high = part.get("minValue"), part.get("maxValue")
            return (
                float(low) if isinstance(low, int | float) else None,
                float(high) if isinstance(high, int | float) else None,
                text_of(part.get("currencyCode")) or None,
                _INTERVALS.get(text_of(part.get("interval"))),
                summary,
            )
    return None, None, None, None, summary


class AshbySource(CompanyBoardSource):
    name = "ashby"
    api = API
    board = "Ashby"
    params = {"includeCompensation": "true"}  # noqa: RUF012 - read only, like the others
    link_key = "jobUrl"
    not_an_object = None

    def listed(self, item: dict[str, Any]) -> bool:
        return item.get("isListed") is not False

    def listing(self, company: str, item: dict[str, Any], *, title: str, url: str) -> RawListing:
        low, high, currency, interval, summary = _salary(item.get("compensation"))
        mode = _MODES.get(text_of(item.get("workplaceType")).lower())
        if mode is None and item.get("isRemote") is True:
            mode = "remote"
        return RawListing(
            source=self.name,
            title=title,
            url=url,
            company=company,
            location=text_of(item.get("location")),
            description=text_of(item.get("descriptionPlain"))
            or text_of(item.get("descriptionHtml")),
            salary_text=summary,
            salary_min=low,
            salary_max=high,
            salary_currency=currency,
            salary_interval=interval,
            date_posted=text_of(item.get("publishedAt")) or None,
            work_mode=mode,
            external_id=text_of(item.get("id")) or None,
        )
