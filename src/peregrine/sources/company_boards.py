"""What the Greenhouse, Lever and Ashby sources share: one public job-board API call per
company on the watch list, the same checks on the answer, one listing per entry.

A subclass says where the board lives (``api``, ``params``), what the ATS calls things (for
the messages a user reads in source health), where the entries are in the answer and how one
entry becomes a listing.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from typing import Any, ClassVar
from urllib.parse import quote

from peregrine.lib.http import FetchError
from peregrine.sources.base import RawListing, Source, SourceQuery, SourceResult, text_of

BOARD_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


def board_token(company: str) -> str:
    """'Acme Robotics' → 'acmerobotics'; a token given as is stays as is."""
    token = company.strip()
    return token if BOARD_TOKEN.match(token) else re.sub(r"[^a-z0-9]", "", token.lower())


class CompanyBoardSource(Source):
    api: ClassVar[str]  # with a {token} placeholder
    board: ClassVar[str]  # the ATS's name, for messages
    params: ClassVar[dict[str, str]] = {}
    title_key: ClassVar[str] = "title"
    link_key: ClassVar[str]
    entry: ClassVar[str] = "job"  # what the ATS calls one entry, for messages
    no_entries: ClassVar[str] = "the answer has no job list"
    # None: an entry that is not an object is skipped without a word.
    not_an_object: ClassVar[str | None] = "a job entry is not an object"

    def collect(self, query: SourceQuery, result: SourceResult) -> None:
        for company in query.companies:
            token = board_token(company)
            if not token:
                result.problem(f"{company!r}: not a usable board name")
                continue
            try:
                data = self.http.get(self.api.format(token=quote(token)), params=self.params)
                entries = self.entries(data.json())
            except FetchError as exc:
                if exc.status == 404:
                    result.problem(f"{company}: no {self.board} board named {token!r}")
                    continue
                raise
            if entries is None:
                result.problem(f"{company}: {self.no_entries}")
                continue
            for item in entries[: query.results_wanted]:
                if not isinstance(item, dict):
                    if self.not_an_object:
                        result.problem(f"{company}: {self.not_an_object}")
                    continue
                if not self.listed(item):
                    continue
                title, link = text_of(item.get(self.title_key)), text_of(item.get(self.link_key))
                if not title or not link:
                    result.problem(f"{company}: a {self.entry} without title or link was skipped")
                    continue
                result.listings.append(self.listing(company, item, title=title, url=link))

    def entries(self, data: Any) -> list[Any] | None:
        """The list of entries in the decoded answer, or None when it has none."""
        jobs = data.get("jobs") if isinstance(data, dict) else None
        return jobs if isinstance(jobs, list) else None

    def listed(self, item: dict[str, Any]) -> bool:
        """False for an entry the board says is not public (skipped without a word)."""
        return True

    @abstractmethod
    def listing(self, company: str, item: dict[str, Any], *, title: str, url: str) -> RawListing:
        """One entry with a title and a link, as a listing."""
