"""Errors of the LLM door, each with a message a person can act on."""

from __future__ import annotations

from dataclasses import dataclass

SETTINGS_LINK = "/settings#llm"


class LLMError(Exception):
    """Base of every error the router raises."""


class LLMConfigError(LLMError):
    """The backend configuration is malformed; the message says where."""


class LLMNotConfiguredError(LLMError):
    """No enabled backend serves this purpose. The UI links to ``settings_link``."""

    settings_link = SETTINGS_LINK


class LLMBlockedError(LLMError):
    """Model calls are switched off here (the public demo)."""


class BackendError(LLMError):
    """One backend failed; the router moves on to the next."""


@dataclass(frozen=True)
class Attempt:
    backend: str
    error: str


class LLMUnavailableError(LLMError):
    """Every backend in the chain failed; ``attempts`` says what each one said."""

    def __init__(self, purpose: str, attempts: list[Attempt]) -> None:
        self.purpose = purpose
        self.attempts = attempts
        said = "; ".join(f"{a.backend}: {a.error}" for a in attempts)
        super().__init__(f"no LLM backend could answer ({purpose}): {said}")
