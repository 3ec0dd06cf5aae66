"""After a restore or a rollback swaps the database, the task queue serves the new one:
tasks queued in the restored database run."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from peregrine.app import create_app
from peregrine.lib.clock import now_iso
from peregrine.settings import Settings
from peregrine.storage.backup_swap import snapshot_path
from peregrine.storage.queries import tasks as task_q
from peregrine.storage.userdb import UserDB
from peregrine.tasks.model import TaskContext


def wait_for(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def queue_in_file(path: Path, word: str) -> int:
    db = UserDB.open(path, create=True)
    try:
        with db.write() as conn:
            info = task_q.insert_task(
                conn, kind="mark", job_id=None, params={"word": word}, now=now_iso()
            )
    finally:
        db.close()
    return info.id


def status(db: UserDB, task_id: int) -> str:
    with db.read() as conn:
        info = task_q.get_task(conn, task_id=task_id)
    assert info is not None
    return info.status


def test_tasks_queued_in_a_restored_or_rolled_back_database_run(tmp_path: Path) -> None:
    app = create_app(Settings.from_env({"PEREGRINE_DATA_DIR": str(tmp_path / "data")}))
    ran: list[str] = []

    def mark(ctx: TaskContext) -> dict[str, Any]:
        ran.append(ctx.params["word"])
        return {"ok": True}

    app.state.tasks.registry.register("mark", mark)
    with TestClient(app, base_url="http://127.0.0.1:8502"):
        tenancy = app.state.tenancy
        before = tenancy.db
        staged = tmp_path / "restored.db"
        restored_task = queue_in_file(staged, "restored")

        tenancy.replace_database(staged)

        assert tenancy.db is not before
        wait_for(lambda: status(tenancy.db, restored_task) == "succeeded")
        assert ran == ["restored"]

        # The pre-restore database waits as the snapshot; queue a task in it, roll back.
        rollback_task = queue_in_file(snapshot_path(tenancy.staging_db), "rolled back")
        tenancy.rollback_database()

        wait_for(lambda: status(tenancy.db, rollback_task) == "succeeded")
        assert ran == ["restored", "rolled back"]
        # Only the open database is served; closed handles are gone from the queue.
        assert app.state.tasks._dbs == [tenancy.db]
