"""Web search through a SearXNG instance's JSON API.

This is the only outbound HTTP research uses. When the shared outbound HTTP module
(``lib/http.py``) lands, ``search`` is the one function to point at it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx
import nh3

log = logging.getLogger("peregrine.research")

MAX_RESPONSE_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SearchHit:
    title: str
    url: str
    snippet: str


def _plain(text: object) -> str:
    # Search snippets are scraped HTML: keep the words, drop every tag.
    return " ".join(nh3.clean(str(text or ""), tags=set()).split())


def search(
    base_url: str, query: str, *, limit: int = 6, timeout_s: float = 10.0
) -> list[SearchHit]:
    """Up to ``limit`` results for ``query``; an unreachable or broken instance gives []
    (research then relies on the model alone and says so)."""
    try:
        with httpx.Client(timeout=timeout_s, trust_env=False, follow_redirects=False) as client:
            response = client.get(
                f"{base_url}/search", params={"q": query, "format": "json", "safesearch": 1}
            )
        if response.status_code != 200 or len(response.content) > MAX_RESPONSE_BYTES:
            log.info("SearXNG answered HTTP %s for a research query", response.status_code)
            return []
        results = response.json().get("results", [])
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        log.info("SearXNG search failed: %s", type(exc).__name__)
        return []
    hits: list[SearchHit] = []
    for item in results:
        if not isinstance(item, dict):
            continue
        url = str(item.get("url") or "")
        if not url.startswith(("http://", "https://")):
            continue
        hits.append(SearchHit(_plain(item.get("title")), url, _plain(item.get("content"))[:500]))
        if len(hits) >= limit:
            break
    return hits
