"""RSS 2.0 and Atom feeds from any URL (Craigslist per metro, remote-job boards…).

Parsed with defusedxml, which refuses entity expansion bombs and external entities.
"""

from __future__ import annotations

import re

# Only for the Element type and ParseError; parsing goes through defusedxml.
import xml.etree.ElementTree as ET

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from peregrine.lib.http import FetchError
from peregrine.sources.base import RawListing, Source, SourceQuery, SourceResult

MAX_FEED_BYTES = 5 * 1024 * 1024
_ATOM = "{http://www.w3.org/2005/Atom}"
_CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
_DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"
# "Senior Engineer at Acme" and "Acme: Senior Engineer" are how feeds usually name the employer.
_AT_COMPANY = re.compile(r"^(?P<title>.+?)\s+(?:at|@)\s+(?P<company>[^()]+?)\s*(?:\(.*\))?$")
_COMPANY_COLON = re.compile(r"^(?P<company>[^:]{2,60}):\s+(?P<title>.+)$")


def _text(element: ET.Element | None) -> str:
    if element is None:
        return ""
    return "".join(element.itertext()).strip()


def split_title(raw: str) -> tuple[str, str]:
    """(title, company) from a feed item title."""
    match = _AT_COMPANY.match(raw)
    if match:
        return match["title"], match["company"]
    match = _COMPANY_COLON.match(raw)
    if match:
        return match["title"], match["company"]
    return raw, ""


class FeedSource(Source):
    name = "feeds"

    def collect(self, query: SourceQuery, result: SourceResult) -> None:
        failures: list[str] = []
        for url in query.feed_urls:
            try:
                body = self.http.get(url, max_bytes=MAX_FEED_BYTES).content
                root = fromstring(body)
            except (ET.ParseError, DefusedXmlException, ValueError) as exc:
                failures.append(f"{url[:120]}: not a readable feed ({type(exc).__name__})")
                continue
            except FetchError as exc:
                # One unreachable feed must not hide the others' listings.
                failures.append(f"{url[:120]}: {exc}")
                continue
            if root.tag == f"{_ATOM}feed":
                self._atom(root, result, query.results_wanted)
            elif root.tag in {"rss", "rdf:RDF"} or root.find("channel") is not None:
                self._rss(root, result, query.results_wanted)
            else:
                failures.append(f"{url[:120]}: neither RSS nor Atom (root <{root.tag[:40]}>)")
        for failure in failures:
            result.note(failure)
        if failures and not result.listings:
            result.health = "error"
            result.message = failures[0]

    def _rss(self, root: ET.Element, result: SourceResult, limit: int) -> None:
        for item in root.iter("item"):
            if limit <= 0:
                return
            raw_title, link = _text(item.find("title")), _text(item.find("link"))
            if not raw_title or not link:
                result.problem("a feed item without title or link was skipped")
                continue
            title, company = split_title(raw_title)
            result.listings.append(
                RawListing(
                    source=self.name,
                    title=title,
                    url=link,
                    company=company or _text(item.find(_DC_CREATOR)),
                    description=_text(item.find(_CONTENT)) or _text(item.find("description")),
                    date_posted=_text(item.find("pubDate")) or None,
                    external_id=_text(item.find("guid")) or None,
                )
            )
            limit -= 1

    def _atom(self, root: ET.Element, result: SourceResult, limit: int) -> None:
        for entry in root.iter(f"{_ATOM}entry"):
            if limit <= 0:
                return
            raw_title = _text(entry.find(f"{_ATOM}title"))
            link = ""
            for candidate in entry.findall(f"{_ATOM}link"):
                if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
                    link = candidate.get("href", "")
                    break
            if not raw_title or not link:
                result.problem("a feed entry without title or link was skipped")
                continue
            title, company = split_title(raw_title)
            author = entry.find(f"{_ATOM}author")
            result.listings.append(
                RawListing(
                    source=self.name,
                    title=title,
                    url=link,
                    company=company
                    or (_text(author.find(f"{_ATOM}name")) if author is not None else ""),
                    description=_text(entry.find(f"{_ATOM}content"))
                    or _text(entry.find(f"{_ATOM}summary")),
                    date_posted=_text(entry.find(f"{_ATOM}published"))
                    or _text(entry.find(f"{_ATOM}updated"))
                    or None,
                    external_id=_text(entry.find(f"{_ATOM}id")) or None,
                )
            )
            limit -= 1
