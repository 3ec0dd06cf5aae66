"""What every provider offers the router."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ChatRequest:
    prompt: str
    system: str = ""
    max_tokens: int = 1024
    temperature: float | None = None


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class Provider(Protocol):
    """Talks to one configured backend. Failures raise ``BackendError`` with a short
    message (never the API key); the router turns them into the next attempt."""

    def list_models(self) -> list[str]: ...

    def complete(self, request: ChatRequest, *, model: str) -> Completion: ...

    def stream(self, request: ChatRequest, *, model: str) -> Iterator[str]: ...

    def close(self) -> None: ...
