"""Ashby public job-board API, for companies on the watch list."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from peregrine.lib.http import FetchError
from peregrine.sources.base import RawListing, Source, SourceQuery, SourceResult, text_of
from peregrine.sources.greenhouse import board_token

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


class AshbySource(Source):
    name = "ashby"
    api = API

    def collect(self, query: SourceQuery, result: SourceResult) -> None:
        for company in query.companies:
            token = board_token(company)
            if not token:
                result.problem(f"{company!r}: not a usable board name")
                continue
            try:
                data = self.http.get(
                    self.api.format(token=quote(token)), params={"includeCompensation": "true"}
                ).json()
            except FetchError as exc:
                if exc.status == 404:
                    result.problem(f"{company}: no Ashby board named {token!r}")
                    continue
                raise
            jobs = data.get("jobs") if isinstance(data, dict) else None
            if not isinstance(jobs, list):
                result.problem(f"{company}: the answer has no job list")
                continue
            for item in jobs[: query.results_wanted]:
                if not isinstance(item, dict) or item.get("isListed") is False:
                    continue
                title, link = text_of(item.get("title")), text_of(item.get("jobUrl"))
                if not title or not link:
                    result.problem(f"{company}: a job without title or link was skipped")
                    continue
                low, high, currency, interval, summary = _salary(item.get("compensation"))
                mode = _MODES.get(text_of(item.get("workplaceType")).lower())
                if mode is None and item.get("isRemote") is True:
                    mode = "remote"
                result.listings.append(
                    RawListing(
                        source=self.name,
                        title=title,
                        url=link,
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
                )
