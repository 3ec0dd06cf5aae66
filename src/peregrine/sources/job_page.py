"""A single job URL pasted by the user: JSON-LD JobPosting, then OpenGraph, then page text."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

from peregrine.lib.html import html_to_text
from peregrine.sources.base import RawListing, Source, SourceQuery, SourceResult, mapping, text_of

MAX_PAGE_BYTES = 3 * 1024 * 1024
MAX_JSON_LD = 20  # script blocks looked at per page
_UNIT = {"HOUR": "hour", "DAY": "day", "WEEK": "week", "MONTH": "month", "YEAR": "year"}


class _PageParser(HTMLParser):
    """Collects JSON-LD blocks, <meta> properties and the <title>; ignores everything else."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.json_ld: list[str] = []
        self.meta: dict[str, str] = {}
        self.title = ""
        self._in: str | None = None
        self._buffer: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag == "script" and values.get("type", "").lower() == "application/ld+json":
            self._in, self._buffer = "ld", []
        elif tag == "title" and not self.title:
            self._in, self._buffer = "title", []
        elif tag == "meta":
            key = (values.get("property") or values.get("name") or "").lower()
            if key and "content" in values and key not in self.meta:
                self.meta[key] = values["content"]

    def handle_data(self, data: str) -> None:
        if self._in:
            self._buffer.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._in == "ld" and tag == "script":
            if len(self.json_ld) < MAX_JSON_LD:
                self.json_ld.append("".join(self._buffer))
            self._in = None
        elif self._in == "title" and tag == "title":
            self.title = " ".join("".join(self._buffer).split())
            self._in = None


def _postings(node: Any) -> list[dict[str, Any]]:
    """Every JobPosting object in a JSON-LD document (top level, lists, @graph)."""
    if isinstance(node, list):
        return [p for item in node for p in _postings(item)]
    if not isinstance(node, dict):
        return []
    kind = node.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    found = [node] if "JobPosting" in kinds else []
    return found + _postings(node.get("@graph", []))


def _place(posting: dict[str, Any]) -> str:
    places = posting.get("jobLocation")
    for place in places if isinstance(places, list) else [places]:
        address = mapping(mapping(place).get("address"))
        parts = [
            text_of(address.get("addressLocality")),
            text_of(address.get("addressRegion")),
            text_of(mapping(address.get("addressCountry")).get("name"))
            or text_of(address.get("addressCountry")),
        ]
        text = ", ".join(p for p in parts if p)
        if text:
            return text
    return ""


def from_json_ld(posting: dict[str, Any], url: str, source: str) -> RawListing:
    salary = mapping(posting.get("baseSalary"))
    value = mapping(salary.get("value"))
    low = value.get("minValue", value.get("value"))
    high = value.get("maxValue", value.get("value"))
    remote = text_of(posting.get("jobLocationType")).upper() == "TELECOMMUTE"
    identifier = posting.get("identifier")
    return RawListing(
        source=source,
        title=text_of(posting.get("title")),
        url=url,
        company=text_of(mapping(posting.get("hiringOrganization")).get("name"))
        or text_of(posting.get("hiringOrganization")),
        location=_place(posting),
        description=text_of(posting.get("description")),
        salary_min=float(low) if isinstance(low, int | float) else None,
        salary_max=float(high) if isinstance(high, int | float) else None,
        salary_currency=text_of(salary.get("currency")) or None,
        salary_interval=_UNIT.get(text_of(value.get("unitText")).upper()),
        date_posted=text_of(posting.get("datePosted")) or None,
        work_mode="remote" if remote else None,
        external_id=text_of(mapping(identifier).get("value")) or None,
    )


def parse_page(html: str, url: str, source: str = "job_page") -> tuple[RawListing | None, str]:
    """The listing a page describes and which layer found it (json-ld, opengraph, text)."""
    parser = _PageParser()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):
        pass  # a malformed tail; what was read before it is still useful
    for block in parser.json_ld:
        try:
            document = json.loads(block)
        except ValueError:
            continue
        for posting in _postings(document):
            listing = from_json_ld(posting, url, source)
            if listing.title:
                return listing, "json-ld"
    meta = parser.meta
    og_title = meta.get("og:title") or meta.get("twitter:title")
    if og_title:
        return RawListing(
            source=source,
            title=og_title,
            url=url,
            company=meta.get("og:site_name", ""),
            description=meta.get("og:description") or meta.get("description", ""),
        ), "opengraph"
    text = html_to_text(html)
    title = parser.title or next((line for line in text.splitlines() if line.strip()), "")
    if not title:
        return None, "nothing"
    return RawListing(source=source, title=title[:300], url=url, description=text), "text"


class JobPageSource(Source):
    name = "job_page"

    def collect(self, query: SourceQuery, result: SourceResult) -> None:
        if not query.url:
            result.health = "error"
            result.message = "no URL given"
            return
        response = self.http.get(query.url, max_bytes=MAX_PAGE_BYTES)
        listing, layer = parse_page(response.text(), response.url, self.name)
        if listing is None:
            result.health = "error"
            result.message = "the page has no job title, structured data or readable text"
            return
        if listing.description and layer != "text" and len(listing.description) < 200:
            # OpenGraph descriptions are teasers; the page text says more.
            listing.description = html_to_text(response.text())
        result.message = f"read from {layer}"
        result.listings.append(listing)
