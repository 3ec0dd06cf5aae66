"""Adzuna search API: needs an app id and key (free from Adzuna); the country is configurable.

The key is sent as a query parameter because that is how Adzuna authenticates; error
messages name only the host, never the URL, so the key does not reach logs or task results.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from peregrine.lib.http import HttpClient
from peregrine.sources.base import RawListing, Source, SourceQuery, SourceResult, text_of

API = "https://api.adzuna.com/v1/api/jobs/{country}/search/{page}"
COUNTRY = re.compile(r"^[a-z]{2}$")
MAX_PAGES = 5
PER_PAGE = 50


@dataclass(frozen=True)
class AdzunaConfig:
    app_id: str
    app_key: str
    country: str = "us"

    def __repr__(self) -> str:
        return f"AdzunaConfig(app_id={self.app_id!r}, app_key='***', country={self.country!r})"


class AdzunaSource(Source):
    name = "adzuna"
    api = API

    def __init__(self, http: HttpClient, config: AdzunaConfig | None) -> None:
        super().__init__(http)
        self.config = config

    def collect(self, query: SourceQuery, result: SourceResult) -> None:
        config = self.config
        if config is None or not config.app_id or not config.app_key:
            result.health = "error"
            result.message = "Adzuna needs an app id and key (preference 'adzuna')"
            return
        country = config.country.lower()
        if not COUNTRY.match(country):
            result.health = "error"
            result.message = f"Adzuna country must be a two-letter code, not {country!r}"
            return
        for title in query.titles or ("",):
            for where in query.locations or ("",):
                self._search(query, result, country, title, where)

    def _search(
        self, query: SourceQuery, result: SourceResult, country: str, what: str, where: str
    ) -> None:
        assert self.config is not None
        wanted = query.results_wanted
        for page in range(1, MAX_PAGES + 1):
            params = {
                "app_id": self.config.app_id,
                "app_key": self.config.app_key,
                "results_per_page": str(min(PER_PAGE, wanted)),
                "max_days_old": str(query.max_age_days),
                "content-type": "application/json",
            }
            if what:
                params["what"] = what
            if where:
                params["where"] = where
            data = self.http.get(self.api.format(country=country, page=page), params=params).json()
            items = data.get("results") if isinstance(data, dict) else None
            if not isinstance(items, list):
                result.problem(f"page {page}: the answer has no results list")
                return
            for item in items:
                self._add(item, result)
            wanted -= len(items)
            if wanted <= 0 or len(items) < PER_PAGE:
                return

    def _add(self, item: object, result: SourceResult) -> None:
        if not isinstance(item, dict):
            result.problem("a result is not an object")
            return
        title, link = text_of(item.get("title")), text_of(item.get("redirect_url"))
        if not title or not link:
            result.problem("a result without title or link was skipped")
            return
        company = item.get("company")
        location = item.get("location")
        predicted = text_of(item.get("salary_is_predicted")) == "1"
        low, high = item.get("salary_min"), item.get("salary_max")
        result.listings.append(
            RawListing(
                source=self.name,
                title=title,
                url=link,
                company=text_of(company.get("display_name")) if isinstance(company, dict) else "",
                location=text_of(location.get("display_name"))
                if isinstance(location, dict)
                else "",
                description=text_of(item.get("description")),
                # Adzuna's "predicted" salaries are its own estimate, not the employer's.
                salary_min=float(low) if isinstance(low, int | float) and not predicted else None,
                salary_max=float(high) if isinstance(high, int | float) and not predicted else None,
                salary_interval="year",
                date_posted=text_of(item.get("created")) or None,
                external_id=text_of(item.get("id")) or None,
            )
        )
