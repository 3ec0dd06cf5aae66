"""Request-level protections, as one pure ASGI middleware so every route gets them.

- Host allow-list (local and demo mode): a page on another site that rebinds its DNS name
  to 127.0.0.1 sends its own name in ``Host``; refusing it stops DNS rebinding.
- Request body limit: ``Content-Length`` is checked up front and the stream is counted,
  because a chunked body has no length.
- CSRF: pages use a token tied to a cookie (double submit, compared in constant time); the
  JSON API, which scripts call without cookies, checks ``Sec-Fetch-Site`` and ``Origin``
  instead. Browsers always send one of those on a cross-site request.
- Security headers on every response, including a Content-Security-Policy that allows no
  inline script or style.

It is a plain ASGI class rather than ``BaseHTTPMiddleware``: that wrapper costs a task and a
memory stream per request, which shows on the benchmark.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import AsyncGenerator, Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette._utils import get_route_path
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser

from peregrine.settings import Settings
from peregrine.web.csrf_stream import leading_token, replaying

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSRF_COOKIE = "peregrine_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


def is_api_path(scope: Scope) -> bool:
    return get_route_path(scope).startswith("/api/")


# The Settings → Data restore form: a page, but its body is a backup archive.
RESTORE_PAGE_PATH = "/settings/data/restore"


def _is_backup_upload(scope: Scope) -> bool:
    path = str(scope["path"])
    return scope["method"] == "POST" and (
        path.endswith("/api/v1/backup") or path.endswith(RESTORE_PAGE_PATH)
    )


def csrf_token(scope: Scope) -> str:
    """The CSRF token of this request (set by the middleware); pages put it in forms."""
    state = scope.get("state") or {}
    token: str = state.get("csrf_token", "")
    return token


def host_allowed(host_header: str, allowed: tuple[str, ...]) -> bool:
    if "*" in allowed:
        return True
    host = host_header.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        name = host[: end + 1] if end != -1 else host
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return name in allowed


class BodyTooLargeError(HTTPException):
    """Raised while a route reads a body that outgrows the limit. It is an HTTPException so
    that FastAPI's body parsing passes it on as 413 instead of a generic 400."""

    def __init__(self) -> None:
        super().__init__(413, "The request body is too large.")


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.check_host = not settings.cloud
        self.max_body = settings.max_body_bytes
        # Backup archives are far larger than forms; their route streams the upload to disk
        # and counts it against its own limit.
        self.max_backup = settings.max_backup_bytes
        self.root_path = settings.root_path
        self.cookie_path = settings.root_path or "/"
        self.cookie_secure = settings.cloud

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.root_path and not scope.get("root_path"):
            # The prefix a proxy serves us under (FastAPI's own root_path is deprecated):
            # routing strips it from the path if present; links and redirects add it.
            scope["root_path"] = self.root_path
        headers = Headers(scope=scope)
        cookie_token = _cookie(headers.get("cookie", ""), CSRF_COOKIE)
        new_cookie = None
        if cookie_token is None or not _valid_token_shape(cookie_token):
            cookie_token = secrets.token_urlsafe(32)
            new_cookie = cookie_token
        scope.setdefault("state", {})["csrf_token"] = cookie_token
        send = self._with_headers(send, new_cookie=new_cookie)

        if self.check_host and not host_allowed(
            headers.get("host", ""), self.settings.allowed_hosts
        ):
            await _plain(send, 400, "This host name is not allowed (PEREGRINE_ALLOWED_HOSTS).")
            return

        limit = self.max_backup if _is_backup_upload(scope) else self.max_body
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await self._too_large(scope, send, limit)
            return

        method = scope["method"]
        if method in SAFE_METHODS:
            await self.app(scope, _limited(receive, self.max_body), send)
            return

        api = is_api_path(scope)
        if not _same_origin(headers):
            await _refuse(send, api, "Cross-site request refused.")
            return
        if api:
            await self.app(scope, _limited(receive, limit), send)
            return

        if _is_backup_upload(scope):
            # A backup archive is far too large to buffer for the token check: the form
            # sends its token as the body's first field, which is read and checked here,
            # then replayed to the route with the rest of the stream (web/csrf_stream.py).
            limited = _limited(receive, limit)
            try:
                sent, read = await leading_token(
                    headers.get("content-type", ""), limited, field=CSRF_FIELD
                )
            except BodyTooLargeError:
                await self._too_large(scope, send, limit)
                return
            sent = headers.get(CSRF_HEADER) or sent
            if not sent or not hmac.compare_digest(sent.encode(), cookie_token.encode()):
                await _refuse(
                    send,
                    api,
                    "This form has expired or did not come from Peregrine. Go back, reload "
                    "the page and try again.",
                )
                return
            await self.app(scope, replaying(read, limited), send)
            return

        # Pages: read the body (bounded) so the token is checked before the route runs, then
        # replay it to the route.
        try:
            body = await _read_body(receive, self.max_body)
        except BodyTooLargeError:
            await self._too_large(scope, send, self.max_body)
            return
        sent = headers.get(CSRF_HEADER) or await _form_token(headers, body)
        if not sent or not hmac.compare_digest(sent.encode(), cookie_token.encode()):
            await _refuse(
                send,
                api,
                "This form has expired or did not come from Peregrine. Go back, reload the "
                "page and try again.",
            )
            return
        await self.app(scope, _replay(body), send)

    async def _too_large(self, scope: Scope, send: Send, limit_bytes: int) -> None:
        limit = (
            f"{limit_bytes // (1024 * 1024)} MB"
            if limit_bytes >= 1024 * 1024
            else (f"{limit_bytes} bytes")
        )
        message = f"The upload is too large; the limit is {limit}."
        if is_api_path(scope):
            await _json(send, 413, message)
        else:
            await _plain(send, 413, message)

    def _with_headers(self, send: Send, *, new_cookie: str | None) -> Send:
        cookie_path = self.cookie_path
        secure = "; Secure" if self.cookie_secure else ""

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                present = {name.lower() for name, _ in raw}
                raw.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                if new_cookie is not None:
                    raw.append(
                        (
                            b"set-cookie",
                            f"{CSRF_COOKIE}={new_cookie}; Path={cookie_path}; HttpOnly; "
                            f"SameSite=Strict{secure}".encode(),
                        )
                    )
                message["headers"] = raw
            await send(message)

        return wrapped


