"""The cloud task queue: Procrastinate on the platform PostgreSQL.

The user's own ``tasks`` table stays the record the user sees (list, progress, cancel,
retry work exactly as in local mode); a Procrastinate job only says *which* task to run:
``{"user_id", "task_id", "kind"}``. Never a path or a key: a worker derives both from the
user id itself (tenancy/task_access.py), so a forged or stale job can reach nothing else.

Dedup per (user, kind, job) happens twice, on purpose:
- in the user's database, where a partial unique index makes "insert or return the active
  task" one atomic statement (the answer the user gets);
- in the queue, with Procrastinate's ``queueing_lock`` ``<user>:<kind>:<job>``: two waiting
  jobs for the same work cannot exist, whichever app node deferred them. A lock still held
  by a job whose task is no longer active (its cancel could not reach PostgreSQL) is
  cancelled and the new job deferred in its place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import procrastinate
from procrastinate import exceptions as pq_exc
from procrastinate import jobs as pq_jobs

from peregrine.lib.clock import now_iso
from peregrine.platform.pool import PlatformDB, PlatformUnavailable
from peregrine.storage.queries import tasks as task_q
from peregrine.storage.userdb import UserDB
from peregrine.tasks.model import TaskError, TaskInfo
from peregrine.tasks.queue import TaskRows
from peregrine.tasks.registry import DEFAULT, Registry

log = logging.getLogger("peregrine.tasks")

TASK_NAME = "peregrine.run_user_task"
DEFAULT_QUEUE = "peregrine"
FinishedHook = Callable[[str | None, str, dict[str, Any], float], None]


class TaskQueueUnavailable(TaskError):
    """The queue (PostgreSQL) cannot take the task now; the request may be tried again."""


def queueing_lock(user_id: str, kind: str, job_id: int | None) -> str:
    return f"{user_id}:{kind}:{'-' if job_id is None else job_id}"


def job_args(user_id: str, task_id: int, kind: str) -> dict[str, Any]:
    return {"user_id": user_id, "task_id": task_id, "kind": kind}


class ProcrastinateTaskQueue(TaskRows):
    """What the web app uses (``app.state.tasks``) in cloud mode with a platform database.

    ``embedded`` is an optional worker run inside the server process (start/stop follow
    the app's lifespan); without it, `peregrine worker` processes run the tasks.
    """

    def __init__(
        self,
        platform_db: PlatformDB,
        *,
        registry: Registry | None = None,
        queue: str = DEFAULT_QUEUE,
        embedded: Any = None,
    ) -> None:
        self.registry = registry or Registry(parent=DEFAULT)
        self.queue = queue
        self._db = platform_db
        # Never opened: every call below passes a connection from the platform pool, so
        # deferring shares that pool's timeouts and its "keep serving while PostgreSQL is
        # away" behaviour.
        self._app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector())
        self._owner_of: Callable[[UserDB], str | None] | None = None
        self._user_by_path: dict[str, str] = {}
        self.embedded = embedded
        self._on_finished: FinishedHook | None = None

    @property
    def on_finished(self) -> FinishedHook | None:
        return self._on_finished

    @on_finished.setter
    def on_finished(self, hook: FinishedHook | None) -> None:
        # Handed straight to the embedded worker's runner, the code that calls it: a hook
        # set after start() still reaches the tasks that finish from then on.
        self._on_finished = hook
        if self.embedded is not None:
            self.embedded.on_finished = hook

    # -- wiring kept compatible with LocalTaskQueue -----------------------------------------

    def open_through(
        self,
        *,
        owner_of: Callable[[UserDB], str | None],
        lease: Callable[[str], AbstractContextManager[UserDB]],
    ) -> None:
        self._owner_of = owner_of

    def remember_owner(self, db: UserDB, user_id: str) -> None:
        self._user_by_path[str(db.path)] = user_id

    def start(self) -> None:
        if self.embedded is not None:
            self.embedded.on_finished = self.on_finished
            self.embedded.start()

    def stop(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()

    def depth(self) -> int:
        """Jobs waiting or running in this queue (0 when PostgreSQL cannot say)."""
        try:
            with self._db.connection(timeout=1.0) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM procrastinate_jobs "
                    "WHERE queue_name = %s AND status IN ('todo', 'doing')",
                    (self.queue,),
                ).fetchone()
        except (PlatformUnavailable, Exception):
            return 0
        return int(row[0]) if row else 0

    # -- the interface callers use ----------------------------------------------------------

    def _owner(self, db: UserDB) -> str:
        owner = self._owner_of(db) if self._owner_of is not None else None
        owner = owner or self._user_by_path.get(str(db.path))
        if owner is None:
            # Only a database opened for a signed-in user can have tasks queued.
            raise TaskError("background tasks need a signed-in user")
        return owner

    def submit(
        self,
        db: UserDB,
        *,
        kind: str,
        job_id: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> TaskInfo:
        params = self._accepted(kind, params)
        owner = self._owner(db)
        with db.write() as conn:
            info = task_q.insert_task(conn, kind=kind, job_id=job_id, params=params, now=now_iso())
        if not info.created:
            return info
        try:
            self._defer(owner, info)
        except TaskQueueUnavailable:
            # The row must not wait for a job that does not exist.
            with db.write() as conn:
                task_q.cancel_task(conn, task_id=info.id, now=now_iso())
            raise
        return info

    def cancel(self, db: UserDB, *, task_id: int) -> bool:
        """Cancel in the user's database (what counts); a queued task's job is cancelled
        too, and a running one stops at its handler's next check."""
        with db.write() as conn:
            before = task_q.get_task(conn, task_id=task_id)
            done = task_q.cancel_task(conn, task_id=task_id, now=now_iso())
        if done and before is not None and before.status == "queued":
            try:
                self._cancel_waiting(self._owner(db), before.kind, before.job_id, task_id)
            except (TaskError, PlatformUnavailable):
                # Harmless: a worker finds the task cancelled and skips it.
                log.warning("task %d: its queued job could not be cancelled now", task_id)
        return done

    # -- Procrastinate ----------------------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        try:
            with self._db.connection() as conn:
                yield conn
        except PlatformUnavailable:
            raise TaskQueueUnavailable(
                "the task queue is unavailable right now; try again in a minute"
            ) from None

    def _defer(self, owner: str, info: TaskInfo) -> int:
        lock = queueing_lock(owner, info.kind, info.job_id)
        job = pq_jobs.Job(
            id=None,
            queue=self.queue,
            lock=None,
            queueing_lock=lock,
            task_name=TASK_NAME,
            task_kwargs=job_args(owner, info.id, info.kind),
        )
        for attempt in (1, 2):
            try:
                with self._connection() as conn:
                    deferred = self._app.job_manager.defer_job(job, connection=conn)
                assert deferred.id is not None
                return deferred.id
            except pq_exc.AlreadyEnqueued:
                if attempt == 2:
                    raise TaskError("this task is already queued") from None
                # The lock's holder is a job whose task is no longer active (the user DB
                # just let a new task in): cancel that stale job and take its place.
                self._cancel_waiting(owner, info.kind, info.job_id, None)
            except pq_exc.ConnectorException as exc:
                log.warning("cannot defer task %d: %s", info.id, type(exc.__cause__).__name__)
                raise TaskQueueUnavailable(
                    "the task queue is unavailable right now; try again in a minute"
                ) from None
        raise AssertionError("unreachable")

    def _cancel_waiting(
        self, owner: str, kind: str, job_id: int | None, task_id: int | None
    ) -> int:
        """Cancel the waiting job(s) holding this work's queueing lock (only the one for
        ``task_id`` when given). Returns how many were cancelled."""
        lock = queueing_lock(owner, kind, job_id)
        cancelled = 0
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT id, args FROM procrastinate_jobs "
                "WHERE queueing_lock = %s AND status = 'todo'",
                (lock,),
            ).fetchall()
            for job_row_id, args in rows:
                if task_id is not None and (args or {}).get("task_id") != task_id:
                    continue
                if self._app.job_manager.cancel_job_by_id(job_row_id, connection=conn):
                    cancelled += 1
        return cancelled
