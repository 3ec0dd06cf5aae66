"""LLM backend configuration: its JSON shape, strict parsing, and where it comes from.

The same shape is stored in the user's ``preferences['llm_backends']`` (local mode, written
by the Settings page) and in the operator's ``LLM_BACKENDS_FILE`` (cloud mode). docs/llm.md
documents it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from peregrine.llm.errors import LLMConfigError

BackendType = Literal["ollama", "openai_compat", "anthropic"]
BACKEND_TYPES: tuple[str, ...] = ("ollama", "openai_compat", "anthropic")
PURPOSES: tuple[str, ...] = ("writing", "research", "classification")
PREFERENCE_KEY = "llm_backends"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,49}")
_ENV = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_FIELDS = {"name", "type", "enabled", "base_url", "model", "api_key_env", "timeout_s", "max_tokens"}


@dataclass(frozen=True, slots=True)
class BackendConfig:
    name: str
    type: BackendType
    base_url: str
    model: str = "auto"
    enabled: bool = True
    api_key_env: str | None = None
    timeout_s: float = 60.0
    max_tokens: int = 1024


@dataclass(frozen=True, slots=True)
class LLMConfig:
    backends: tuple[BackendConfig, ...] = ()
    chains: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def chain(self, purpose: str) -> list[BackendConfig]:
        """Enabled backends for ``purpose`` in fallback order. A purpose without its own
        chain uses every enabled backend in the order they are listed."""
        by_name = {b.name: b for b in self.backends}
        names = self.chains.get(purpose) or tuple(b.name for b in self.backends)
        return [by_name[n] for n in names if n in by_name and by_name[n].enabled]


def parse_config(data: Any, *, where: str = "LLM configuration") -> LLMConfig:
    """Validate the documented shape; raise ``LLMConfigError`` naming the bad field."""
    if data is None:
        return LLMConfig()
    if not isinstance(data, dict):
        raise LLMConfigError(f"{where}: expected an object with 'backends' and 'chains'")
    raw_backends = data.get("backends", [])
    if not isinstance(raw_backends, list):
        raise LLMConfigError(f"{where}: 'backends' must be a list")
    backends: list[BackendConfig] = []
    for index, raw in enumerate(raw_backends):
        backends.append(_backend(raw, f"{where}: backends[{index}]"))
    names = [b.name for b in backends]
    if len(set(names)) != len(names):
        raise LLMConfigError(f"{where}: backend names must be unique")
    raw_chains = data.get("chains", {}) or {}
    if not isinstance(raw_chains, dict):
        raise LLMConfigError(f"{where}: 'chains' must map a purpose to a list of backend names")
    chains: dict[str, tuple[str, ...]] = {}
    for purpose, chain in raw_chains.items():
        if purpose not in PURPOSES:
            raise LLMConfigError(
                f"{where}: unknown purpose {purpose!r} (use {', '.join(PURPOSES)})"
            )
        if not isinstance(chain, list) or not all(isinstance(n, str) for n in chain):
            raise LLMConfigError(f"{where}: chains.{purpose} must be a list of backend names")
        unknown = [n for n in chain if n not in names]
        if unknown:
            raise LLMConfigError(f"{where}: chains.{purpose} names unknown backend(s) {unknown}")
        chains[purpose] = tuple(chain)
    return LLMConfig(backends=tuple(backends), chains=chains)


def _backend(raw: Any, where: str) -> BackendConfig:
    if not isinstance(raw, dict):
        raise LLMConfigError(f"{where} must be an object")
    extra = set(raw) - _FIELDS
    if extra:
        raise LLMConfigError(f"{where}: unknown field(s) {sorted(extra)}")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise LLMConfigError(f"{where}.name must be 1-50 letters, digits, '.', '_' or '-'")
    kind = raw.get("type")
    if kind not in BACKEND_TYPES:
        raise LLMConfigError(f"{where}.type must be one of {', '.join(BACKEND_TYPES)}")
    base_url = raw.get("base_url")
    if not isinstance(base_url, str) or not re.fullmatch(r"https?://[^\s]+", base_url):
        raise LLMConfigError(f"{where}.base_url must be an http(s) URL")
    model = raw.get("model", "auto")
    if not isinstance(model, str) or not model.strip() or len(model) > 200:
        raise LLMConfigError(f"{where}.model must be a model name or 'auto'")
    key_env = raw.get("api_key_env")
    if key_env is not None and (not isinstance(key_env, str) or not _ENV.fullmatch(key_env)):
        raise LLMConfigError(f"{where}.api_key_env must be an environment variable name")
    timeout = raw.get("timeout_s", 60)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 600:
        raise LLMConfigError(f"{where}.timeout_s must be a number of seconds in (0, 600]")
    max_tokens = raw.get("max_tokens", 1024)
    if (
        isinstance(max_tokens, bool)
        or not isinstance(max_tokens, int)
        or not 1 <= max_tokens <= 200_000
    ):
        raise LLMConfigError(f"{where}.max_tokens must be a whole number from 1 to 200000")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise LLMConfigError(f"{where}.enabled must be true or false")
    return BackendConfig(
        name=name,
        type=kind,
        base_url=base_url.rstrip("/"),
        model=model.strip(),
        enabled=enabled,
        api_key_env=key_env,
        timeout_s=float(timeout),
        max_tokens=max_tokens,
    )


def load_config_file(path: Path) -> LLMConfig:
    """Read the operator's file (JSON, or YAML by extension)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LLMConfigError(
            f"LLM_BACKENDS_FILE {path.name}: cannot read ({exc.strerror})"
        ) from None
    try:
        data = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise LLMConfigError(f"LLM_BACKENDS_FILE {path.name} is not valid: {exc}") from None
    return parse_config(data, where=f"LLM_BACKENDS_FILE {path.name}")
