"""Shared fixtures: real SQLite files in temporary folders, real apps in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from peregrine.app import create_app
from peregrine.settings import Settings
from peregrine.storage.userdb import UserDB


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "staging.db"


@pytest.fixture
def db(db_path: Path) -> Iterator[UserDB]:
    handle = UserDB.open(db_path, create=True)
    yield handle
    handle.close()


@pytest.fixture
def local_settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"PEREGRINE_DATA_DIR": str(tmp_path / "data")})


@pytest.fixture
def client(local_settings: Settings) -> Iterator[TestClient]:
    app = create_app(local_settings)
    with TestClient(app, base_url="http://127.0.0.1:8502") as test_client:
        yield test_client
