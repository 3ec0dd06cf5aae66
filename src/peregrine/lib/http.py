"""The only door for outbound HTTP: job boards, ATS APIs, feeds and job pages.

Every request is checked before a byte leaves the machine:

* only ``http`` and ``https``;
* the host name is resolved once, **every** address is checked, and the connection goes to
  the checked address (the URL is rewritten to the IP, the ``Host`` header and TLS SNI keep
  the name), so a DNS answer that changes between check and connect (rebinding) cannot
  steer us to an internal service;
* private, loopback, link-local, multicast, reserved, unspecified, shared (CGNAT) and cloud
  metadata addresses are refused, including IPv4-mapped IPv6 and the decimal, hex and octal
  spellings of IPv4 (``http://2130706433/``, ``http://0x7f.1/``) — unless the caller allows
  that exact ``host:port`` (tests allow their own loopback replay server; production never
  does);
* redirects are followed by hand, each hop checked again;
* responses are streamed and counted against a size cap;
* 429 and 5xx are retried a bounded number of times with exponential backoff and jitter,
  honouring ``Retry-After`` up to a cap.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

import httpx

DEFAULT_TIMEOUT = 15.0
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_REDIRECTS = 5
DEFAULT_MAX_RETRIES = 3
MAX_RETRY_AFTER = 30.0
USER_AGENT = "Peregrine/0.1 (job-search assistant)"

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_METADATA = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
# Only digits, hex digits, 'x' and dots: a host like this is an IPv4 literal in one of the
# spellings inet_aton accepts (2130706433, 0x7f000001, 0177.0.0.1, 127.1).
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$", re.IGNORECASE)

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchError(Exception):
    """A request could not be made or did not succeed; the message is meant for a person.

    ``kind`` is one of: bad_url, blocked_address, dns, timeout, network, too_large,
    too_many_redirects, http_status.
    """

    def __init__(self, message: str, *, kind: str, url: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.url = url
        self.status = status


@dataclass(frozen=True, slots=True)
class Response:
    url: str  # the final URL, after redirects
    status: int
    headers: Mapping[str, str]
    content: bytes
    elapsed: float = 0.0

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def text(self) -> str:
        """The body as text; undecodable bytes become U+FFFD rather than an error."""
        charset = "utf-8"
        match = re.search(r"charset=([\w.-]+)", self.headers.get("content-type", ""), re.I)
        if match:
            charset = match[1]
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """Parsed JSON, or FetchError saying what came back instead."""
        try:
            return json.loads(self.text())
        except ValueError:
            kind = self.content_type or "unknown content"
            raise FetchError(
                f"expected JSON from {_host(self.url)} but got {kind} that is not JSON",
                kind="http_status",
                url=self.url,
                status=self.status,
            ) from None


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_problem(ip: IPAddress) -> str | None:
    """Why we refuse to connect to ``ip``, or None when it is a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return address_problem(mapped)
        if ip.teredo is not None:
            return "a tunnelled (Teredo) address"
    if ip in _METADATA:
        return "the cloud metadata service"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_private:
        return "a private network address"
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:
        return "a non-public address"
    return None


def literal_ip(host: str) -> IPAddress | None:
    """The address a host name spells directly, in any form a resolver would accept."""
    candidate = host.strip("[]")
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        pass
    if _NUMERIC_HOST.match(candidate):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(candidate))
        except OSError:
            return None
    return None


@dataclass(frozen=True, slots=True)
class Target:
    """A checked hop: connect to ``ip`` while speaking to ``host``."""

    url: str
    scheme: str
    host: str
    port: int
    ip: str


