"""OpenAI-compatible servers (OpenAI, vLLM, llama.cpp server, LM Studio) via ``openai``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai

from peregrine.llm.errors import BackendError
from peregrine.llm.providers.base import ChatRequest, Completion
from peregrine.llm.providers.sdk_errors import SdkErrors, translated

_ERRORS = SdkErrors(
    timeout=openai.APITimeoutError,
    status=openai.APIStatusError,
    connection=openai.APIConnectionError,
    base=openai.OpenAIError,
)


class OpenAICompatProvider:
    def __init__(self, *, base_url: str, timeout_s: float, api_key: str | None = None) -> None:
        # Local servers ignore the key but the client insists on one. Retries are off: the
        # router's fallback chain is the retry policy.
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",
            timeout=timeout_s,
            max_retries=0,
            # trust_env=False: a proxy variable must not reroute model calls.
            http_client=openai.DefaultHttpxClient(trust_env=False),
        )
        self._timeout_s = timeout_s

    @staticmethod
    def _messages(request: ChatRequest) -> list[Any]:
        messages: list[Any] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages.append({"role": "user", "content": request.prompt})
        return messages

    def list_models(self) -> list[str]:
        with translated(_ERRORS, self._timeout_s):
            return [m.id for m in self._client.models.list()]

    def complete(self, request: ChatRequest, *, model: str) -> Completion:
        extra: dict[str, Any] = {}
        if request.temperature is not None:
            extra["temperature"] = request.temperature
        with translated(_ERRORS, self._timeout_s):
            response = self._client.chat.completions.create(
                model=model,
                messages=self._messages(request),
                max_tokens=request.max_tokens,
                **extra,
            )
        if not response.choices:
            raise BackendError("answered without any choice")
        usage = response.usage
        return Completion(
            text=response.choices[0].message.content or "",
            model=response.model or model,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
        )

    def stream(self, request: ChatRequest, *, model: str) -> Iterator[str]:
        with translated(_ERRORS, self._timeout_s):
            chunks = self._client.chat.completions.create(
                model=model,
                messages=self._messages(request),
                max_tokens=request.max_tokens,
                stream=True,
            )
            for chunk in chunks:
                for choice in chunk.choices:
                    if choice.delta and choice.delta.content:
                        yield choice.delta.content

    def close(self) -> None:
        self._client.close()
