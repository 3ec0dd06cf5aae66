"""A real HTTP server on loopback that replays recorded responses, for tests of real clients.

Routes map a path (query string ignored unless the route includes one) to a status, headers
and a body, or to a callable building them. Every request is recorded, so tests can check
what reached the server — and that a canary server received nothing at all.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

FIXTURES = Path(__file__).parent / "fixtures" / "sources"

Reply = tuple[int, dict[str, str], bytes]
Route = Reply | Callable[["Seen"], Reply]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def json_reply(name: str, status: int = 200) -> Reply:
    return (status, {"Content-Type": "application/json"}, fixture(name))


def html_reply(body: bytes | str, status: int = 200) -> Reply:
    data = body.encode() if isinstance(body, str) else body
    return (status, {"Content-Type": "text/html; charset=utf-8"}, data)


@dataclass(frozen=True)
class Seen:
    path: str
    query: str
    headers: dict[str, str]


@dataclass
class ReplayServer:
    routes: dict[str, Route] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host_port(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def reply(self, request: Seen) -> Reply:
        route = self.routes.get(f"{request.path}?{request.query}") or self.routes.get(request.path)
        if route is None:
            return (404, {"Content-Type": "application/json"}, b'{"error": "not found"}')
        return route(request) if callable(route) else route


@contextmanager
def serve(routes: dict[str, Route] | None = None) -> Iterator[ReplayServer]:
    state = ReplayServer(routes=dict(routes or {}))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            request = Seen(parts.path, parts.query, {k.lower(): v for k, v in self.headers.items()})
            state.seen.append(request)
            status, headers, body = state.reply(request)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
