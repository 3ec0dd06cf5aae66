"""The one door to every model: fallback chains, limits, the demo block, and a record of
every call in the user's database.

Where the backends come from is wiring (``build_router``): the user's preferences in local
mode, the operator's file in cloud mode (a tenant must never choose the URL the server
connects to), and nothing at all in demo mode, where every call is refused before any
configuration is read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from peregrine.lib.clock import now_iso
from peregrine.llm.config import PREFERENCE_KEY, PURPOSES, BackendConfig, LLMConfig, parse_config
from peregrine.llm.errors import (
    Attempt,
    BackendError,
    LLMBlockedError,
    LLMConfigError,
    LLMNotConfiguredError,
    LLMUnavailableError,
)
from peregrine.llm.providers.base import ChatRequest, Completion, Provider
from peregrine.settings import Secret, Settings
from peregrine.storage.queries import llm_calls as call_q
from peregrine.storage.queries.preferences import get_preference
from peregrine.storage.userdb import UserDB

log = logging.getLogger("peregrine.llm")

DEMO_MESSAGE = (
    "AI features are switched off in the public demo. Install Peregrine yourself to use "
    "them with your own model."
)


def _provider_class(kind: str) -> Callable[..., Provider]:
    """The provider for a backend type, imported on first use: the official client
    libraries take seconds to import, which every start-up (and CLI call) would pay."""
    if kind == "ollama":
        from peregrine.llm.providers.ollama import OllamaProvider

        return OllamaProvider
    if kind == "openai_compat":
        from peregrine.llm.providers.openai_compat import OpenAICompatProvider

        return OpenAICompatProvider
    if kind == "anthropic":
        from peregrine.llm.providers.anthropic import AnthropicProvider

        return AnthropicProvider
    raise KeyError(kind)


ConfigSource = Callable[[UserDB], LLMConfig]


@dataclass(frozen=True, slots=True)
class LLMResult:
    text: str
    backend: str
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: float


def preferences_source(fallback: LLMConfig | None = None) -> ConfigSource:
    """Local mode: the user's own backends from Settings, else the operator file if any."""

    def source(db: UserDB) -> LLMConfig:
        with db.read() as conn:
            raw = get_preference(conn, key=PREFERENCE_KEY)
        if raw:
            return parse_config(raw, where="Settings → LLM backends")
        return fallback or LLMConfig()

    return source


def static_source(config: LLMConfig) -> ConfigSource:
    """Cloud mode: the operator's configuration, the same for every user."""
    return lambda _db: config


