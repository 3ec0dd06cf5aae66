"""Crash leftovers of a user are cleared once per process, not on every reopen of their handle.

The sweep removes folders that carry this process's own pid (they can only be left by a
dead process whose pid was reused). The handle cache closes and reopens busy users all the
time, so sweeping on every open deleted the snapshot of an export still streaming.
"""

from __future__ import annotations

import os
import time
import zipfile
from io import BytesIO
from pathlib import Path

from fastapi.testclient import TestClient

from peregrine.app import create_app
from peregrine.settings import Settings
from peregrine.storage.backup import owner_tag
from peregrine.storage.backup_export import open_export
from peregrine.storage.backup_swap import staged_path
from peregrine.tenancy.local import WORKDIR_NAME
from tests.integration.cloud.conftest import ALICE, BOB, Minter, cookie


def test_an_export_survives_its_owner_being_reopened_meanwhile(
    cloud_client: TestClient, mint: Minter
) -> None:
    assert cloud_client.get("/api/v1/jobs", headers=cookie(mint(ALICE))).status_code == 200
    tenancy = cloud_client.app.state.tenancy  # type: ignore[attr-defined]
    tenant = tenancy.layout.tenant(ALICE)
    export = open_export(tenant.db_path, key=tenant.key, workdir_root=tenant.folder / WORKDIR_NAME)
    try:
        # Another request evicts and reopens alice's handle while her download runs.
        tenancy.close_user(ALICE)
        assert cloud_client.get("/api/v1/jobs", headers=cookie(mint(BOB))).status_code == 200
        assert cloud_client.get("/api/v1/jobs", headers=cookie(mint(ALICE))).status_code == 200
        archive = b"".join(export.chunks())
    finally:
        export.close()
    assert zipfile.ZipFile(BytesIO(archive)).testzip() is None


def test_scratch_left_by_a_dead_process_is_swept_on_first_open(
    cloud_client: TestClient, mint: Minter, data_root: Path
) -> None:
    scratch = data_root / ALICE / "peregrine" / WORKDIR_NAME / "otherhost.1.leftover"
    scratch.mkdir(parents=True)
    (scratch / "snapshot.db").write_bytes(b"decrypted leftovers")
    # Another node's folder counts as its work in flight for two hours, not longer.
    hours_ago = time.time() - 3 * 3600
    os.utime(scratch, (hours_ago, hours_ago))
    assert cloud_client.get("/api/v1/jobs", headers=cookie(mint(ALICE))).status_code == 200
    assert not scratch.exists()


def test_a_restore_in_flight_keeps_its_staged_file_when_a_task_reopens_the_user(
    cloud_settings: Settings, mint: Minter
) -> None:
    app = create_app(cloud_settings)
    with TestClient(app, base_url="https://127.0.0.1:8505") as client:
        assert client.get("/api/v1/jobs", headers=cookie(mint(ALICE))).status_code == 200
        tenancy = app.state.tenancy
        target = tenancy.layout.tenant(ALICE).db_path
        # What swap_in puts beside the database while a restore of this process runs.
        staged = staged_path(target)
        staged.write_bytes(b"the restore being swapped in")
        tenancy.close_user(ALICE)
        with tenancy.lease(ALICE) as db:  # a background task opening alice meanwhile
            db.execute("SELECT 1")
        assert staged.exists()
    # A new process finds it left by a dead one (here: the same file, named as if made by
    # a process that has exited), and clears it before serving alice.
    host = owner_tag().split(".")[0]
    dead = staged.with_name(f"{target.name}.restore-new-{host}.999999999.ab12.ff")
    staged.rename(dead)
    staged = dead
    with TestClient(create_app(cloud_settings), base_url="https://127.0.0.1:8505") as client:
        assert client.get("/api/v1/jobs", headers=cookie(mint(ALICE))).status_code == 200
    assert not staged.exists()
