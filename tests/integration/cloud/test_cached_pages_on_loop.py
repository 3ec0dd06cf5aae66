"""Cached pages in cloud mode are served on the event loop only when nothing needs I/O,
and every check the full path makes still holds: expiry, erasure, restore, revocation,
changes made through another handle."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from peregrine.app import create_app
from peregrine.lib.clock import now_iso
from peregrine.services.account_erasure import erase_account
from peregrine.settings import Settings
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.registry import HandleRegistry
from peregrine.storage.userdb import UserDB
from peregrine.tenancy.identity import TenantLayout
from peregrine.tenancy.session import JWT_LEEWAY_SECONDS
from peregrine.web import deps
from tests.integration.cloud.conftest import ALICE, BOB, Minter, cookie, make_settings
from tests.integration.cloud.test_revocation import FakeDirectus

PAGES = ("/review", "/api/v1/jobs")


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every hop ``read_with`` makes to the thread pool."""
    calls: list[str] = []
    real = deps.run_in_threadpool

    async def counting(func: Callable[..., Any], *args: Any) -> Any:
        calls.append("hop")
        return await real(func, *args)

    monkeypatch.setattr(deps, "run_in_threadpool", counting)
    return calls


def _add_job(client: TestClient, who: dict[str, str], title: str, n: int) -> None:
    response = client.post(
        "/api/v1/jobs", json={"url": f"https://jobs.example.org/{n}", "title": title}, headers=who
    )
    assert response.status_code == 201, response.text


def _cached(client: TestClient, who: dict[str, str]) -> None:
    """A job, and both pages built and served once from the cache."""
    _add_job(client, who, "Lighthouse keeper", 1)
    for page in PAGES:
        for _ in range(2):
            assert client.get(page, headers=who).status_code == 200


def _without_token(html: str) -> str:
    # The CSRF token differs per session cookie; everything else must be byte-identical.
    start = html.index('name="csrf_token" value="')
    return html[:start] + html[html.index('"', start + 26) :]


def test_a_cached_page_skips_the_thread_pool_and_is_the_same_page(
    cloud_client: TestClient, mint: Minter, hops: list[str]
) -> None:
    alice = cookie(mint(ALICE))
    _add_job(cloud_client, alice, "Lighthouse keeper", 1)
    for page in PAGES:
        hops.clear()
        first = cloud_client.get(page, headers=alice)
        assert first.status_code == 200
        assert hops == ["hop"]  # built off the loop
        second = cloud_client.get(page, headers=alice)
        assert second.status_code == 200
        assert hops == ["hop"]  # served from the cache on the loop
        if page == "/review":
            assert "Lighthouse keeper" in second.text
            assert _without_token(second.text) == _without_token(first.text)
        else:
            assert second.content == first.content


def test_a_change_through_another_handle_is_seen_at_once(
    cloud_client: TestClient, cloud_settings: Settings, mint: Minter, hops: list[str]
) -> None:
    """A background task writes through its own handle; the cached page must not hide it."""
    alice = cookie(mint(ALICE))
    _cached(cloud_client, alice)
    secret = cloud_settings.cf_server_secret
    assert secret is not None
    tenant = TenantLayout(cloud_settings.cloud_data_root, "peregrine", secret.reveal().encode())
    other = UserDB.open(tenant.tenant(ALICE).db_path, key=tenant.tenant(ALICE).key)
    with other.write() as conn:
        job_q.upsert_jobs(
            conn,
            jobs=[job_q.NewJob(title="Harbour pilot", url="https://jobs.example.org/2")],
            now=now_iso(),
        )
    other.close()
    hops.clear()
    assert "Harbour pilot" in cloud_client.get("/review", headers=alice).text
    titles = [j["title"] for j in cloud_client.get("/api/v1/jobs", headers=alice).json()["items"]]
    assert "Harbour pilot" in titles
    assert hops == ["hop", "hop"]  # both rebuilt off the loop


def test_an_expired_session_gets_401_not_the_cached_page(
    cloud_client: TestClient, mint: Minter, hops: list[str]
) -> None:
    # Inside the 30 s leeway for two more seconds: a real expiry, seen by the cached
    # verification and by PyJWT alike.
    expires = int(time.time()) - JWT_LEEWAY_SECONDS + 2
    alice = cookie(mint(ALICE, exp=expires))
    _cached(cloud_client, alice)
    time.sleep(max(0.0, expires + JWT_LEEWAY_SECONDS - time.time()) + 0.2)
    for page in PAGES:
        response = cloud_client.get(page, headers=alice)
        assert response.status_code == 401
        assert "Lighthouse" not in response.text


