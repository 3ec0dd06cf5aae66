"""The connection test in Settings → LLM backends: one tiny prompt to one saved backend,
through the router's own provider, against loopback model servers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from peregrine.llm.config import parse_config
from peregrine.llm.errors import LLMBlockedError, LLMNotConfiguredError
from peregrine.llm.router import DEMO_MESSAGE, LLMRouter, static_source
from peregrine.storage.userdb import UserDB
from tests.integration.web_helpers import post_form, user_db
from tests.support.llm_servers import FakeLLMServer, backend_entry, fake_llm


def flashes(html: str) -> list[str]:
    return re.findall(r'class="flash flash-\w+">([^<]*)<', html)


@pytest.fixture
def ollama() -> Iterator[FakeLLMServer]:
    with fake_llm("ollama") as server:
        yield server


@pytest.fixture
def compat() -> Iterator[FakeLLMServer]:
    with fake_llm("openai_compat") as server:
        yield server


def save_backends(client: TestClient, *servers: tuple[str, str, FakeLLMServer]) -> None:
    form: dict[str, str] = {}
    for index, (name, kind, server) in enumerate(servers):
        form |= {
            f"b-{index}-name": name,
            f"b-{index}-kind": kind,
            f"b-{index}-base_url": server.url,
            f"b-{index}-model": "tiny-model:latest",
            f"b-{index}-enabled": "1",
        }
    response = post_form(client, "/settings/llm", form)
    assert flashes(response.text) == [f"Saved {len(servers)} backend(s)."]


def test_each_saved_backend_gets_a_test_button_that_shows_its_answer(
    client: TestClient, ollama: FakeLLMServer, compat: FakeLLMServer
) -> None:
    save_backends(client, ("home", "ollama", ollama), ("box", "openai_compatible", compat))
    page = client.get("/settings/llm").text
    assert "not available yet" not in page
    assert page.count('name="backend"') == 2
    ollama.behaviour.text = "ready"
    compat.behaviour.text = "ready from the box"

    response = post_form(client, "/settings/llm/test", {"backend": "box"})

    assert response.status_code == 200
    [message] = flashes(response.text)
    assert message.startswith("box answered in ")
    assert message.endswith("ready from the box")
    assert len(compat.chat_requests()) == 1
    assert ollama.chat_requests() == []


def test_a_failing_backend_shows_its_error(client: TestClient, ollama: FakeLLMServer) -> None:
    save_backends(client, ("home", "ollama", ollama))
    ollama.behaviour.fail_status = 503
    response = post_form(client, "/settings/llm/test", {"backend": "home"})
    [message] = flashes(response.text)
    assert message.startswith("Test of home failed:")
    assert "Traceback" not in response.text


def test_an_unknown_backend_name_reaches_no_server(client: TestClient) -> None:
    response = post_form(client, "/settings/llm/test", {"backend": "nope"})
    # The name is the user's input: it comes back escaped.
    assert flashes(response.text) == [
        "Test of nope failed: there is no LLM backend named &#39;nope&#39;"
    ]


def test_the_test_needs_the_csrf_token(client: TestClient, ollama: FakeLLMServer) -> None:
    save_backends(client, ("home", "ollama", ollama))
    response = client.post("/settings/llm/test", data={"backend": "home"})
    assert response.status_code == 403
    assert ollama.chat_requests() == []


def test_saved_backends_are_what_the_router_uses(client: TestClient, ollama: FakeLLMServer) -> None:
    save_backends(client, ("home", "ollama", ollama))
    ollama.behaviour.text = "Hello."
    answer = client.app.state.llm.complete(  # type: ignore[attr-defined]
        user_db(client), purpose="writing", prompt="hi"
    )
    assert answer.backend == "home"


def test_the_router_only_tests_its_own_backends(tmp_path: Path, ollama: FakeLLMServer) -> None:
    # Cloud mode: the operator's configuration; a tenant can only name one of its backends.
    config = parse_config({"backends": [backend_entry(ollama, "operator")]})
    router = LLMRouter(source=static_source(config))
    db = UserDB.open(tmp_path / "alice.db", create=True)
    try:
        assert router.backend_names(db) == ["operator"]
        with pytest.raises(LLMNotConfiguredError):
            router.try_backend(db, name="mallory's server", prompt="hi")
        assert router.try_backend(db, name="operator", prompt="hi").backend == "operator"
        blocked = LLMRouter(source=static_source(config), blocked_reason=DEMO_MESSAGE)
        assert blocked.backend_names(db) == []
        with pytest.raises(LLMBlockedError):
            blocked.try_backend(db, name="operator", prompt="hi")
    finally:
        router.close()
        db.close()
    assert len(ollama.chat_requests()) == 1
