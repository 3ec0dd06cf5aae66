"""Each user's folder checks are remembered per process, and made again after anything
that closes the user's data: account deletion and restore."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.datastructures import Headers

from peregrine.services.account_erasure import erase_account
from peregrine.settings import Settings
from peregrine.tenancy.cloud import AccountDeleted, CloudTenancy, TenantUnavailable
from tests.integration.cloud.conftest import ALICE, BOB, COOKIE, MALLORY, Minter


@pytest.fixture
def tenancy(cloud_settings: Settings) -> Iterator[CloudTenancy]:
    cloud = CloudTenancy(cloud_settings)
    cloud.start()
    yield cloud
    cloud.stop()


def _headers(token: str) -> Headers:
    return Headers({"x-cf-session": f"{COOKIE}={token}"})


def _use(tenancy: CloudTenancy, user_id: str) -> None:
    with tenancy.lease(user_id) as db:
        db.execute("SELECT count(*) FROM jobs")


def test_each_user_gets_their_own_folder_from_the_cache(tenancy: CloudTenancy) -> None:
    for user in (ALICE, BOB, MALLORY):
        _use(tenancy, user)
    for _ in range(2):
        folders = {user: tenancy.tenant(user).folder for user in (ALICE, BOB, MALLORY)}
        assert {folder.parent.name for folder in folders.values()} == {ALICE, BOB, MALLORY}
        assert folders[ALICE] == tenancy.layout.tenant(ALICE).folder


def test_a_deleted_account_is_refused_though_its_folder_was_cached(
    tenancy: CloudTenancy, cloud_settings: Settings, mint: Minter
) -> None:
    token = mint(ALICE)
    assert tenancy.authenticate(_headers(token)) == ALICE
    _use(tenancy, ALICE)
    erase_account(cloud_settings, ALICE, close_handles=tenancy.close_user)
    assert ALICE not in tenancy._tenants
    with pytest.raises(AccountDeleted):
        tenancy.authenticate(_headers(token))
    with pytest.raises(AccountDeleted):
        _use(tenancy, ALICE)
    assert not (tenancy.layout.root / ALICE).exists()
    _use(tenancy, BOB)  # bob is untouched


def test_the_folder_checks_run_again_after_a_restore(
    tenancy: CloudTenancy, data_root: Path
) -> None:
    _use(tenancy, ALICE)
    _use(tenancy, BOB)
    alice_app = tenancy.layout.root / ALICE / "peregrine"
    bob_app = tenancy.layout.root / BOB / "peregrine"

    def swap_in_a_link() -> None:
        # What a restore gone wrong (or a hostile file system change) could leave: alice's
        # folder replaced by a link to bob's.
        shutil.rmtree(alice_app)
        alice_app.symlink_to(bob_app, target_is_directory=True)

    tenancy.replace_user_database(ALICE, swap_in_a_link)
    with pytest.raises(TenantUnavailable):
        tenancy.tenant(ALICE)
    with pytest.raises(TenantUnavailable):
        _use(tenancy, ALICE)
    _use(tenancy, BOB)


def test_the_cache_is_bounded(cloud_settings: Settings) -> None:
    import dataclasses
    import uuid

    cloud = CloudTenancy(dataclasses.replace(cloud_settings, cloud_db_cache_size=1))
    cloud.start()
    try:
        users = [str(uuid.uuid4()) for _ in range(100)]
        for user in users:
            cloud.tenant(user)
        assert len(cloud._tenants) == 64
        assert list(cloud._tenants)[-1] == users[-1]
    finally:
        cloud.stop()
