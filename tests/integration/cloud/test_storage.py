"""Per-user SQLCipher files: encrypted on disk, keyed per user, never silently recreated."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import stat
import threading
from pathlib import Path

import pytest
import sqlcipher3
from fastapi.testclient import TestClient

from peregrine.app import create_app
from peregrine.settings import Settings
from peregrine.storage.migrate import latest_version
from peregrine.tenancy.identity import TenantLayout, derive_key
from peregrine.tenancy.keycheck import KeyCheckError
from peregrine.tenancy.provisioning import provision
from tests.integration.cloud.conftest import (
    ALICE,
    BOB,
    Minter,
    cookie,
    files_under,
    make_settings,
)


def _db(root: Path, user: str) -> Path:
    return root / user / "peregrine" / "staging.db"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _add_job(client: TestClient, token: str, title: str) -> None:
    response = client.post(
        "/api/v1/jobs",
        json={"url": f"https://jobs.example/{title}", "title": title},
        headers=cookie(token),
    )
    assert response.status_code == 201, response.text


def test_the_file_on_disk_is_not_readable_as_plain_sqlite(
    cloud_client: TestClient, data_root: Path, mint: Minter
) -> None:
    _add_job(cloud_client, mint(ALICE), "Secret-Title-Alice")
    cloud_client.app.state.tenancy.close_user(ALICE)  # type: ignore[attr-defined]
    path = _db(data_root, ALICE)
    assert b"Secret-Title-Alice" not in path.read_bytes()
    assert not path.read_bytes().startswith(b"SQLite format 3")
    plain = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        plain.execute("SELECT count(*) FROM sqlite_master").fetchone()
    plain.close()


def test_it_opens_with_the_derived_raw_key_through_the_binding(
    cloud_client: TestClient, data_root: Path, mint: Minter, server_secret: str
) -> None:
    _add_job(cloud_client, mint(ALICE), "Secret-Title-Alice")
    cloud_client.app.state.tenancy.close_user(ALICE)  # type: ignore[attr-defined]
    conn = sqlcipher3.connect(str(_db(data_root, ALICE)))
    key = derive_key(server_secret.encode(), ALICE)
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    assert conn.execute("SELECT title FROM jobs").fetchall() == [("Secret-Title-Alice",)]
    assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_version()
    conn.close()
    # Bob's key does not open Alice's file.
    other = sqlcipher3.connect(str(_db(data_root, ALICE)))
    other.execute(f"PRAGMA key = \"x'{derive_key(server_secret.encode(), BOB).hex()}'\"")
    with pytest.raises(sqlcipher3.DatabaseError):
        other.execute("SELECT count(*) FROM sqlite_master").fetchone()
    other.close()


def test_folders_and_files_are_owner_only(
    cloud_client: TestClient, data_root: Path, mint: Minter
) -> None:
    _add_job(cloud_client, mint(ALICE), "x")
    app_folder = data_root / ALICE / "peregrine"
    for folder in (data_root / ALICE, app_folder, app_folder / "config", app_folder / "data"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for path in app_folder.iterdir():
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_a_wrong_server_secret_is_refused_at_start_up(
    cloud_settings: Settings, data_root: Path, jwt_secret: str, mint: Minter
) -> None:
    with TestClient(create_app(cloud_settings)) as client:
        _add_job(client, mint(ALICE), "x")
    before = {p: _sha(data_root / p) for p in files_under(data_root) if (data_root / p).is_file()}
    wrong = make_settings(data_root, jwt_secret, "f" * 64)
    with (
        pytest.raises(KeyCheckError, match="CF_SERVER_SECRET does not open"),
        TestClient(create_app(wrong)),
    ):
        pass
    after = {p: _sha(data_root / p) for p in files_under(data_root) if (data_root / p).is_file()}
    assert after == before


def test_a_database_the_key_does_not_open_is_a_503_and_left_untouched(
    cloud_client: TestClient,
    data_root: Path,
    mint: Minter,
    server_secret: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _add_job(cloud_client, mint(BOB), "bob")
    tenancy = cloud_client.app.state.tenancy  # type: ignore[attr-defined]
    tenancy.close_user(BOB)
    # Provision Alice, then put a file encrypted with another key in her place.
    _add_job(cloud_client, mint(ALICE), "alice")
    tenancy.close_user(ALICE)
    _db(data_root, ALICE).write_bytes(_db(data_root, BOB).read_bytes())
    before = _sha(_db(data_root, ALICE))
    caplog.set_level(logging.INFO)
    response = cloud_client.get("/api/v1/jobs", headers=cookie(mint(ALICE)))
    assert response.status_code == 503
    assert "unavailable" in response.json()["error"]
    assert _sha(_db(data_root, ALICE)) == before
    assert f"user {ALICE}" in caplog.text
    assert "does not open with the key" in caplog.text
    assert derive_key(server_secret.encode(), ALICE).hex() not in caplog.text
    assert server_secret not in caplog.text


def test_a_missing_database_after_provisioning_is_an_error_not_a_new_account(
    cloud_client: TestClient, data_root: Path, mint: Minter
) -> None:
    _add_job(cloud_client, mint(ALICE), "alice")
    cloud_client.app.state.tenancy.close_user(ALICE)  # type: ignore[attr-defined]
    for path in _db(data_root, ALICE).parent.glob("staging.db*"):
        path.unlink()
    response = cloud_client.get("/api/v1/jobs", headers=cookie(mint(ALICE)))
    assert response.status_code == 503
    assert not _db(data_root, ALICE).exists()


def test_ten_simultaneous_first_provisions_create_one_database(
    data_root: Path, server_secret: str
) -> None:
    layout = TenantLayout(data_root, "peregrine", server_secret.encode())
    tenant = layout.tenant(ALICE)
    barrier = threading.Barrier(10)
    created: list[bool] = []
    errors: list[BaseException] = []

    def first_login() -> None:
        barrier.wait()
        try:
            created.append(provision(tenant))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first_login) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(created) == [False] * 9 + [True]
    names = {p.name for p in tenant.folder.iterdir()}
    assert names == {"staging.db", ".provisioned", ".provision.lock", "config", "data"}


def test_ten_simultaneous_first_requests_share_one_database(
    cloud_client: TestClient, data_root: Path, mint: Minter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="peregrine.tenancy")
    token = mint(ALICE)
    barrier = threading.Barrier(10)
    statuses: list[int] = []

    def first_request(n: int) -> None:
        barrier.wait()
        response = cloud_client.post(
            "/api/v1/jobs",
            json={"url": f"https://jobs.example/{n}", "title": f"Job {n}"},
            headers=cookie(token),
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=first_request, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [201] * 10
    assert caplog.text.count(f"provisioned user {ALICE}") == 1
    listing = cloud_client.get("/api/v1/jobs", headers=cookie(token)).json()
    assert listing["total"] == 10
    leftovers = [p.name for p in _db(data_root, ALICE).parent.iterdir() if p.suffix == ".tmp"]
    assert leftovers == []


def test_readyz_needs_no_user_and_healthz_no_session(
    cloud_client: TestClient, data_root: Path
) -> None:
    assert cloud_client.get("/healthz").json() == {"status": "ok"}
    assert cloud_client.get("/readyz").json() == {"status": "ready"}
    assert files_under(data_root) == {".keycheck.db", ".keycheck.lock"}


def test_readyz_fails_when_the_canary_disappears(cloud_client: TestClient, data_root: Path) -> None:
    (data_root / ".keycheck.db").rename(data_root / "moved.db")
    assert cloud_client.get("/readyz").status_code == 503
    assert not (data_root / ".keycheck.db").exists()


def test_a_missing_data_root_stops_start_up(
    tmp_path: Path, jwt_secret: str, server_secret: str
) -> None:
    settings = make_settings(tmp_path / "absent", jwt_secret, server_secret)
    with pytest.raises(Exception, match="CLOUD_DATA_ROOT"), TestClient(create_app(settings)):
        pass


def test_background_work_leases_a_users_database_by_id(
    cloud_client: TestClient, mint: Minter
) -> None:
    _add_job(cloud_client, mint(ALICE), "from-a-request")
    tenancy = cloud_client.app.state.tenancy  # type: ignore[attr-defined]
    with tenancy.lease(ALICE) as db:
        assert db.execute("SELECT title FROM jobs")[0][0] == "from-a-request"
    with tenancy.lease(BOB) as db:  # provisions on first use, like a first login
        assert db.execute("SELECT count(*) FROM jobs")[0][0] == 0
