"""Settings for the LLM door and the task workers."""

from __future__ import annotations

from pathlib import Path

import pytest

from peregrine.settings import Secret, Settings, SettingsError


def test_api_keys_are_read_only_from_allowed_variables(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("sk-from-file\n")
    settings = Settings.from_env(
        {
            "LLM_API_KEY_VARIABLES": "OPENAI_API_KEY, GROQ_API_KEY",
            "OPENAI_API_KEY": "sk-direct",
            "GROQ_API_KEY_FILE": str(key_file),
            "ANTHROPIC_API_KEY": "not-listed",
        }
    )
    assert settings.llm_api_keys == {
        "OPENAI_API_KEY": Secret("sk-direct"),
        "GROQ_API_KEY": Secret("sk-from-file"),
    }
    assert "sk-direct" not in repr(settings)


def test_peregrine_secrets_cannot_be_listed_as_api_key_variables() -> None:
    with pytest.raises(SettingsError, match="LLM_API_KEY_VARIABLES: 'CF_SERVER_SECRET'"):
        Settings.from_env({"LLM_API_KEY_VARIABLES": "CF_SERVER_SECRET"})
    with pytest.raises(SettingsError, match="not allowed"):
        Settings.from_env({"LLM_API_KEY_VARIABLES": "lower_case"})


def test_task_workers_and_searxng_url_are_checked() -> None:
    assert Settings.from_env({}).task_workers == 2
    with pytest.raises(SettingsError, match="PEREGRINE_TASK_WORKERS must be between 1 and 16"):
        Settings.from_env({"PEREGRINE_TASK_WORKERS": "0"})
    with pytest.raises(SettingsError, match="SEARXNG_URL must be an http"):
        Settings.from_env({"SEARXNG_URL": "file:///etc/passwd"})
    assert Settings.from_env({"SEARXNG_URL": "http://127.0.0.1:8888/"}).searxng_url == (
        "http://127.0.0.1:8888"
    )
