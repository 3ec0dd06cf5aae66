"""Loopback servers that speak Ollama's, OpenAI's and Anthropic's HTTP APIs.

They replay responses shaped like recorded ones, so the product's real clients (httpx, the
``openai`` and ``anthropic`` libraries) run unchanged. Each server records the requests it
received, and can be made slow, failing or empty.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Behaviour:
    text: str = "Hello from the model."
    models: list[str] = field(default_factory=lambda: ["tiny-model:latest", "other"])
    delay_s: float = 0.0
    fail_status: int | None = None
    fail_message: str = "model is overloaded"
    prompt_tokens: int = 21
    completion_tokens: int = 7


class FakeLLMServer:
    def __init__(self, flavour: str) -> None:
        assert flavour in ("ollama", "openai_compat", "anthropic")
        self.flavour = flavour
        self.behaviour = Behaviour()
        self.requests: list[Received] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:
                server._handle(self, "GET")

            def do_POST(self) -> None:
                server._handle(self, "POST")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        base = f"http://{host}:{port}"
        return base + "/v1" if self.flavour == "openai_compat" else base

    def start(self) -> FakeLLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- request handling -------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else {}
        self.requests.append(Received(method, h.path, dict(h.headers), body))
        b = self.behaviour
        if b.delay_s:
            time.sleep(b.delay_s)
        if b.fail_status:
            self._send_json(h, b.fail_status, self._error_body(b.fail_message))
            return
        path = h.path.split("?")[0]
        if method == "GET" and path in ("/api/tags", "/v1/models"):
            self._send_json(h, 200, self._models_body())
            return
        if method == "POST" and path in ("/api/chat", "/v1/chat/completions", "/v1/messages"):
            if body.get("stream"):
                self._stream(h, body)
            else:
                self._send_json(h, 200, self._completion_body(body))
            return
        self._send_json(h, 404, self._error_body(f"no route {path}"))

    def _error_body(self, message: str) -> dict[str, Any]:
        if self.flavour == "ollama":
            return {"error": message}
        if self.flavour == "anthropic":
            return {"type": "error", "error": {"type": "overloaded_error", "message": message}}
        return {"error": {"message": message, "type": "server_error", "code": None}}

    def _models_body(self) -> dict[str, Any]:
        models = self.behaviour.models
        if self.flavour == "ollama":
            return {"models": [{"name": m, "model": m, "size": 1} for m in models]}
        if self.flavour == "anthropic":
            return {
                "data": [
                    {
                        "id": m,
                        "type": "model",
                        "display_name": m,
                        "created_at": "2026-01-01T00:00:00Z",
                    }
                    for m in models
                ],
                "has_more": False,
                "first_id": models[0] if models else None,
                "last_id": models[-1] if models else None,
            }
        return {
            "object": "list",
            "data": [{"id": m, "object": "model", "owned_by": "me", "created": 0} for m in models],
        }

    def _completion_body(self, body: dict[str, Any]) -> dict[str, Any]:
        b = self.behaviour
        model = body.get("model", "")
        if self.flavour == "ollama":
            return {
                "model": model,
                "created_at": "2026-11-27T10:00:00Z",
                "message": {"role": "assistant", "content": b.text},
                "done": True,
                "done_reason": "stop",
                "prompt_eval_count": b.prompt_tokens,
                "eval_count": b.completion_tokens,
            }
        if self.flavour == "anthropic":
            return {
                "id": "msg_01",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": b.text}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": b.prompt_tokens, "output_tokens": b.completion_tokens},
            }
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1764237600,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": b.text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": b.prompt_tokens,
                "completion_tokens": b.completion_tokens,
                "total_tokens": b.prompt_tokens + b.completion_tokens,
            },
        }

    def _pieces(self) -> list[str]:
        words = self.behaviour.text.split(" ")
        return [w if i == 0 else " " + w for i, w in enumerate(words)]

    def _stream(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        model = body.get("model", "")
        h.send_response(200)
        if self.flavour == "ollama":
            h.send_header("Content-Type", "application/x-ndjson")
        else:
            h.send_header("Content-Type", "text/event-stream")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()

        def chunk(data: str) -> None:
            raw = data.encode()
            h.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
            h.wfile.flush()

        pieces = self._pieces()
        if self.flavour == "ollama":
            for p in pieces:
                chunk(
                    json.dumps(
                        {
                            "model": model,
                            "message": {"role": "assistant", "content": p},
                            "done": False,
                        }
                    )
                    + "\n"
                )
            chunk(
                json.dumps(
                    {
                        "model": model,
                        "message": {"role": "assistant", "content": ""},
                        "done": True,
                        "prompt_eval_count": 3,
                        "eval_count": len(pieces),
                    }
                )
                + "\n"
            )
        elif self.flavour == "openai_compat":
            for p in pieces:
                event = {
                    "id": "chatcmpl-1",
                    "object": "chat.completion.chunk",
                    "created": 1764237600,
                    "model": model,
                    "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}],
                }
                chunk(f"data: {json.dumps(event)}\n\n")
            chunk("data: [DONE]\n\n")
        else:

            def event(name: str, data: dict[str, Any]) -> None:
                chunk(f"event: {name}\ndata: {json.dumps(data)}\n\n")

            event(
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": "msg_01",
                        "type": "message",
                        "role": "assistant",
                        "model": model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {"input_tokens": 3, "output_tokens": 1},
                    },
                },
            )
            event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            for p in pieces:
                event(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": p},
                    },
                )
            event("content_block_stop", {"type": "content_block_stop", "index": 0})
            event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": len(pieces)},
                },
            )
            event("message_stop", {"type": "message_stop"})
        h.wfile.write(b"0\r\n\r\n")
        h.wfile.flush()

    @staticmethod
    def _send_json(h: BaseHTTPRequestHandler, status: int, data: dict[str, Any]) -> None:
        raw = json.dumps(data).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(raw)))
        h.end_headers()
        h.wfile.write(raw)

    def chat_requests(self) -> list[Received]:
        return [r for r in self.requests if r.method == "POST"]


@contextmanager
def fake_llm(flavour: str) -> Iterator[FakeLLMServer]:
    server = FakeLLMServer(flavour).start()
    try:
        yield server
    finally:
        server.stop()


def backend_entry(server: FakeLLMServer, name: str, **extra: Any) -> dict[str, Any]:
    """A backend in the documented configuration shape, pointing at ``server``."""
    return {"name": name, "type": server.flavour, "base_url": server.url, **extra}
