"""The router's policy: fallback order, the demo block, configuration sources and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from peregrine.lib.clock import now_iso
from peregrine.llm.config import PREFERENCE_KEY, parse_config
from peregrine.llm.errors import (
    LLMBlockedError,
    LLMConfigError,
    LLMNotConfiguredError,
    LLMUnavailableError,
)
from peregrine.llm.router import build_router
from peregrine.settings import Settings
from peregrine.storage.queries.preferences import set_preference
from peregrine.storage.userdb import UserDB
from tests.support.llm_servers import backend_entry, fake_llm


def save_backends(db: UserDB, config: dict[str, object]) -> None:
    with db.write() as conn:
        set_preference(conn, key=PREFERENCE_KEY, value=config)


def local(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"PEREGRINE_DATA_DIR": str(tmp_path / "data"), **env})


def test_a_failing_backend_passes_to_the_next_in_chain_order(tmp_path: Path, db: UserDB) -> None:
    with (
        fake_llm("ollama") as broken,
        fake_llm("openai_compat") as good,
        fake_llm("anthropic") as never,
    ):
        broken.behaviour.fail_status = 500
        save_backends(
            db,
            {
                "backends": [
                    backend_entry(never, "claude", model="m"),
                    backend_entry(good, "vllm", model="m"),
                    backend_entry(broken, "ollama", model="m"),
                ],
                "chains": {"writing": ["ollama", "vllm", "claude"]},
            },
        )
        router = build_router(local(tmp_path))
        result = router.complete(db, purpose="writing", prompt="hi")
        router.close()
    assert result.backend == "vllm"
    assert len(broken.chat_requests()) == 1
    assert never.requests == []
    rows = db.execute("SELECT backend, ok FROM llm_calls ORDER BY id")
    assert [tuple(r) for r in rows] == [("ollama", 0), ("vllm", 1)]


def test_a_timing_out_backend_passes_to_the_next(tmp_path: Path, db: UserDB) -> None:
    with fake_llm("ollama") as slow, fake_llm("ollama") as fast:
        slow.behaviour.delay_s = 1.0
        fast.behaviour.text = "fast answer"
        save_backends(
            db,
            {
                "backends": [
                    backend_entry(slow, "slow", model="m", timeout_s=0.2),
                    backend_entry(fast, "fast", model="m"),
                ]
            },
        )
        router = build_router(local(tmp_path))
        result = router.complete(db, purpose="research", prompt="hi")
        router.close()
    assert (result.backend, result.text) == ("fast", "fast answer")


def test_empty_model_text_counts_as_a_failure(tmp_path: Path, db: UserDB) -> None:
    with fake_llm("openai_compat") as empty, fake_llm("anthropic") as good:
        empty.behaviour.text = "   "
        save_backends(
            db,
            {
                "backends": [
                    backend_entry(empty, "e", model="m"),
                    backend_entry(good, "g", model="m"),
                ]
            },
        )
        router = build_router(local(tmp_path))
        assert router.complete(db, purpose="writing", prompt="hi").backend == "g"
        router.close()


def test_when_all_fail_the_error_lists_what_each_said(tmp_path: Path, db: UserDB) -> None:
    with fake_llm("ollama") as one, fake_llm("anthropic") as two:
        one.behaviour.fail_status = 404
        one.behaviour.fail_message = "model 'm' not found"
        two.behaviour.delay_s = 1.0
        save_backends(
            db,
            {
                "backends": [
                    backend_entry(one, "home-ollama", model="m"),
                    backend_entry(two, "claude", model="m", timeout_s=0.2),
                ]
            },
        )
        router = build_router(local(tmp_path))
        with pytest.raises(LLMUnavailableError) as caught:
            router.complete(db, purpose="writing", prompt="hi")
        router.close()
    message = str(caught.value)
    assert "home-ollama: HTTP 404: model 'm' not found" in message
    assert "claude: timed out after 0.2 s" in message
    assert [a.backend for a in caught.value.attempts] == ["home-ollama", "claude"]


def test_disabled_backends_are_skipped(tmp_path: Path, db: UserDB) -> None:
    with fake_llm("ollama") as off, fake_llm("ollama") as on:
        save_backends(
            db,
            {
                "backends": [
                    backend_entry(off, "off", model="m", enabled=False),
                    backend_entry(on, "on", model="m"),
                ]
            },
        )
        router = build_router(local(tmp_path))
        assert router.complete(db, purpose="classification", prompt="hi").backend == "on"
        router.close()
    assert off.requests == []


def test_demo_mode_blocks_every_call_before_any_request(tmp_path: Path, db: UserDB) -> None:
    with fake_llm("openai_compat") as server:
        save_backends(db, {"backends": [backend_entry(server, "main", model="m")]})
        config_file = tmp_path / "llm.json"
        config_file.write_text(json.dumps({"backends": [backend_entry(server, "op", model="m")]}))
        router = build_router(local(tmp_path, DEMO_MODE="true", LLM_BACKENDS_FILE=str(config_file)))
        with pytest.raises(LLMBlockedError, match="switched off in the public demo"):
            router.complete(db, purpose="writing", prompt="hi")
        with pytest.raises(LLMBlockedError):
            list(router.stream(db, purpose="writing", prompt="hi"))
        assert router.configured(db, purpose="writing") is False
        router.close()
    assert server.requests == []
    assert db.execute("SELECT count(*) FROM llm_calls")[0][0] == 0


def test_no_backend_gives_an_error_pointing_to_settings(tmp_path: Path, db: UserDB) -> None:
    router = build_router(local(tmp_path))
    with pytest.raises(LLMNotConfiguredError, match="Settings → LLM backends") as caught:
        router.complete(db, purpose="writing", prompt="hi")
    assert caught.value.settings_link == "/settings#llm"


def test_cloud_mode_ignores_backends_a_tenant_stored(tmp_path: Path, db: UserDB) -> None:
    with fake_llm("ollama") as tenant_target, fake_llm("ollama") as operator:
        save_backends(db, {"backends": [backend_entry(tenant_target, "mine", model="m")]})
        config_file = tmp_path / "llm.yaml"
        config_file.write_text(
            f"backends:\n  - name: operator\n    type: ollama\n    base_url: {operator.url}\n"
            "    model: m\n"
        )
        secret = "k" * 40
        settings = Settings.from_env(
            {
                "CLOUD_MODE": "true",
                "DIRECTUS_JWT_SECRET": secret,
                "CF_SERVER_SECRET": "s" * 40,
                "LLM_BACKENDS_FILE": str(config_file),
            }
        )
        router = build_router(settings)
        assert router.complete(db, purpose="writing", prompt="hi").backend == "operator"
        router.close()
    assert tenant_target.requests == []


@pytest.mark.parametrize(
    ("config", "complaint"),
    [
        ({"backends": "no"}, "'backends' must be a list"),
        ({"backends": [{"name": "a", "type": "gpt", "base_url": "http://x"}]}, "type must be"),
        ({"backends": [{"name": "a", "type": "ollama", "base_url": "file:///etc"}]}, "base_url"),
        (
            {
                "backends": [
                    {"name": "a", "type": "ollama", "base_url": "http://x", "max_tokens": 0}
                ]
            },
            "max_tokens",
        ),
        ({"backends": [], "chains": {"poetry": []}}, "unknown purpose"),
        ({"backends": [], "chains": {"writing": ["ghost"]}}, "unknown backend"),
    ],
)
def test_malformed_configuration_is_refused_with_the_field_named(
    config: dict[str, object], complaint: str
) -> None:
    with pytest.raises(LLMConfigError, match=complaint):
        parse_config(config)


def test_usage_is_recorded_with_latency(tmp_path: Path, db: UserDB) -> None:
    from peregrine.storage.queries.llm_calls import usage_summary

    with fake_llm("ollama") as server:
        save_backends(db, {"backends": [backend_entry(server, "main", model="m")]})
        router = build_router(local(tmp_path))
        for _ in range(3):
            router.complete(db, purpose="writing", prompt="hi")
        router.close()
    with db.read() as conn:
        summary = usage_summary(conn, since="2000-01-01")
    assert summary[0]["calls"] == 3
    assert summary[0]["prompt_tokens"] == 63
    assert summary[0]["avg_latency_ms"] > 0
    assert summary[0]["last_call_at"] <= now_iso()


def test_an_unreachable_backend_passes_to_the_next(tmp_path: Path, db: UserDB) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    with fake_llm("ollama") as good:
        save_backends(
            db,
            {
                "backends": [
                    {
                        "name": "gone",
                        "type": "openai_compat",
                        "base_url": f"http://127.0.0.1:{closed_port}/v1",
                        "model": "m",
                    },
                    backend_entry(good, "good", model="m"),
                ]
            },
        )
        router = build_router(local(tmp_path))
        assert router.complete(db, purpose="writing", prompt="hi").backend == "good"
        router.close()
    error = db.execute("SELECT error FROM llm_calls WHERE backend = 'gone'")[0][0]
    assert error == "cannot reach the server"
