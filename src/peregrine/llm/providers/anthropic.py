"""Anthropic's Messages API via the official ``anthropic`` client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic

from peregrine.llm.providers.base import ChatRequest, Completion
from peregrine.llm.providers.sdk_errors import SdkErrors, translated

_ERRORS = SdkErrors(
    timeout=anthropic.APITimeoutError,
    status=anthropic.APIStatusError,
    connection=anthropic.APIConnectionError,
    base=anthropic.AnthropicError,
)


class AnthropicProvider:
    def __init__(self, *, base_url: str, timeout_s: float, api_key: str | None = None) -> None:
        self._client = anthropic.Anthropic(
            base_url=base_url,
            api_key=api_key or "not-set",
            timeout=timeout_s,
            max_retries=0,
            # trust_env=False: a proxy variable must not reroute model calls.
            http_client=anthropic.DefaultHttpxClient(trust_env=False),
        )
        self._timeout_s = timeout_s

    @staticmethod
    def _args(request: ChatRequest, model: str) -> dict[str, Any]:
        args: dict[str, Any] = {
            "model": model,
            "max_tokens": request.max_tokens,
            "messages": [{"role": "user", "content": request.prompt}],
        }
        if request.system:
            args["system"] = request.system
        if request.temperature is not None:
            args["temperature"] = request.temperature
        return args

    def list_models(self) -> list[str]:
        with translated(_ERRORS, self._timeout_s):
            return [m.id for m in self._client.models.list()]

    def complete(self, request: ChatRequest, *, model: str) -> Completion:
        with translated(_ERRORS, self._timeout_s):
            message = self._client.messages.create(**self._args(request, model))
        text = "".join(
            block.text for block in message.content if getattr(block, "type", "") == "text"
        )
        return Completion(
            text=text,
            model=message.model or model,
            prompt_tokens=message.usage.input_tokens if message.usage else None,
            completion_tokens=message.usage.output_tokens if message.usage else None,
        )

    def stream(self, request: ChatRequest, *, model: str) -> Iterator[str]:
        with (
            translated(_ERRORS, self._timeout_s),
            self._client.messages.stream(**self._args(request, model)) as stream,
        ):
            yield from stream.text_stream

    def close(self) -> None:
        self._client.close()