def test_an_account_erased_elsewhere_gets_410_not_the_cached_page(
    cloud_client: TestClient, cloud_settings: Settings, mint: Minter
) -> None:
    alice, bob = cookie(mint(ALICE)), cookie(mint(BOB))
    _cached(cloud_client, alice)
    _cached(cloud_client, bob)
    # Another process (the operator's command) erases alice: this process's handle and
    # caches know nothing of it; the tombstone must still stop the cached page.
    erase_account(cloud_settings, ALICE, close_handles=lambda _user: None)
    for page in PAGES:
        response = cloud_client.get(page, headers=alice)
        assert response.status_code == 410
        assert "Lighthouse" not in response.text
        assert cloud_client.get(page, headers=bob).status_code == 200


def test_a_restore_in_progress_gets_409_not_the_cached_page(
    cloud_client: TestClient, mint: Minter
) -> None:
    alice = cookie(mint(ALICE))
    _cached(cloud_client, alice)
    tenancy: Any = cloud_client.app.state.tenancy  # type: ignore[attr-defined]
    with tenancy._gate:
        tenancy._replacing.add(ALICE)
    try:
        for page in PAGES:
            assert cloud_client.get(page, headers=alice).status_code == 409
    finally:
        with tenancy._gate:
            tenancy._replacing.discard(ALICE)
    assert not tenancy._in_flight  # every lease taken was given back


@pytest.fixture
def revoking_client(
    data_root: Path, jwt_secret: str, server_secret: str
) -> Iterator[tuple[TestClient, FakeDirectus]]:
    directus = FakeDirectus()
    directus.thread.start()
    settings = make_settings(data_root, jwt_secret, server_secret, DIRECTUS_URL=directus.url)
    try:
        with TestClient(create_app(settings)) as client:
            yield client, directus
    finally:
        directus.stop()


def test_a_logout_stops_the_cached_page_once_the_answer_is_stale(
    revoking_client: tuple[TestClient, FakeDirectus], mint: Minter, hops: list[str]
) -> None:
    client, directus = revoking_client
    token = mint(ALICE)
    directus.sessions[token] = ALICE
    alice = cookie(token)
    _add_job(client, alice, "Lighthouse keeper", 1)
    for _ in range(3):
        assert client.get("/review", headers=alice).status_code == 200
    assert directus.calls == 1
    del directus.sessions[token]  # the user signs out in Directus
    revocation: Any = client.app.state.tenancy.revocation  # type: ignore[attr-defined]
    revocation._clock = lambda: time.monotonic() + 61
    response = client.get("/review", headers=alice)
    assert response.status_code == 401
    assert "Lighthouse" not in response.text
    assert directus.calls == 2


def test_read_idle_never_opens_and_never_waits(tmp_path: Path) -> None:
    db = UserDB.open(tmp_path / "staging.db", create=True)
    with db.read_idle() as conn:
        assert conn is not None
        with db.read_idle() as second:
            assert second is None  # the pool is empty: no new connection is opened
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM jobs").fetchone()
    with db.read_idle() as again:
        assert again is conn  # back in the pool, its transaction ended
        assert again is not None
        assert not again.in_transaction
    db.close()
    with db.read_idle() as conn:
        assert conn is None


def test_acquire_open_leases_only_what_is_open(tmp_path: Path) -> None:
    registry = HandleRegistry(max_open=1, idle_seconds=60)
    assert registry.acquire_open("a") is None
    db = registry.acquire("a", lambda: UserDB.open(tmp_path / "a.db", create=True))
    registry.release("a", db)
    leased = registry.acquire_open("a")
    assert leased is db
    # Evicted while leased: not closed until the lease ends.
    other = registry.acquire("b", lambda: UserDB.open(tmp_path / "b.db", create=True))
    assert not db.closed
    registry.release("a", db)
    assert db.closed
    assert registry.acquire_open("a") is None
    registry.release("b", other)
    registry.close_all()
