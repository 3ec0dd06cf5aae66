"""Session confirmation with Directus, against a loopback server that plays Directus."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from peregrine.app import create_app
from peregrine.tenancy.session import RevocationCheck, Session, SessionError
from tests.integration.cloud.conftest import (
    ALICE,
    BOB,
    COOKIE,
    Minter,
    cookie,
    files_under,
    make_settings,
)


class FakeDirectus:
    """``GET /users/me``: 200 with the user for a live session, 401 once logged out."""

    def __init__(self) -> None:
        self.sessions: dict[str, str] = {}  # token → user id
        self.calls = 0
        directus = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                directus.calls += 1
                cookies = dict(
                    part.strip().split("=", 1)
                    for part in self.headers.get("Cookie", "").split(";")
                    if "=" in part
                )
                user = directus.sessions.get(cookies.get(COOKIE, ""))
                if not self.path.startswith("/users/me") or user is None:
                    body, status = {"errors": [{"message": "Invalid user credentials."}]}, 401
                else:
                    body, status = {"data": {"id": user}}, 200
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def directus() -> Iterator[FakeDirectus]:
    fake = FakeDirectus()
    fake.thread.start()
    yield fake
    fake.stop()


@pytest.fixture
def client(
    directus: FakeDirectus, data_root: Path, jwt_secret: str, server_secret: str
) -> Iterator[TestClient]:
    settings = make_settings(data_root, jwt_secret, server_secret, DIRECTUS_URL=directus.url)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_a_live_session_is_confirmed_once_per_minute(
    client: TestClient, directus: FakeDirectus, mint: Minter
) -> None:
    token = mint(ALICE)
    directus.sessions[token] = ALICE
    for _ in range(3):
        assert client.get("/api/v1/jobs", headers=cookie(token)).status_code == 200
    assert directus.calls == 1


def test_a_logged_out_session_is_refused_and_creates_nothing(
    client: TestClient, directus: FakeDirectus, data_root: Path, mint: Minter
) -> None:
    response = client.get("/api/v1/jobs", headers=cookie(mint(ALICE)))
    assert response.status_code == 401
    assert files_under(data_root) == {".keycheck.db", ".keycheck.lock"}


def test_a_session_that_directus_says_is_someone_else_is_refused(
    client: TestClient, directus: FakeDirectus, mint: Minter
) -> None:
    token = mint(ALICE)
    directus.sessions[token] = BOB
    assert client.get("/api/v1/jobs", headers=cookie(token)).status_code == 401


def test_directus_being_away_is_a_503_not_a_pass(
    client: TestClient, directus: FakeDirectus, data_root: Path, mint: Minter
) -> None:
    directus.stop()
    response = client.get("/api/v1/jobs", headers=cookie(mint(ALICE)))
    assert response.status_code == 503
    assert files_under(data_root) == {".keycheck.db", ".keycheck.lock"}


def test_a_logout_takes_effect_when_the_cached_answer_expires(
    directus: FakeDirectus, mint: Minter
) -> None:
    now = [0.0]
    check = RevocationCheck(directus.url, COOKIE, clock=lambda: now[0])
    token = mint(ALICE)
    session = Session(user_id=ALICE, expires_at=0, token_digest="d1")
    directus.sessions[token] = ALICE
    check.confirm(session, token)
    del directus.sessions[token]  # the user signs out in Directus
    now[0] = 59.0
    check.confirm(session, token)  # still inside the 60 s window
    now[0] = 60.5
    with pytest.raises(SessionError, match="revoked"):
        check.confirm(session, token)
    assert directus.calls == 2
    check.close()