class LLMRouter:
    def __init__(
        self,
        *,
        source: ConfigSource,
        api_keys: Mapping[str, Secret] | None = None,
        blocked_reason: str | None = None,
    ) -> None:
        self._source = source
        self._api_keys = dict(api_keys or {})
        self._blocked_reason = blocked_reason
        self._providers: dict[tuple[str, str, float, str | None], Provider] = {}
        self._models: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    # -- public -----------------------------------------------------------------------------

    def complete(
        self,
        db: UserDB,
        *,
        purpose: str,
        prompt: str,
        system: str = "",
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> LLMResult:
        """Ask the first backend of ``purpose``'s chain that answers with text."""
        chain = self._chain(db, purpose)
        attempts: list[Attempt] = []
        for backend in chain:
            request = self._request(backend, prompt, system, max_tokens, temperature)
            outcome = self._complete_once(db, purpose, backend, request)
            if isinstance(outcome, LLMResult):
                return outcome
            attempts.append(outcome)
        raise LLMUnavailableError(purpose, attempts)

    def _complete_once(
        self, db: UserDB, purpose: str, backend: BackendConfig, request: ChatRequest
    ) -> LLMResult | Attempt:
        """Ask one backend: its result, or the failed attempt (already recorded)."""
        started = time.perf_counter()
        model = ""
        try:
            provider = self._provider(backend)
            model = self._model(backend, provider)
            completion = provider.complete(request, model=model)
            if not completion.text.strip():
                raise BackendError("answered with empty text")
        except BackendError as exc:
            latency = (time.perf_counter() - started) * 1000
            self._record(db, purpose, backend.name, model, None, None, latency, str(exc))
            log.info("LLM backend %s failed (%s): %s", backend.name, purpose, exc)
            return Attempt(backend.name, str(exc))
        return self._succeeded(db, purpose, backend, completion, started)

    def stream(
        self,
        db: UserDB,
        *,
        purpose: str,
        prompt: str,
        system: str = "",
        max_tokens: int | None = None,
        on_backend: Callable[[str], None] | None = None,
    ) -> Iterator[str]:
        """Yield text as it is generated. A backend that fails before its first piece
        passes to the next; once text has been shown, a failure ends the stream with an
        error (mixing two models' halves would be worse). ``on_backend`` is told which
        backend answers, before its first piece."""
        chain = self._chain(db, purpose)
        attempts: list[Attempt] = []
        for backend in chain:
            request = self._request(backend, prompt, system, max_tokens, None)
            started = time.perf_counter()
            model = ""
            produced = False
            try:
                provider = self._provider(backend)
                model = self._model(backend, provider)
                for piece in provider.stream(request, model=model):
                    if not produced and on_backend is not None:
                        on_backend(backend.name)
                    produced = True
                    yield piece
                if not produced:
                    raise BackendError("answered with empty text")
            except BackendError as exc:
                latency = (time.perf_counter() - started) * 1000
                self._record(db, purpose, backend.name, model, None, None, latency, str(exc))
                attempts.append(Attempt(backend.name, str(exc)))
                if produced:
                    raise LLMUnavailableError(purpose, attempts) from None
                continue
            latency = (time.perf_counter() - started) * 1000
            self._record(db, purpose, backend.name, model, None, None, latency, "")
            return
        raise LLMUnavailableError(purpose, attempts)

    def configured(self, db: UserDB, *, purpose: str) -> bool:
        """True when at least one enabled backend serves ``purpose`` (never calls it)."""
        if self._blocked_reason:
            return False
        try:
            return bool(self._source(db).chain(purpose))
        except LLMConfigError:
            return False

    def backend_names(self, db: UserDB) -> list[str]:
        """Names of the backends a connection test may reach (none in demo mode)."""
        if self._blocked_reason:
            return []
        try:
            return [b.name for b in self._source(db).backends]
        except LLMConfigError:
            return []

    def try_backend(self, db: UserDB, *, name: str, prompt: str, max_tokens: int = 32) -> LLMResult:
        """Send one small prompt to the named backend only (the Settings connection test).

        Only backends of this router's own source can be named, so in cloud mode a tenant
        can test the operator's backends but never make the server call a URL of theirs.
        """
        if self._blocked_reason:
            raise LLMBlockedError(self._blocked_reason)
        backend = next((b for b in self._source(db).backends if b.name == name), None)
        if backend is None:
            raise LLMNotConfiguredError(f"there is no LLM backend named {name!r}")
        request = self._request(backend, prompt, "", max_tokens, None)
        outcome = self._complete_once(db, "test", backend, request)
        if isinstance(outcome, Attempt):
            raise LLMUnavailableError("test", [outcome])
        return outcome

    def close(self) -> None:
        with self._lock:
            providers, self._providers = list(self._providers.values()), {}
        for provider in providers:
            provider.close()

    # -- internals --------------------------------------------------------------------------

    def _chain(self, db: UserDB, purpose: str) -> list[BackendConfig]:
        # The demo block comes first, before configuration is even read: no code path
        # reaches a provider in demo mode.
        if self._blocked_reason:
            raise LLMBlockedError(self._blocked_reason)
        if purpose not in PURPOSES:
            raise ValueError(f"unknown LLM purpose {purpose!r}")
        chain = self._source(db).chain(purpose)
        if not chain:
            raise LLMNotConfiguredError(
                f"no LLM backend is configured for {purpose}: add one in Settings → LLM "
                "backends (an Ollama, OpenAI-compatible or Anthropic server)"
            )
        return chain

    @staticmethod
    def _request(
        backend: BackendConfig,
        prompt: str,
        system: str,
        max_tokens: int | None,
        temperature: float | None,
    ) -> ChatRequest:
        # The backend's max_tokens is a ceiling the caller cannot exceed.
        limit = backend.max_tokens if max_tokens is None else min(max_tokens, backend.max_tokens)
        return ChatRequest(prompt=prompt, system=system, max_tokens=limit, temperature=temperature)

    def _provider(self, backend: BackendConfig) -> Provider:
        api_key: str | None = None
        if backend.api_key_env:
            secret = self._api_keys.get(backend.api_key_env)
            if secret is None:
                raise BackendError(
                    f"its API key variable {backend.api_key_env} is not set or not allowed "
                    "(see LLM_API_KEY_VARIABLES)"
                )
            api_key = secret.reveal()
        # Providers are cached: building an HTTP client per call would cost more than the
        # router's whole budget. The key is part of the cache key, never logged.
        cache_key = (backend.type, backend.base_url, backend.timeout_s, api_key)
        with self._lock:
            provider = self._providers.get(cache_key)
            if provider is None:
                provider = _provider_class(backend.type)(
                    base_url=backend.base_url, timeout_s=backend.timeout_s, api_key=api_key
                )
                self._providers[cache_key] = provider
        return provider

    def _succeeded(
        self,
        db: UserDB,
        purpose: str,
        backend: BackendConfig,
        completion: Completion,
        started: float,
    ) -> LLMResult:
        """Record a successful call and turn it into the caller's result."""
        latency = (time.perf_counter() - started) * 1000
        self._record(
            db,
            purpose,
            backend.name,
            completion.model,
            completion.prompt_tokens,
            completion.completion_tokens,
            latency,
            "",
        )
        return LLMResult(
            text=completion.text,
            backend=backend.name,
            model=completion.model,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            latency_ms=latency,
        )

    def _model(self, backend: BackendConfig, provider: Provider) -> str:
        if backend.model != "auto":
            return backend.model
        key = (backend.type, backend.base_url)
        with self._lock:
            cached = self._models.get(key)
        if cached:
            return cached
        models = provider.list_models()
        if not models:
            raise BackendError("model is 'auto' but the server lists no models")
        with self._lock:
            self._models[key] = models[0]
        return models[0]

    @staticmethod
    def _record(
        db: UserDB,
        purpose: str,
        backend: str,
        model: str,
        prompt_tokens: int | None,
        completion_tokens: int | None,
        latency_ms: float,
        error: str,
    ) -> None:
        try:
            with db.write() as conn:
                call_q.record_call(
                    conn,
                    at=now_iso(),
                    purpose=purpose,
                    backend=backend,
                    model=model,
                    prompt_tokens=prompt_tokens,
                    completion_tokens=completion_tokens,
                    latency_ms=latency_ms,
                    error=error,
                )
        except Exception:
            # Bookkeeping must never cost the user the answer they waited for.
            log.exception("cannot record an LLM call")


def build_router(settings: Settings) -> LLMRouter:
    """Wire the router for the mode."""
    if settings.demo:
        return LLMRouter(source=static_source(LLMConfig()), blocked_reason=DEMO_MESSAGE)
    from peregrine.llm.config import load_config_file

    file_config = (
        load_config_file(settings.llm_backends_file) if settings.llm_backends_file else None
    )
    if settings.cloud:
        source = static_source(file_config or LLMConfig())
    else:
        source = preferences_source(file_config)
    return LLMRouter(source=source, api_keys=settings.llm_api_keys)
