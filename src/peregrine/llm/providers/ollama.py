"""Ollama's native API (``/api/chat``, ``/api/tags``) over httpx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from peregrine.llm.errors import BackendError
from peregrine.llm.providers.base import ChatRequest, Completion


class OllamaProvider:
    def __init__(self, *, base_url: str, timeout_s: float, api_key: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # trust_env=False: a proxy variable in the environment must not reroute model calls.
        self._client = httpx.Client(
            base_url=base_url, timeout=timeout_s, headers=headers, trust_env=False
        )
        self._timeout_s = timeout_s

    def _body(self, request: ChatRequest, model: str, *, stream: bool) -> dict[str, Any]:
        messages = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages.append({"role": "user", "content": request.prompt})
        options: dict[str, Any] = {"num_predict": request.max_tokens}
        if request.temperature is not None:
            options["temperature"] = request.temperature
        return {"model": model, "messages": messages, "stream": stream, "options": options}

    def list_models(self) -> list[str]:
        data = self._json(self._call("GET", "/api/tags"))
        return [m["name"] for m in data.get("models", []) if isinstance(m, dict) and m.get("name")]

    def complete(self, request: ChatRequest, *, model: str) -> Completion:
        response = self._call("POST", "/api/chat", json=self._body(request, model, stream=False))
        data = self._json(response)
        message = data.get("message") or {}
        return Completion(
            text=str(message.get("content") or ""),
            model=str(data.get("model") or model),
            prompt_tokens=data.get("prompt_eval_count"),
            completion_tokens=data.get("eval_count"),
        )

    def stream(self, request: ChatRequest, *, model: str) -> Iterator[str]:
        body = self._body(request, model, stream=True)
        try:
            with self._client.stream("POST", "/api/chat", json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    raise BackendError(_status_message(response))
                for line in response.iter_lines():
                    if not line.strip():
                        continue
                    piece = json.loads(line)
                    if piece.get("error"):
                        raise BackendError(str(piece["error"])[:300])
                    text = (piece.get("message") or {}).get("content") or ""
                    if text:
                        yield text
                    if piece.get("done"):
                        return
        except httpx.TimeoutException:
            raise BackendError(f"timed out after {self._timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise BackendError(f"cannot reach the server ({type(exc).__name__})") from None
        except ValueError:
            raise BackendError("sent a stream that is not Ollama's JSON lines") from None

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise BackendError(f"timed out after {self._timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise BackendError(f"cannot reach the server ({type(exc).__name__})") from None
        if response.status_code >= 400:
            raise BackendError(_status_message(response))
        return response

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            raise BackendError("answered with something that is not JSON") from None
        if not isinstance(data, dict):
            raise BackendError("answered with unexpected JSON")
        return data


def _status_message(response: httpx.Response) -> str:
    try:
        detail = str(response.json().get("error", ""))
    except (ValueError, AttributeError):
        detail = response.text
    return f"HTTP {response.status_code}: {detail[:300]}".rstrip(": ")
