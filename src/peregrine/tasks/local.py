"""The in-process task queue for local and demo mode.

A fixed number of worker threads (bounded, so a burst of 200 tasks never becomes 200
threads competing with page requests) claim queued rows from the user's database with a
conditional UPDATE. The database is the queue: a restart loses nothing queued, and running
rows left by a crash are marked ``interrupted`` when the database is attached again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from peregrine.lib.clock import now_iso
from peregrine.storage.queries import tasks as task_q
from peregrine.storage.userdb import UserDB
from peregrine.tasks.model import TaskCancelled, TaskContext, TaskInfo, run_handler
from peregrine.tasks.queue import TaskRows
from peregrine.tasks.registry import DEFAULT, Registry

log = logging.getLogger("peregrine.tasks")

_IDLE_WAIT_S = 5.0
# Failed opens of one owner's database before it is forgotten (about 2.5 minutes of
# backing off from 5 s).
OWNER_OPEN_ATTEMPTS = 6

# Told about each task that succeeded: (owner, kind, result, seconds taken). The owner is
# whoever ``remember_owner`` named for the task's database, or None.
FinishedHook = Callable[[str | None, str, dict[str, Any], float], None]


class LocalTaskQueue(TaskRows):
    def __init__(self, *, workers: int = 2, registry: Registry | None = None) -> None:
        if workers < 1:
            raise ValueError("a task queue needs at least one worker")
        self.workers = workers
        self.registry = registry or Registry(parent=DEFAULT)
        self._dbs: list[UserDB] = []
        self._wake = threading.Condition()
        self._pending = 0  # wake-ups not yet consumed, so a notify is never lost
        self._stopping = False
        self._threads: list[threading.Thread] = []
        # Keyed by database and id: task ids are per database, so with several users'
        # databases attached, bob's task 1 is not alice's task 1.
        self._cancel_requests: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        # Database path → the user it belongs to, as the web layer said at submit time;
        # tasks run outside requests, so this is how a finished task knows its user.
        self._user_by_path: dict[str, str] = {}
        self.on_finished: FinishedHook | None = None
        # Cloud mode: users whose databases have queued work. Workers open each one through
        # ``_lease`` instead of keeping a request's handle, which the registry may close.
        self._owners: dict[str, int] = {}  # owner → submits seen, so a poll racing a
        # submit never forgets an owner whose new task it did not see
        # owner → (failed opens in a row, monotonic time of the next try): an owner whose
        # database cannot be opened (account erased, sandbox dropped, key trouble) is tried
        # again later, less and less often, then forgotten until their next submit.
        self._open_failures: dict[str, tuple[int, float]] = {}
        self._owner_of: Callable[[UserDB], str | None] | None = None
        self._lease: Callable[[str], AbstractContextManager[UserDB]] | None = None

    def open_through(
        self,
        *,
        owner_of: Callable[[UserDB], str | None],
        lease: Callable[[str], AbstractContextManager[UserDB]],
    ) -> None:
        """Remember the owner of each submitted database and let workers open it
        themselves with ``lease(owner)`` (wired by the app in cloud mode)."""
        self._owner_of = owner_of
        self._lease = lease

    # -- lifecycle (owned by the app lifespan) ---------------------------------------------

    def attach(self, db: UserDB) -> int:
        """Serve tasks of ``db``; running rows left by a previous process become
        ``interrupted``. Returns how many were interrupted."""
        with db.write() as conn:
            interrupted = task_q.interrupt_running(conn, now=now_iso())
            queued = task_q.count_queued(conn)
        with self._lock:
            if db not in self._dbs:
                self._dbs.append(db)
        if interrupted:
            log.warning("%d task(s) were interrupted by a restart", interrupted)
        self._notify(queued)
        return interrupted

    def remember_owner(self, db: UserDB, user_id: str) -> None:
        with self._lock:
            self._user_by_path[str(db.path)] = user_id

    def depth(self) -> int:
        """Tasks queued or running across attached databases; read when metrics are
        scraped, so a database that cannot be read counts as zero rather than failing."""
        with self._lock:
            dbs = list(self._dbs)
        total = 0
        for db in dbs:
            if db.closed:
                continue
            try:
                with db.read() as conn:
                    total += task_q.count_active(conn)
            except Exception:
                log.warning("cannot read the task queue depth of one database")
        return total

    def detach(self, db: UserDB) -> None:
        with self._lock:
            if db in self._dbs:
                self._dbs.remove(db)

    def follow(self, old: UserDB | None, new: UserDB) -> None:
        """Serve ``new`` instead of ``old`` (a restored or rolled-back database), so the
        tasks queued in the restored database run."""
        if old is not None:
            self.detach(old)
        self.attach(new)

    def start(self) -> None:
        self._stopping = False
        for number in range(self.workers):
            thread = threading.Thread(
                target=self._run, name=f"peregrine-task-{number}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask workers to stop after their current task; running handlers see a cancel."""
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    # -- the interface callers use ----------------------------------------------------------

    def submit(
        self,
        db: UserDB,
        *,
        kind: str,
        job_id: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> TaskInfo:
        params = self._accepted(kind, params)
        with db.write() as conn:
            info = task_q.insert_task(conn, kind=kind, job_id=job_id, params=params, now=now_iso())
        owner = self._owner_of(db) if self._owner_of is not None else None
        with self._lock:
            if owner is not None:
                self._owners[owner] = self._owners.get(owner, 0) + 1
                # They just used their database: whatever failed before is worth a new try.
                self._open_failures.pop(owner, None)
            elif db not in self._dbs:
                self._dbs.append(db)
        if info.created:
            self._notify(1)
        return info

    def cancel(self, db: UserDB, *, task_id: int) -> bool:
        """Cancel a queued task at once; a running one stops at its next check."""
        with db.write() as conn:
            before = task_q.get_task(conn, task_id=task_id)
            done = task_q.cancel_task(conn, task_id=task_id, now=now_iso())
        if done and before is not None and before.status == "running":
            with self._lock:
                self._cancel_requests.add((str(db.path), task_id))
        return done

    # -- workers ----------------------------------------------------------------------------

    def _notify(self, count: int) -> None:
        if count <= 0:
            return
        with self._wake:
            self._pending += count
            self._wake.notify(count)

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._pending <= 0 and not self._stopping:
                    # The timeout is a safety net: tasks queued by another process (the CLI)
                    # are picked up without a notify.
                    if not self._wake.wait(_IDLE_WAIT_S):
                        self._pending += 1
                if self._stopping:
                    return
                self._pending -= 1
            while not self._stopping and self._run_one():
                pass

    def _run_one(self) -> bool:
        """Claim and run one task from any attached database; False when none waits."""
        with self._lock:
            dbs = list(self._dbs)
            owners = sorted(self._owners.items())
        for db in dbs:
            if self._run_from(db):
                return True
        for owner, seen in owners:
            if self._lease is None:
                break
            failures, next_try = self._open_failures.get(owner, (0, 0.0))
            if failures and time.monotonic() < next_try:
                continue
            try:
                with self._lease(owner) as db:
                    self._open_failures.pop(owner, None)
                    if self._run_from(db):
                        return True
            except Exception:
                self._owner_unopenable(owner, seen, failures + 1)
                continue
            self._forget_owner(owner, seen)
        return False

    def _owner_unopenable(self, owner: str, seen: int, failures: int) -> None:
        if failures >= OWNER_OPEN_ATTEMPTS:
            # The owner's tasks stay queued in their database; the next submit (or a
            # restart) tries again.
            log.warning("giving up on a task owner's database after %d failed opens", failures)
            self._open_failures.pop(owner, None)
            self._forget_owner(owner, seen)
            return
        if failures == 1:
            log.exception("cannot open the database of a task owner; retrying later")
        delay = _IDLE_WAIT_S * 2 ** (failures - 1)
        self._open_failures[owner] = (failures, time.monotonic() + delay)

    def _forget_owner(self, owner: str, seen: int) -> None:
        with self._lock:
            # Nothing left to do for them: forget the owner until their next submit, unless
            # a submit arrived since this poll began.
            if self._owners.get(owner) == seen:
                del self._owners[owner]

    def _run_from(self, db: UserDB) -> bool:
        """Claim and run one queued task of ``db``; False when it has none."""
        if db.closed:
            return False
        try:
            # A read first: idle polls must not take the database's write lock.
            with db.read() as conn:
                if not task_q.count_queued(conn):
                    return False
            with db.write() as conn:
                info = task_q.claim_next(conn, now=now_iso())
                params = task_q.task_params(conn, task_id=info.id) if info else {}
        except Exception:
            log.exception("cannot claim a task")
            return False
        if info is None:
            return False
        self._execute(db, info, params)
        return True

    def _execute(self, db: UserDB, info: TaskInfo, params: dict[str, Any]) -> None:
        task_id = info.id
        key = (str(db.path), task_id)

        def cancelled() -> bool:
            with self._lock:
                return self._stopping or key in self._cancel_requests

        def report(stage: str, progress: float) -> None:
            with db.write() as conn:
                still_running = task_q.report_progress(
                    conn, task_id=task_id, stage=stage, progress=progress
                )
            if not still_running:
                # Cancelled by another process: remember it so ``cancelled()`` says so.
                with self._lock:
                    self._cancel_requests.add(key)

        ctx = TaskContext(
            db=db,
            task_id=task_id,
            job_id=info.job_id,
            params=params,
            _report=report,
            _cancelled=cancelled,
        )
        handler = self.registry.get(info.kind)
        status, result, error = "failed", None, None
        started = time.monotonic()
        try:
            result = run_handler(handler, info.kind, ctx)
            # A cancel that came too late to stop the handler loses to the finished work
            # only if the row is still running (the conditional UPDATE below decides).
            status = "succeeded"
        except TaskCancelled:
            status = "interrupted" if self._stopping else "cancelled"
            error = "stopped by server shutdown" if self._stopping else "cancelled on request"
        except Exception as exc:
            result = None
            # Handlers raise exceptions with messages meant for people; anything else is
            # logged in full here and stored as one line.
            log.warning("task %d (%s) failed: %s", task_id, info.kind, exc, exc_info=exc)
            error = str(exc) or type(exc).__name__
        try:
            with db.write() as conn:
                task_q.finish_task(
                    conn, task_id=task_id, status=status, now=now_iso(), result=result, error=error
                )
        except Exception:
            log.exception("cannot record the outcome of task %d", task_id)
        with self._lock:
            self._cancel_requests.discard(key)
            owner = self._user_by_path.get(str(db.path))
        if status == "succeeded" and result is not None and self.on_finished is not None:
            try:
                self.on_finished(owner, info.kind, result, time.monotonic() - started)
            except Exception:
                # Reporting must never turn finished work into a failure.
                log.exception("the finished-task hook failed for task %d", task_id)
