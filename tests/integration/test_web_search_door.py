"""Web search goes through the outbound door: the configured SearXNG instance is the only
private address it may reach."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from peregrine.services import web_search


class Redirector:
    """A loopback 'SearXNG' that redirects every search to another loopback port."""

    def __init__(self, target: str) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Internal:
    """An internal service mallory would like the server to reach."""

    def __init__(self) -> None:
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer.hits += 1
                raw = b'{"results": [{"title": "secret", "url": "https://x.example"}]}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def internal() -> Iterator[Internal]:
    server = Internal()
    yield server
    server.stop()


def test_the_configured_instance_is_reachable_on_loopback(internal: Internal) -> None:
    hits = web_search.search(internal.url, "Hydra Energy")
    assert [h.title for h in hits] == ["secret"]
    assert internal.hits == 1


def test_a_redirect_to_another_private_address_is_refused(internal: Internal) -> None:
    redirector = Redirector(f"{internal.url}/search?q=x")
    try:
        assert web_search.search(redirector.url, "Hydra Energy") == []
    finally:
        redirector.stop()
    assert internal.hits == 0


def test_only_the_configured_host_and_port_are_allowed() -> None:
    assert web_search.allowed_instance("http://127.0.0.1:8888") == {"127.0.0.1:8888"}
    assert web_search.allowed_instance("https://Search.Local") == {"search.local:443"}
    assert web_search.allowed_instance("file:///etc/passwd") == frozenset()
