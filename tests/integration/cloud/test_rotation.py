"""Rotating CF_SERVER_SECRET with CF_SERVER_SECRET_PREVIOUS."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from peregrine.app import create_app
from peregrine.tenancy.identity import derive_key
from peregrine.tenancy.keycheck import KeyCheckError
from tests.integration.cloud.conftest import ALICE, Minter, cookie, make_settings


def _db(root: Path) -> Path:
    return root / ALICE / "peregrine" / "staging.db"


def _write_alices_job(root: Path, jwt_secret: str, secret: str, mint: Minter) -> None:
    with TestClient(create_app(make_settings(root, jwt_secret, secret))) as client:
        response = client.post(
            "/api/v1/jobs",
            json={"url": "https://jobs.example/1", "title": "Before rotation"},
            headers=cookie(mint(ALICE)),
        )
        assert response.status_code == 201


def test_a_rotation_rekeys_the_canary_and_each_database_on_sign_in(
    data_root: Path,
    jwt_secret: str,
    server_secret: str,
    mint: Minter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _write_alices_job(data_root, jwt_secret, server_secret, mint)
    new_secret = secrets.token_hex(32)
    settings = make_settings(
        data_root, jwt_secret, new_secret, CF_SERVER_SECRET_PREVIOUS=server_secret
    )
    caplog.set_level(logging.INFO)
    with TestClient(create_app(settings)) as client:
        listing = client.get("/api/v1/jobs", headers=cookie(mint(ALICE)))
        assert listing.status_code == 200
        assert listing.json()["items"][0]["title"] == "Before rotation"
    assert f"re-keyed the database of user {ALICE}" in caplog.text
    assert derive_key(new_secret.encode(), ALICE).hex() not in caplog.text
    # From now on the new secret alone opens everything.
    with TestClient(create_app(make_settings(data_root, jwt_secret, new_secret))) as client:
        assert client.get("/api/v1/jobs", headers=cookie(mint(ALICE))).json()["total"] == 1
    # And the old one no longer does.
    with (
        pytest.raises(KeyCheckError),
        TestClient(create_app(make_settings(data_root, jwt_secret, server_secret))),
    ):
        pass


def test_a_previous_secret_that_does_not_match_still_refuses_start_up(
    data_root: Path, jwt_secret: str, server_secret: str, mint: Minter
) -> None:
    _write_alices_job(data_root, jwt_secret, server_secret, mint)
    before = _db(data_root).read_bytes()
    settings = make_settings(
        data_root,
        jwt_secret,
        secrets.token_hex(32),
        CF_SERVER_SECRET_PREVIOUS=secrets.token_hex(32),
    )
    with pytest.raises(KeyCheckError), TestClient(create_app(settings)):
        pass
    assert _db(data_root).read_bytes() == before
