"""How a background worker opens a user's database from a job's user id: existing data
only, never a new folder, and refusals that name no id."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

import pytest

from peregrine.storage.backup_export import write_export
from peregrine.storage.backup_restore import stage_restore
from peregrine.storage.backup_swap import swap_in
from peregrine.storage.erasure import erase_user
from peregrine.storage.userdb import UserDB
from peregrine.tenancy.cloud import CloudTenancy
from peregrine.tenancy.identity import derive_key
from peregrine.tenancy.task_access import TaskTenancy, TaskUserRefused
from tests.integration.cloud.conftest import ALICE, BOB, MALLORY, files_under, make_settings


def _provision(data_root: Path, jwt_secret: str, server_secret: str, *users: str) -> None:
    tenancy = CloudTenancy(make_settings(data_root, jwt_secret, server_secret))
    tenancy.start()
    try:
        for user in users:
            with tenancy.lease(user) as db, db.write() as conn:
                conn.execute(
                    "INSERT INTO preferences (key, value) VALUES ('who', ?)", (f'"{user}"',)
                )
    finally:
        tenancy.stop()


def _refusal(tenancy: TaskTenancy, user: object) -> TaskUserRefused:
    with pytest.raises(TaskUserRefused) as caught, tenancy.lease(user):
        pass
    return caught.value


def test_it_opens_each_users_existing_database_by_id(
    data_root: Path, jwt_secret: str, server_secret: str
) -> None:
    _provision(data_root, jwt_secret, server_secret, ALICE, BOB)
    tenancy = TaskTenancy(make_settings(data_root, jwt_secret, server_secret))
    try:
        for user in (ALICE, BOB):
            with tenancy.lease(user) as db, db.read() as conn:
                row = conn.execute("SELECT value FROM preferences WHERE key = 'who'").fetchone()
            assert row[0] == f'"{user}"'
    finally:
        tenancy.stop()


@pytest.mark.parametrize(
    "user",
    ["../../etc", "/etc", ALICE.upper(), "{" + ALICE + "}", ALICE + "\n", "a\x00b", 42, None],
)
def test_a_malformed_id_is_refused_and_creates_nothing(
    data_root: Path, jwt_secret: str, server_secret: str, user: object
) -> None:
    tenancy = TaskTenancy(make_settings(data_root, jwt_secret, server_secret))
    before = files_under(data_root)
    refused = _refusal(tenancy, user)
    assert refused.reason == "invalid"
    assert files_under(data_root) == before


def test_unknown_and_deleted_users_are_refused_without_a_trace_of_their_id(
    data_root: Path, jwt_secret: str, server_secret: str
) -> None:
    _provision(data_root, jwt_secret, server_secret, BOB)
    erase_user(data_root, BOB)
    tenancy = TaskTenancy(make_settings(data_root, jwt_secret, server_secret))
    before = files_under(data_root)
    unknown, deleted = _refusal(tenancy, MALLORY), _refusal(tenancy, BOB)
    assert (unknown.reason, deleted.reason) == ("unknown", "deleted")
    assert MALLORY not in str(unknown)
    assert BOB not in str(deleted)
    assert files_under(data_root) == before


def test_a_wrong_secret_is_refused_and_the_file_is_untouched(
    data_root: Path, jwt_secret: str, server_secret: str
) -> None:
    _provision(data_root, jwt_secret, server_secret, ALICE)
    db_file = data_root / ALICE / "peregrine" / "staging.db"
    content = db_file.read_bytes()
    tenancy = TaskTenancy(make_settings(data_root, jwt_secret, secrets.token_hex(32)))
    assert _refusal(tenancy, ALICE).reason == "unreadable"
    assert db_file.read_bytes() == content


def test_mid_rotation_it_rekeys_from_the_previous_secret(
    data_root: Path, jwt_secret: str, server_secret: str
) -> None:
    _provision(data_root, jwt_secret, server_secret, ALICE)
    new_secret = secrets.token_hex(32)
    rotated = make_settings(
        data_root, jwt_secret, new_secret, CF_SERVER_SECRET_PREVIOUS=server_secret
    )
    tenancy = TaskTenancy(rotated)
    try:
        with tenancy.lease(ALICE) as db, db.read() as conn:
            row = conn.execute("SELECT value FROM preferences WHERE key = 'who'").fetchone()
        assert row[0] == f'"{ALICE}"'
    finally:
        tenancy.stop()
    # Re-keyed for good: the new secret alone opens it now.
    plain = TaskTenancy(make_settings(data_root, jwt_secret, new_secret))
    try:
        with plain.lease(ALICE):
            pass
    finally:
        plain.stop()


def test_a_database_replaced_by_another_process_is_reopened_not_written_stale(
    data_root: Path, jwt_secret: str, server_secret: str
) -> None:
    _provision(data_root, jwt_secret, server_secret, ALICE)
    settings = make_settings(data_root, jwt_secret, server_secret)
    tenancy = TaskTenancy(settings)
    try:
        with tenancy.lease(ALICE):
            pass  # the handle stays cached
        # A restore elsewhere swaps in another file (new inode) with other content.
        path = data_root / ALICE / "peregrine" / "staging.db"
        restored = path.with_name("restored.db")
        shutil.copyfile(path, restored)
        key = derive_key(server_secret.encode(), ALICE)
        copy = UserDB.open(restored, key=key, create=False)
        with copy.write() as conn:
            conn.execute("UPDATE preferences SET value = '\"restored\"' WHERE key = 'who'")
        copy.close()
        os.replace(restored, path)
        with tenancy.lease(ALICE) as db, db.read() as conn:
            row = conn.execute("SELECT value FROM preferences WHERE key = 'who'").fetchone()
        assert row[0] == '"restored"'
    finally:
        tenancy.stop()


def test_a_finished_task_leaves_no_handle_that_would_block_the_users_restore(
    data_root: Path, jwt_secret: str, server_secret: str, tmp_path: Path
) -> None:
    _provision(data_root, jwt_secret, server_secret, ALICE)
    tenancy = TaskTenancy(make_settings(data_root, jwt_secret, server_secret))
    path = data_root / ALICE / "peregrine" / "staging.db"
    key = derive_key(server_secret.encode(), ALICE)
    try:
        with tenancy.lease(ALICE) as db, db.write() as conn:
            conn.execute("INSERT INTO preferences (key, value) VALUES ('task', '\"ran\"')")
        archive = tmp_path / "alice.zip"
        write_export(path, key=key, workdir_root=tmp_path / "work", out=archive)
        staged = stage_restore(archive, target=path, key=key, workdir_root=tmp_path / "work")
        # The real swap needs the database to itself: a worker's cached handle refused it.
        swap_in(staged.path, path, key=key)
        with tenancy.lease(ALICE) as db, db.read() as conn:
            row = conn.execute("SELECT value FROM preferences WHERE key = 'task'").fetchone()
        assert row[0] == '"ran"'
    finally:
        tenancy.stop()
