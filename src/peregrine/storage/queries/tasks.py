"""SQL on the ``tasks`` table: durable records of background work.

State changes are conditional ``UPDATE … WHERE status = …`` statements checked by rowcount,
so a cancel racing a finishing worker has exactly one winner and no lock is needed.
"""

from __future__ import annotations

import json
from typing import Any

from peregrine.tasks.model import TaskInfo

_COLUMNS = (
    "id, type, job_id, params, status, stage, progress, result, error, created_at, "
    "started_at, finished_at"
)


def _info(row: Any, *, created: bool = False) -> TaskInfo:
    return TaskInfo(
        id=row["id"],
        kind=row["type"],
        job_id=row["job_id"],
        status=row["status"],
        stage=row["stage"],
        progress=row["progress"],
        result=json.loads(row["result"]) if row["result"] else None,
        error=row["error"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        created=created,
    )


def active_task(conn: Any, *, kind: str, job_id: int | None) -> TaskInfo | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM tasks WHERE type = ? AND coalesce(job_id, 0) = ? "
        "AND status IN ('queued', 'running')",
        (kind, job_id or 0),
    ).fetchone()
    return _info(row) if row else None


def insert_task(
    conn: Any, *, kind: str, job_id: int | None, params: dict[str, Any], now: str
) -> TaskInfo:
    """Queue a task, or return the active one for (kind, job) with ``created`` False.

    ``ON CONFLICT DO NOTHING`` against the partial unique index makes the check and the
    insert one atomic step, so two simultaneous requests cannot both create a task.
    """
    row = conn.execute(
        "INSERT INTO tasks (type, job_id, params, status, created_at) "
        "VALUES (?, ?, ?, 'queued', ?) "
        "ON CONFLICT (type, coalesce(job_id, 0)) WHERE status IN ('queued', 'running') "
        f"DO NOTHING RETURNING {_COLUMNS}",
        (kind, job_id, json.dumps(params), now),
    ).fetchone()
    if row is not None:
        return _info(row, created=True)
    existing = active_task(conn, kind=kind, job_id=job_id)
    assert existing is not None  # the conflict proves an active row exists in this snapshot
    return existing


def get_task(conn: Any, *, task_id: int) -> TaskInfo | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM tasks WHERE id = ?", (task_id,)).fetchone()
    return _info(row) if row else None


def task_params(conn: Any, *, task_id: int) -> dict[str, Any]:
    row = conn.execute("SELECT params FROM tasks WHERE id = ?", (task_id,)).fetchone()
    return dict(json.loads(row[0])) if row else {}


def list_tasks(
    conn: Any, *, active_only: bool = False, job_id: int | None = None, limit: int = 20
) -> list[TaskInfo]:
    where = ["1 = 1"]
    args: list[Any] = []
    if active_only:
        where.append("status IN ('queued', 'running')")
    if job_id is not None:
        where.append("job_id = ?")
        args.append(job_id)
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM tasks WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
        (*args, limit),
    )
    return [_info(r) for r in rows]


def claim_next(conn: Any, *, now: str) -> TaskInfo | None:
    """Move the oldest queued task to running and return it (None when nothing waits)."""
    row = conn.execute(
        "UPDATE tasks SET status = 'running', started_at = ?, attempts = attempts + 1, "
        "stage = 'started' WHERE id = (SELECT id FROM tasks WHERE status = 'queued' "
        f"ORDER BY id LIMIT 1) AND status = 'queued' RETURNING {_COLUMNS}",
        (now,),
    ).fetchone()
    return _info(row) if row else None


def report_progress(conn: Any, *, task_id: int, stage: str, progress: float) -> bool:
    """Store a progress stage; False when the task is no longer running (e.g. cancelled)."""
    cur = conn.execute(
        "UPDATE tasks SET stage = ?, progress = ? WHERE id = ? AND status = 'running'",
        (stage[:200], progress, task_id),
    )
    return bool(cur.rowcount)


def finish_task(
    conn: Any,
    *,
    task_id: int,
    status: str,
    now: str,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> bool:
    """Record the outcome of a running task; False if it was cancelled meanwhile."""
    cur = conn.execute(
        "UPDATE tasks SET status = ?, result = ?, error = ?, finished_at = ?, "
        "progress = CASE WHEN ? = 'succeeded' THEN 1 ELSE progress END, "
        "stage = CASE WHEN ? = 'succeeded' THEN 'done' ELSE stage END "
        "WHERE id = ? AND status = 'running'",
        (
            status,
            json.dumps(result) if result is not None else None,
            error,
            now,
            status,
            status,
            task_id,
        ),
    )
    return bool(cur.rowcount)


def cancel_task(conn: Any, *, task_id: int, now: str) -> bool:
    cur = conn.execute(
        "UPDATE tasks SET status = 'cancelled', finished_at = ?, "
        "error = coalesce(error, 'cancelled on request') "
        "WHERE id = ? AND status IN ('queued', 'running')",
        (now, task_id),
    )
    return bool(cur.rowcount)


def interrupt_running(conn: Any, *, now: str) -> int:
    """After a restart nothing can still be running: mark such tasks interrupted."""
    cur = conn.execute(
        "UPDATE tasks SET status = 'interrupted', finished_at = ?, "
        "error = 'the server stopped while this task ran; it can be retried' "
        "WHERE status = 'running'",
        (now,),
    )
    return int(cur.rowcount)


def count_queued(conn: Any) -> int:
    return int(conn.execute("SELECT count(*) FROM tasks WHERE status = 'queued'").fetchone()[0])


def count_active(conn: Any) -> int:
    """Tasks queued or running: the queue depth the metrics gauge reports."""
    row = conn.execute(
        "SELECT count(*) FROM tasks WHERE status IN ('queued', 'running')"
    ).fetchone()
    return int(row[0])


def claim_task(conn: Any, *, task_id: int, kind: str, now: str) -> TaskInfo | None:
    """Move one named queued task to running (distributed workers are told which task to
    run); None when it is no longer queued, e.g. cancelled meanwhile."""
    row = conn.execute(
        "UPDATE tasks SET status = 'running', started_at = ?, attempts = attempts + 1, "
        "stage = 'started' WHERE id = ? AND type = ? AND status = 'queued' "
        f"RETURNING {_COLUMNS}",
        (now, task_id, kind),
    ).fetchone()
    return _info(row) if row else None


def requeue_task(conn: Any, *, task_id: int) -> bool:
    """Put a running task back in the queue (its worker is stopping or died)."""
    cur = conn.execute(
        "UPDATE tasks SET status = 'queued', started_at = NULL, stage = '', progress = 0 "
        "WHERE id = ? AND status = 'running'",
        (task_id,),
    )
    return bool(cur.rowcount)


def interrupt_task(conn: Any, *, task_id: int, now: str, error: str) -> bool:
    """Mark one running (or queued) task interrupted: its work cannot go on."""
    cur = conn.execute(
        "UPDATE tasks SET status = 'interrupted', finished_at = ?, error = ? "
        "WHERE id = ? AND status IN ('queued', 'running')",
        (now, error, task_id),
    )
    return bool(cur.rowcount)
