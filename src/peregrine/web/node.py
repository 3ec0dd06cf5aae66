"""Which node served a request, and the cookie that pins a user to one node.

- ``X-Peregrine-Node`` on every response when PEREGRINE_NODE_NAME is set, so an operator
  (and the scale-out test) can tell the nodes behind Caddy apart.
- Cloud mode: once a request is signed in, a ``peregrine_route`` cookie carries a value
  derived from the user id with the server secret (HMAC, so the cookie neither reveals the
  id nor can be computed for another user without the secret). Caddy hashes that value to
  pick the upstream (``lb_policy header`` over a copy of the cookie; see
  docs/cloud-deployment.md), so every browser of one user reaches the same node, which
  keeps that user's SQLite writers in one process. A forged cookie only moves the forger's
  own requests: identity still comes from the session token alone.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from peregrine.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ROUTE_COOKIE = "peregrine_route"
_ROUTE_IN_COOKIES = re.compile(rb"(?:^|;)\s*" + ROUTE_COOKIE.encode() + rb"=([0-9a-f]{1,64})")
_ROUTE_MAX_AGE = 30 * 24 * 3600
_VALUES_MAX = 65_536


def route_value(secret: bytes, user_id: str) -> str:
    return hmac.new(secret, b"peregrine-route\x00" + user_id.encode(), hashlib.sha256).hexdigest()[
        :24
    ]


class NodeMiddleware:
    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.node = settings.node_name.encode() if settings.node_name else None
        secret = settings.cf_server_secret
        self.route_secret = secret.reveal().encode() if settings.cloud and secret else None
        self.cookie_path = (settings.root_path or "/").encode()
        # Route values by user id: an HMAC per request was a tenth of a cached page's cost.
        self._values: dict[str, str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.node is None and self.route_secret is None):
            await self.app(scope, receive, send)
            return

        async def send_with_node(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if self.node is not None:
                    headers.append((b"x-peregrine-node", self.node))
                cookie = self._route_cookie(scope)
                if cookie is not None:
                    headers.append((b"set-cookie", cookie))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_node)

    def _route_cookie(self, scope: Scope) -> bytes | None:
        if self.route_secret is None:
            return None
        user_id = scope.get("state", {}).get("user_id")
        if not isinstance(user_id, str):
            return None
        wanted = self._values.get(user_id)
        if wanted is None:
            if len(self._values) >= _VALUES_MAX:
                self._values.clear()
            wanted = self._values[user_id] = route_value(self.route_secret, user_id)
        for name, value in scope.get("headers", []):
            if name in (b"cookie", b"x-cf-session"):
                found = _ROUTE_IN_COOKIES.search(value)
                if found and found.group(1).decode() == wanted:
                    return None
        return (
            f"{ROUTE_COOKIE}={wanted}; Path={self.cookie_path.decode()}; "
            f"Max-Age={_ROUTE_MAX_AGE}; HttpOnly; Secure; SameSite=Lax"
        ).encode()