@dataclass
class HttpClient:
    """A synchronous, thread-safe client. Create one per run; ``close()`` when done."""

    timeout: float = DEFAULT_TIMEOUT
    max_bytes: int = DEFAULT_MAX_BYTES
    max_redirects: int = DEFAULT_MAX_REDIRECTS
    max_retries: int = DEFAULT_MAX_RETRIES
    backoff_base: float = 0.5
    max_retry_after: float = MAX_RETRY_AFTER
    allow: frozenset[str] = frozenset()  # "host:port" entries exempt from the address check
    resolver: Resolver = system_resolver
    sleep: Callable[[float], None] = time.sleep
    user_agent: str = USER_AGENT
    verify: bool = True
    _client: httpx.Client | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _http(self) -> httpx.Client:
        # Sources run in worker threads; one shared pool, created once.
        with self._lock:
            if self._client is None:
                # httpx logs every request URL at INFO; some APIs (Adzuna) authenticate with
                # a key in the query string, which must never reach a log.
                logging.getLogger("httpx").setLevel(max(logging.WARNING, _httpx_level()))
                self._client = httpx.Client(
                    timeout=httpx.Timeout(self.timeout),
                    follow_redirects=False,
                    verify=self.verify,
                    trust_env=False,  # proxies from the environment would bypass the IP pinning
                )
            return self._client

    def check(self, url: str) -> Target:
        """Validate one URL and pick the checked address to connect to."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise FetchError(f"{url[:200]!r} is not a valid URL", kind="bad_url", url=url) from None
        scheme = parts.scheme.lower()
        if scheme not in {"http", "https"}:
            raise FetchError(
                f"only http and https links can be fetched, not {scheme or 'a bare path'}",
                kind="bad_url",
                url=url,
            )
        host = (parts.hostname or "").lower().rstrip(".")
        if not host:
            raise FetchError("the link has no host name", kind="bad_url", url=url)
        port = port or (443 if scheme == "https" else 80)
        allowed = f"{host}:{port}" in self.allow
        literal = literal_ip(host)
        if literal is not None:
            addresses = [str(literal)]
        else:
            try:
                addresses = self.resolver(host, port)
            except (OSError, UnicodeError) as exc:
                raise FetchError(
                    f"cannot find the server {host} ({exc})", kind="dns", url=url
                ) from None
            if not addresses:
                raise FetchError(f"cannot find the server {host}", kind="dns", url=url)
        checked: list[IPAddress] = []
        for raw in addresses:
            try:
                ip = ipaddress.ip_address(raw.split("%")[0])
            except ValueError:
                raise FetchError(
                    f"{host} resolved to an unusable address", kind="dns", url=url
                ) from None
            problem = address_problem(ip)
            if problem and not allowed:
                raise FetchError(
                    f"refused to fetch {host}: it points to {problem}",
                    kind="blocked_address",
                    url=url,
                )
            checked.append(ip)
        return Target(url=url, scheme=scheme, host=host, port=port, ip=str(checked[0]))

    def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> Response:
        """GET ``url`` following checked redirects; raises FetchError unless the status is 2xx."""
        if params:
            sep = "&" if urlsplit(url).query else "?"
            url = f"{url}{sep}{urlencode(params)}"
        cap = max_bytes or self.max_bytes
        started = time.monotonic()
        current = url
        for _hop in range(self.max_redirects + 1):
            response = self._with_retries(current, headers or {}, cap)
            if response.status in _REDIRECT_STATUSES:
                location = response.headers.get("location")
                if not location:
                    raise FetchError(
                        f"{_host(current)} sent a redirect without a target",
                        kind="http_status",
                        url=current,
                        status=response.status,
                    )
                current = urljoin(current, location)
                continue
            if not 200 <= response.status < 300:
                raise FetchError(
                    f"{_host(current)} answered HTTP {response.status}",
                    kind="http_status",
                    url=current,
                    status=response.status,
                )
            return Response(
                url=current,
                status=response.status,
                headers=response.headers,
                content=response.content,
                elapsed=time.monotonic() - started,
            )
        raise FetchError(
            f"more than {self.max_redirects} redirects starting at {_host(url)}",
            kind="too_many_redirects",
            url=url,
        )

    def _with_retries(self, url: str, headers: Mapping[str, str], cap: int) -> Response:
        attempt = 0
        while True:
            try:
                response = self._once(url, headers, cap)
            except FetchError as exc:
                if exc.kind not in {"timeout", "network"} or attempt >= self.max_retries:
                    raise
                self.sleep(self._backoff(attempt, None))
                attempt += 1
                continue
            if response.status not in _RETRY_STATUSES or attempt >= self.max_retries:
                return response
            self.sleep(self._backoff(attempt, response.headers.get("retry-after")))
            attempt += 1

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        waited = _retry_after_seconds(retry_after)
        if waited is not None:
            return min(max(waited, 0.0), self.max_retry_after)
        # Full jitter: sources retried by many users at once do not stampede in step.
        return float(random.uniform(0, self.backoff_base * 2**attempt))  # noqa: S311

    def _once(self, url: str, headers: Mapping[str, str], cap: int) -> Response:
        target = self.check(url)
        parts = urlsplit(url)
        ip_host = f"[{target.ip}]" if ":" in target.ip else target.ip
        default_port = (target.scheme == "https" and target.port == 443) or (
            target.scheme == "http" and target.port == 80
        )
        netloc = ip_host if default_port else f"{ip_host}:{target.port}"
        pinned = urlunsplit((target.scheme, netloc, parts.path or "/", parts.query, ""))
        host_header = target.host if default_port else f"{target.host}:{target.port}"
        send_headers = {
            "User-Agent": self.user_agent,
            "Accept-Encoding": "gzip, deflate",
            **headers,
            "Host": host_header,
        }
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        try:
            request = self._http().build_request(
                "GET", pinned, headers=send_headers, extensions=extensions
            )
            with _send_streamed(self._http(), request) as streamed:
                declared = streamed.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > cap:
                    raise _too_large(url, cap)
                chunks: list[bytes] = []
                total = 0
                for chunk in streamed.iter_bytes():
                    total += len(chunk)
                    if total > cap:
                        raise _too_large(url, cap)
                    chunks.append(chunk)
                return Response(
                    url=url,
                    status=streamed.status_code,
                    headers={k.lower(): v for k, v in streamed.headers.items()},
                    content=b"".join(chunks),
                )
        except httpx.TimeoutException:
            raise FetchError(
                f"{target.host} did not answer within {self.timeout:g} s", kind="timeout", url=url
            ) from None
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise FetchError(
                f"cannot reach {target.host}: {type(exc).__name__}", kind="network", url=url
            ) from None


@contextlib.contextmanager
def _send_streamed(client: httpx.Client, request: httpx.Request) -> Iterator[httpx.Response]:
    """Send with a streamed body that is always closed, even when we stop reading early."""
    response = client.send(request, stream=True)
    try:
        yield response
    finally:
        response.close()


def _httpx_level() -> int:
    return logging.getLogger("httpx").level


def _too_large(url: str, cap: int) -> FetchError:
    return FetchError(
        f"the page at {_host(url)} is larger than {cap // 1024} KB; not downloaded",
        kind="too_large",
        url=url,
    )


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - time.time()


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or url[:80]
    except ValueError:
        return url[:80]


def allow_entries(pairs: Iterable[tuple[str, int]]) -> frozenset[str]:
    """``allow`` entries from (host, port) pairs."""
    return frozenset(f"{host.lower()}:{port}" for host, port in pairs)
