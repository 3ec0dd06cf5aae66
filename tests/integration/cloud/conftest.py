"""Cloud-mode fixtures: a real data root, real secrets, tokens minted with PyJWT."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from peregrine.app import create_app
from peregrine.settings import Settings

ALICE = "0b4e7a52-9c1d-4f8e-a3b2-1c2d3e4f5a6b"
BOB = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
MALLORY = "d00dfeed-0bad-4bad-8bad-c0ffee000000"
COOKIE = "directus_session_token"

Minter = Callable[..., str]


@pytest.fixture
def jwt_secret() -> str:
    return secrets.token_hex(32)


@pytest.fixture
def server_secret() -> str:
    return secrets.token_hex(32)


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    root = tmp_path / "menagerie-data"
    root.mkdir(mode=0o700)
    return root


def make_settings(data_root: Path, jwt_secret: str, server_secret: str, **extra: str) -> Settings:
    return Settings.from_env(
        {
            "CLOUD_MODE": "true",
            "CLOUD_DATA_ROOT": str(data_root),
            "DIRECTUS_JWT_SECRET": jwt_secret,
            "CF_SERVER_SECRET": server_secret,
            **extra,
        }
    )


@pytest.fixture
def cloud_settings(data_root: Path, jwt_secret: str, server_secret: str) -> Settings:
    return make_settings(data_root, jwt_secret, server_secret)


def session_claims(user_id: Any, **overrides: Any) -> dict[str, Any]:
    """The claims Directus puts in a session token."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "id": user_id,
        "role": "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9",
        "app_access": True,
        "admin_access": False,
        "session": secrets.token_urlsafe(32),
        "iat": now,
        "exp": now + 900,
        "iss": "directus",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not _DROP}


_DROP = object()
DROP: Any = _DROP


@pytest.fixture
def mint(jwt_secret: str) -> Minter:
    def _mint(user_id: Any = ALICE, *, key: str | None = None, **overrides: Any) -> str:
        return jwt.encode(session_claims(user_id, **overrides), key or jwt_secret, "HS256")

    return _mint


def cookie(token: str) -> dict[str, str]:
    """The header Caddy sends: the browser's whole Cookie header."""
    return {"X-CF-Session": f"theme=dark; {COOKIE}={token}; _ga=GA1.2.3"}


@pytest.fixture
def cloud_client(cloud_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(cloud_settings), base_url="https://127.0.0.1:8505") as client:
        yield client


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}
