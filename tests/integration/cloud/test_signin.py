"""What people and API clients get without a session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from peregrine.app import create_app
from tests.integration.cloud.conftest import Minter, cookie, make_settings


@pytest.fixture
def client(data_root: Path, jwt_secret: str, server_secret: str) -> Iterator[TestClient]:
    settings = make_settings(
        data_root, jwt_secret, server_secret, LOGIN_URL="https://auth.example.org/login?app=p"
    )
    app = create_app(settings)

    with TestClient(app, base_url="http://127.0.0.1:8505") as test_client:
        yield test_client


def test_a_page_without_a_session_shows_a_sign_in_link_back_to_it(client: TestClient) -> None:
    response = client.get("/review?status=pending&q=<script>", follow_redirects=False)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert "<script>" not in response.text
    href = response.text.split('class="button" href="')[1].split('"')[0].replace("&amp;", "&")
    parts = urlsplit(href)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "auth.example.org", "/login")
    query = parse_qs(parts.query)
    assert query["app"] == ["p"]
    assert query["next"] == ["/review?status=pending&q=%3Cscript%3E"]


def test_the_api_gets_a_json_401(client: TestClient) -> None:
    response = client.get("/api/v1/jobs")
    assert response.status_code == 401
    assert response.json() == {
        "error": "sign in required",
        "login_url": "https://auth.example.org/login?app=p",
    }


def test_the_page_works_once_signed_in(client: TestClient, mint: Minter) -> None:
    response = client.get("/review", headers=cookie(mint()))
    assert response.status_code == 200
    assert "<title>Review · Peregrine</title>" in response.text
