"""The node name an operator sees, and the per-user route cookie Caddy hashes to pin a user
to one app node (the real Caddy runs it in tests/integration/platform/test_scale_out.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from peregrine.app import create_app
from peregrine.settings import Settings, SettingsError
from tests.integration.cloud.conftest import ALICE, BOB, COOKIE, Minter, make_settings


def test_a_named_node_says_so_in_healthz_and_a_header(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"PEREGRINE_DATA_DIR": str(tmp_path), "PEREGRINE_NODE_NAME": "node-a"}
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8502") as client:
        r = client.get("/healthz")
    assert r.json() == {"status": "ok", "node": "node-a"}
    assert r.headers["x-peregrine-node"] == "node-a"


def test_an_unnamed_node_sends_neither(tmp_path: Path) -> None:
    app = create_app(Settings.from_env({"PEREGRINE_DATA_DIR": str(tmp_path)}))
    with TestClient(app, base_url="http://127.0.0.1:8502") as c:
        r = c.get("/healthz")
    assert r.json() == {"status": "ok"}
    assert "x-peregrine-node" not in r.headers


@pytest.mark.parametrize("bad", ["node a", "node\r\nX-Evil: 1", "-lead", "n" * 64, "nöde"])
def test_a_node_name_that_could_bend_a_header_is_refused(bad: str) -> None:
    with pytest.raises(SettingsError, match="PEREGRINE_NODE_NAME"):
        Settings.from_env({"PEREGRINE_NODE_NAME": bad})


def test_each_signed_in_user_gets_a_stable_route_cookie_that_hides_their_id(
    data_root: Path, jwt_secret: str, server_secret: str, mint: Minter
) -> None:
    app = create_app(make_settings(data_root, jwt_secret, server_secret))
    routes = {}
    with TestClient(app, base_url="https://127.0.0.1:8505") as client:
        for user in (ALICE, BOB):
            # Each request below is a fresh browser: only the headers given are sent.
            client.cookies.clear()
            session = f"{COOKIE}={mint(user)}"
            first = client.get("/api/v1/tasks", headers={"X-CF-Session": session})
            assert first.status_code == 200
            value = first.cookies["peregrine_route"]
            header = first.headers["set-cookie"]
            assert f"peregrine_route={value}; Path=/; Max-Age=2592000; HttpOnly; Secure" in header
            assert user not in header
            routes[user] = value
            # Once the browser holds it, it is not sent again; another session of the same
            # user gets the same value.
            again = client.get(
                "/api/v1/tasks",
                headers={"X-CF-Session": f"{session}; peregrine_route={value}"},
            )
            assert "peregrine_route" not in again.headers.get("set-cookie", "")
            client.cookies.clear()
            other_session = client.get(
                "/api/v1/tasks", headers={"X-CF-Session": f"{COOKIE}={mint(user)}"}
            )
            assert other_session.cookies["peregrine_route"] == value
        # Signed-out requests get no route.
        client.cookies.clear()
        anonymous = client.get("/api/v1/tasks")
        assert anonymous.status_code == 401
        assert "peregrine_route" not in anonymous.headers.get("set-cookie", "")
    assert routes[ALICE] != routes[BOB]
