"""Canonical job URLs: the same posting reached through different links gets one key."""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MAX_URL_LENGTH = 2048

# Query parameters that only track where a click came from.
_TRACKING = re.compile(
    r"^(utm_.*|gclid|gclsrc|dclid|fbclid|msclkid|mc_cid|mc_eid|igshid|yclid|_hs.*|hsa_.*|"
    r"ref|refid|ref_src|referrer|src|source|trk|trkinfo|trackingid|tracking_id|from|"
    r"originalsubdomain|currentjobid|eboardid|lipi|position|pagenum|si|sid|spm|"
    r"campaign|campaignid|cmp|gh_src|lever-origin|lever-source.*)$",
    re.IGNORECASE,
)

_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f]")
# The shape nearly every board link has: lower-case scheme, a plain ASCII host name (no
# user, port or IPv6 brackets), and a query whose names and values percent-decoding and
# re-encoding leave alone. For these, splitting by hand gives what ``urlsplit``,
# ``parse_qsl`` and ``urlencode`` give, several times faster; anything else takes the
# general path below.
_PLAIN = re.compile(r"(https?)://([A-Za-z0-9.-]+)(/[^?#]*)?(?:\?([^#]*))?(?:#.*)?", re.S)
_PLAIN_QUERY = re.compile(r"[A-Za-z0-9_.~=&-]*")
_SLASHES = re.compile(r"/{2,}")
_LINKEDIN_VIEW = re.compile(r"/jobs/view/(?:[^/]*?-)?(\d{6,})/?$")


class InvalidURLError(ValueError):
    """Not an http(s) URL we can store."""


def canonical_url(raw: str) -> str:
    """Return the canonical form of a job URL, or raise ``InvalidURLError``."""
    url = raw.strip()
    if not url:
        raise InvalidURLError("the URL is empty")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidURLError(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if _SPACE_OR_CONTROL.search(url):
        raise InvalidURLError("the URL contains spaces or control characters")
    plain = _PLAIN.fullmatch(url)
    if plain is not None:
        fast = _plain_canonical(*plain.groups())
        if fast is not None:
            return fast
    return _general_canonical(raw, url)


def _plain_canonical(scheme: str, host: str, path: str | None, query: str | None) -> str | None:
    """The canonical form of a URL of the ``_PLAIN`` shape; None to take the general path."""
    host = host.lower().rstrip(".")
    if not host:
        return None
    path = path or "/"
    if "//" in path:
        path = _SLASHES.sub("/", path)
    query = query or ""
    special = _known_board(host, path, query)
    if special:
        return special
    if len(path) > 1:
        path = path.rstrip("/")
    if not query:
        return f"{scheme}://{host}{path}"
    encoded = _plain_query(query) if _PLAIN_QUERY.fullmatch(query) else None
    if encoded is None:
        encoded = _general_query(query)
    return f"{scheme}://{host}{path}?{encoded}" if encoded else f"{scheme}://{host}{path}"


def _plain_query(query: str) -> str | None:
    """``_general_query`` for a query that decoding leaves alone; None if it would not."""
    pairs = []
    for part in query.split("&"):
        # parse_qsl without blank values: pairs without "=" or with an empty value go.
        name, sep, value = part.partition("=")
        if sep and value and not _is_tracking(name):
            if "=" in value:
                return None  # urlencode would escape it
            pairs.append((name, value))
    pairs.sort()
    return "&".join(f"{name}={value}" for name, value in pairs)


def _general_query(query: str) -> str:
    kept = [(k, v) for k, v in parse_qsl(query) if not _is_tracking(k)]
    kept.sort()
    return urlencode(kept)


@lru_cache(maxsize=1024)  # boards use a handful of parameter names
def _is_tracking(name: str) -> bool:
    return _TRACKING.match(name) is not None


def _general_canonical(raw: str, url: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise InvalidURLError(f"only http and https links are accepted, not {raw!r}")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise InvalidURLError(f"the URL has no host name: {raw!r}")
    try:
        port = parts.port
    except ValueError:
        raise InvalidURLError(f"the URL has an invalid port: {raw!r}") from None
    netloc = host if ":" not in host else f"[{host}]"
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        netloc = f"{netloc}:{port}"
    path = re.sub(r"/{2,}", "/", parts.path) or "/"

    special = _known_board(host, path, parts.query)
    if special:
        return special

    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=False) if not _is_tracking(k)
    ]
    query.sort()
    if len(path) > 1:
        path = path.rstrip("/")
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def _known_board(host: str, path: str, query: str) -> str | None:
    """Boards whose links carry a stable job id: keep only that id."""
    if host.endswith("linkedin.com"):
        match = _LINKEDIN_VIEW.search(path)
        if match:
            return f"https://www.linkedin.com/jobs/view/{match[1]}"
        params = dict(parse_qsl(query))
        if params.get("currentJobId", "").isdigit():
            return f"https://www.linkedin.com/jobs/view/{params['currentJobId']}"
    if host.endswith("indeed.com") or ".indeed." in host:
        params = dict(parse_qsl(query))
        jk = params.get("jk") or params.get("vjk")
        if jk and re.fullmatch(r"[0-9a-fA-F]{8,32}", jk):
            return f"https://{host if host.startswith('www.') else 'www.' + host}/viewjob?jk={jk}"
    return None
