"""Web search through a SearXNG instance's JSON API, through ``lib/http.py``.

SearXNG usually runs next to Peregrine on a private or loopback address, which the outbound
door refuses by default; the configured instance's own ``host:port`` is the one exception
(the operator chose it). Redirects elsewhere are still checked like any other request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import nh3

from peregrine.lib.http import FetchError, HttpClient, allow_entries

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


def allowed_instance(base_url: str) -> frozenset[str]:
    """The ``host:port`` of the configured instance, exempt from the private-address check."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return frozenset()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return allow_entries([(parts.hostname, port)])


def search(
    base_url: str, query: str, *, limit: int = 6, timeout_s: float = 10.0
) -> list[SearchHit]:
    """Up to ``limit`` results for ``query``; an unreachable or broken instance gives []
    (research then relies on the model alone and says so)."""
    client = HttpClient(
        timeout=timeout_s,
        max_bytes=MAX_RESPONSE_BYTES,
        max_retries=1,
        allow=allowed_instance(base_url),
    )
    try:
        with client:
            response = client.get(
                f"{base_url.rstrip('/')}/search",
                params={"q": query, "format": "json", "safesearch": "1"},
            )
            data = response.json()
        results = data.get("results", []) if isinstance(data, dict) else []
    except FetchError as exc:
        log.info("SearXNG search failed: %s", exc.kind)
        return []
    except ValueError as exc:
        log.info("SearXNG answered something that is not JSON: %s", type(exc).__name__)
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