def _valid_token_shape(token: str | None) -> bool:
    return bool(token) and 20 <= len(token or "") <= 100 and (token or "").isascii()


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def _same_origin(headers: Headers) -> bool:
    site = headers.get("sec-fetch-site")
    if site is not None and site not in {"same-origin", "none"}:
        return False
    origin = headers.get("origin")
    if origin is None:
        return True
    if origin == "null":
        return False
    parsed = urlsplit(origin)
    host = headers.get("host", "")
    return bool(parsed.netloc) and parsed.netloc.lower() == host.lower()


async def _form_token(headers: Headers, body: bytes) -> str | None:
    content_type = headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        try:
            values = parse_qs(body.decode("latin-1"), max_num_fields=10_000).get(CSRF_FIELD)
        except ValueError:
            return None
        return values[0] if values else None
    if content_type.startswith("multipart/form-data"):
        return await _multipart_token(headers, body)
    return None


async def _multipart_token(headers: Headers, body: bytes) -> str | None:
    async def stream() -> AsyncGenerator[bytes, None]:
        yield body

    parser = MultiPartParser(headers, stream(), max_files=100, max_fields=10_000)
    try:
        form = await parser.parse()
    except MultiPartException:
        return None
    value = form.get(CSRF_FIELD)
    await form.close()
    return value if isinstance(value, str) else None


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    done = False

    async def receive() -> Message:
        nonlocal done
        if done:
            return {"type": "http.disconnect"}
        done = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _limited(receive: Receive, limit: int) -> Receive:
    size = 0

    async def wrapped() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                raise BodyTooLargeError
        return message

    return wrapped


async def _refuse(send: Send, api: bool, message: str) -> None:
    if api:
        await _json(send, 403, message)
    else:
        await _plain(send, 403, message)


async def _json(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await _respond(send, status, body, b"application/json")


async def _plain(send: Send, status: int, message: str) -> None:
    body = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Peregrine</title>"
        f"<h1>{status}</h1><p>{message}</p></html>"
    ).encode()
    await _respond(send, status, body, b"text/html; charset=utf-8")


async def _respond(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
