"""Each provider over real HTTP against a loopback server that speaks its API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from peregrine.llm.config import parse_config
from peregrine.llm.errors import LLMUnavailableError
from peregrine.llm.router import LLMRouter, static_source
from peregrine.settings import Secret
from peregrine.storage.userdb import UserDB
from tests.support.llm_servers import FakeLLMServer, backend_entry, fake_llm

FLAVOURS = ["ollama", "openai_compat", "anthropic"]


@pytest.fixture(params=FLAVOURS)
def server(request: pytest.FixtureRequest) -> Iterator[FakeLLMServer]:
    with fake_llm(request.param) as srv:
        yield srv


def router_for(*backends: dict[str, Any], keys: dict[str, str] | None = None) -> LLMRouter:
    config = parse_config({"backends": list(backends)})
    secrets = {k: Secret(v) for k, v in (keys or {}).items()}
    return LLMRouter(source=static_source(config), api_keys=secrets)


def test_it_completes_and_records_usage(server: FakeLLMServer, db: UserDB) -> None:
    router = router_for(backend_entry(server, "main", model="tiny-model:latest"))
    result = router.complete(db, purpose="writing", prompt="Say hello", system="Be brief")
    assert result.text == "Hello from the model."
    assert (result.backend, result.model) == ("main", "tiny-model:latest")
    assert (result.prompt_tokens, result.completion_tokens) == (21, 7)
    sent = server.chat_requests()[0].body
    assert "Say hello" in json.dumps(sent)
    assert "Be brief" in json.dumps(sent)
    rows = db.execute(
        "SELECT backend, purpose, prompt_tokens, completion_tokens, ok FROM llm_calls"
    )
    assert [tuple(r) for r in rows] == [("main", "writing", 21, 7, 1)]
    router.close()


def test_auto_model_takes_the_first_listed(server: FakeLLMServer, db: UserDB) -> None:
    server.behaviour.models = ["first-model", "second-model"]
    router = router_for(backend_entry(server, "main"))
    result = router.complete(db, purpose="research", prompt="hi")
    assert server.chat_requests()[0].body["model"] == "first-model"
    assert result.model == "first-model"
    router.close()


def test_max_tokens_is_honoured_and_capped_by_the_backend(
    server: FakeLLMServer, db: UserDB
) -> None:
    router = router_for(backend_entry(server, "main", model="m", max_tokens=300))
    router.complete(db, purpose="writing", prompt="hi", max_tokens=5000)
    router.complete(db, purpose="writing", prompt="hi", max_tokens=42)
    sent = [r.body for r in server.chat_requests()]
    if server.flavour == "ollama":
        assert [b["options"]["num_predict"] for b in sent] == [300, 42]
    else:
        assert [b["max_tokens"] for b in sent] == [300, 42]
    router.close()


def test_it_streams_text_pieces(server: FakeLLMServer, db: UserDB) -> None:
    server.behaviour.text = "one two three four"
    router = router_for(backend_entry(server, "main", model="m"))
    pieces = list(router.stream(db, purpose="writing", prompt="count"))
    assert len(pieces) == 4
    assert "".join(pieces) == "one two three four"
    assert server.chat_requests()[0].body["stream"] is True
    assert db.execute("SELECT ok FROM llm_calls")[0][0] == 1
    router.close()


def test_a_server_error_is_reported_in_words(server: FakeLLMServer, db: UserDB) -> None:
    server.behaviour.fail_status = 529 if server.flavour == "anthropic" else 500
    router = router_for(backend_entry(server, "main", model="m"))
    with pytest.raises(LLMUnavailableError) as caught:
        router.complete(db, purpose="writing", prompt="hi")
    assert "main: HTTP 5" in str(caught.value)
    assert "model is overloaded" in str(caught.value)
    row = db.execute("SELECT ok, error FROM llm_calls")[0]
    assert row[0] == 0
    assert "overloaded" in row[1]
    router.close()


def test_a_slow_server_times_out(server: FakeLLMServer, db: UserDB) -> None:
    server.behaviour.delay_s = 1.0
    router = router_for(backend_entry(server, "main", model="m", timeout_s=0.2))
    with pytest.raises(LLMUnavailableError) as caught:
        router.complete(db, purpose="writing", prompt="hi")
    assert "timed out after 0.2 s" in str(caught.value)
    router.close()


def test_a_streaming_failure_before_text_is_reported(server: FakeLLMServer, db: UserDB) -> None:
    server.behaviour.fail_status = 503
    router = router_for(backend_entry(server, "main", model="m"))
    with pytest.raises(LLMUnavailableError, match="HTTP 503"):
        list(router.stream(db, purpose="writing", prompt="hi"))
    router.close()


def test_the_api_key_comes_from_the_named_variable(server: FakeLLMServer, db: UserDB) -> None:
    router = router_for(
        backend_entry(server, "main", model="m", api_key_env="OPENAI_API_KEY"),
        keys={"OPENAI_API_KEY": "sk-test-123"},
    )
    router.complete(db, purpose="writing", prompt="hi")
    headers = {k.lower(): v for k, v in server.chat_requests()[0].headers.items()}
    # Anthropic's client has sent the key as x-api-key or as a bearer token across versions.
    sent = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
    assert sent == "sk-test-123"
    router.close()


def test_a_missing_key_variable_fails_without_a_request(server: FakeLLMServer, db: UserDB) -> None:
    router = router_for(backend_entry(server, "main", model="m", api_key_env="NOT_ALLOWED_KEY"))
    with pytest.raises(LLMUnavailableError, match="NOT_ALLOWED_KEY is not set or not allowed"):
        router.complete(db, purpose="writing", prompt="hi")
    assert server.requests == []
    router.close()
