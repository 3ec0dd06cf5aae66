"""The Procrastinate worker: `peregrine worker` and the server's embedded worker.

Each job names ``{user_id, task_id, kind}``. The worker opens that user's existing database
itself (tenancy/task_access.py), claims the task row (``queued`` → ``running``, so a task
cancelled while waiting never starts), runs the registered handler with the same
``TaskContext`` as local mode, and records the outcome in the user's database.

Stopping and dying:
- On SIGTERM (or the app's shutdown) running handlers see ``cancelled()``; a task stopped
  that way goes back to ``queued`` and its job is retried by Procrastinate (at most
  ``MAX_ATTEMPTS`` runs in all, then it is marked ``interrupted``). A handler that finishes
  anyway keeps its result.
- A worker killed outright stops sending heartbeats. Every worker looks for such stalled
  jobs; the first to finish the job in PostgreSQL (an atomic state change, so exactly one
  wins) marks the task ``interrupted`` in the user's database, where the user sees it and
  can retry it, as after a local-mode crash. Not retried automatically: a task that kills
  its worker (memory, a crash in a parser) must not take down one worker after another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import procrastinate
import psycopg_pool
from procrastinate import jobs as pq_jobs

from peregrine.lib.clock import now_iso
from peregrine.storage.queries import tasks as task_q
from peregrine.storage.userdb import UserDB
from peregrine.tasks.distributed import DEFAULT_QUEUE, TASK_NAME, FinishedHook
from peregrine.tasks.model import TaskCancelled, TaskContext, run_handler
from peregrine.tasks.registry import Registry
from peregrine.tenancy.identity import canonical_user_id
from peregrine.tenancy.task_access import TaskTenancy, TaskUserRefused

log = logging.getLogger("peregrine.tasks")

MAX_ATTEMPTS = 3
_CANCEL_POLL_S = 0.5


class Requeue(Exception):
    """Raised to Procrastinate so it puts the job back in the queue (worker stopping)."""


class JobRefused(Exception):
    """The job cannot be run safely (bad arguments, unreadable database); it fails."""


class UserTaskRunner:
    """Runs one job's task against its user's database."""

    def __init__(
        self,
        *,
        registry: Registry,
        tenancy: TaskTenancy,
        stopping: threading.Event,
        on_finished: FinishedHook | None = None,
    ) -> None:
        self.registry = registry
        self.tenancy = tenancy
        self.stopping = stopping
        self.on_finished = on_finished

    def run(self, *, user_id: object, task_id: object, kind: object, attempts: int) -> str:
        """Returns the outcome; raises ``Requeue`` or ``JobRefused`` for Procrastinate."""
        if not isinstance(task_id, int) or isinstance(task_id, bool) or not isinstance(kind, str):
            raise JobRefused("the job's task id or kind is malformed")
        try:
            with self.tenancy.lease(user_id) as db:
                # lease() accepted the id: the task and its usage event belong to it.
                return self._run_in(db, canonical_user_id(user_id), task_id, kind, attempts)
        except TaskUserRefused as exc:
            if exc.reason in ("deleted", "unknown"):
                # Audit line: the job is dropped, nothing is opened or created.
                log.warning("dropped task %d (%s): %s", task_id, kind, exc)
                return "dropped"
            log.error("refused task %d (%s): %s", task_id, kind, exc)
            raise JobRefused(str(exc)) from None

    def _run_in(self, db: UserDB, user_id: str, task_id: int, kind: str, attempts: int) -> str:
        with db.write() as conn:
            info = task_q.claim_task(conn, task_id=task_id, kind=kind, now=now_iso())
            params = task_q.task_params(conn, task_id=task_id) if info else {}
        if info is None:
            return "skipped"  # cancelled while waiting, or already run
        state = {"cancelled": False, "checked": 0.0}

        def cancelled() -> bool:
            if self.stopping.is_set() or state["cancelled"]:
                return True
            now = time.monotonic()
            if now - float(state["checked"]) >= _CANCEL_POLL_S:
                # The row is the cancel signal: any app node may have cancelled it.
                state["checked"] = now
                with db.read() as conn:
                    current = task_q.get_task(conn, task_id=task_id)
                state["cancelled"] = current is None or current.status != "running"
            return bool(state["cancelled"])

        def report(stage: str, progress: float) -> None:
            with db.write() as conn:
                if not task_q.report_progress(
                    conn, task_id=task_id, stage=stage, progress=progress
                ):
                    state["cancelled"] = True

        ctx = TaskContext(
            db=db,
            task_id=task_id,
            job_id=info.job_id,
            params=params,
            _report=report,
            _cancelled=cancelled,
        )
        handler = self.registry.get(kind)
        status, result, error = "failed", None, None
        started = time.monotonic()
        try:
            result = run_handler(handler, kind, ctx)
            status = "succeeded"
        except TaskCancelled:
            if self.stopping.is_set() and not state["cancelled"]:
                return self._stop_for_shutdown(db, task_id, attempts)
            status, error = "cancelled", "cancelled on request"
        except Exception as exc:
            result = None
            log.warning("task %d (%s) failed: %s", task_id, kind, exc, exc_info=exc)
            error = str(exc) or type(exc).__name__
        with db.write() as conn:
            task_q.finish_task(
                conn, task_id=task_id, status=status, now=now_iso(), result=result, error=error
            )
        if status == "succeeded" and result is not None and self.on_finished is not None:
            try:
                self.on_finished(user_id, kind, result, time.monotonic() - started)
            except Exception:
                log.exception("the finished-task hook failed for task %d", task_id)
        return status

    def _stop_for_shutdown(self, db: UserDB, task_id: int, attempts: int) -> str:
        if attempts + 1 >= MAX_ATTEMPTS:
            with db.write() as conn:
                task_q.interrupt_task(
                    conn,
                    task_id=task_id,
                    now=now_iso(),
                    error="stopped by worker shutdowns too often; it can be retried",
                )
            return "interrupted"
        with db.write() as conn:
            requeued = task_q.requeue_task(conn, task_id=task_id)
        if requeued:
            # Row first, then the job: no other worker can fetch the job before it is
            # back in the queue, and by then the row is claimable again.
            raise Requeue
        return "cancelled"

    def interrupt_stalled(self, args: dict[str, Any]) -> None:
        """The task of a job whose worker died: mark it interrupted (see module doc)."""
        user_id, task_id = args.get("user_id"), args.get("task_id")
        if not isinstance(task_id, int):
            return
        try:
            with self.tenancy.lease(user_id) as db, db.write() as conn:
                task_q.interrupt_task(
                    conn,
                    task_id=task_id,
                    now=now_iso(),
                    error="the worker running this task stopped; it can be retried",
                )
        except TaskUserRefused as exc:
            log.warning("stalled task %d: %s", task_id, exc)


@dataclass
class WorkerOptions:
    conninfo: str
    queue: str = DEFAULT_QUEUE
    concurrency: int = 2
    name: str = "peregrine-worker"
    # A worker silent for this long is taken as dead and its tasks marked interrupted.
    stalled_after: float = 30.0
    connect_timeout: int = 3


def build_app(options: WorkerOptions, runner: UserTaskRunner) -> procrastinate.App:
    # The pool is given at open time (run_worker).
    app = procrastinate.App(connector=procrastinate.PsycopgConnector())

    @app.task(
        name=TASK_NAME,
        queue=options.queue,
        pass_context=True,
        retry=procrastinate.RetryStrategy(
            max_attempts=MAX_ATTEMPTS, wait=0, retry_exceptions={Requeue}
        ),
    )
    def run_user_task(
        context: procrastinate.JobContext,
        user_id: object = None,
        task_id: object = None,
        kind: object = None,
    ) -> str:
        return runner.run(
            user_id=user_id, task_id=task_id, kind=kind, attempts=context.job.attempts
        )

    return app


async def _sweep_stalled(
    app: procrastinate.App, runner: UserTaskRunner, options: WorkerOptions
) -> None:
    every = max(0.5, options.stalled_after / 3)
    while True:
        await asyncio.sleep(every)
        try:
            stalled = await app.job_manager.get_stalled_jobs(
                queue=options.queue,
                task_name=TASK_NAME,
                seconds_since_heartbeat=options.stalled_after,
            )
            for job in stalled:
                try:
                    await app.job_manager.finish_job(
                        job, status=pq_jobs.Status.FAILED, delete_job=False
                    )
                except Exception:  # noqa: S112 - another worker finished it first
                    continue
                log.warning("job %s: its worker stopped; marking the task interrupted", job.id)
                await asyncio.to_thread(runner.interrupt_stalled, dict(job.task_kwargs))
            await asyncio.to_thread(runner.tenancy.sweep)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("stalled-job sweep failed: %s", type(exc).__name__)


async def run_worker(options: WorkerOptions, runner: UserTaskRunner) -> None:
    """Run until cancelled; cancelling lets running tasks finish or requeue first."""
    # Procrastinate's info lines repeat each job's arguments, user ids included; ours name
    # a one-way ref instead.
    logging.getLogger("procrastinate").setLevel(max(logging.WARNING, log.getEffectiveLevel()))
    app = build_app(options, runner)
    # Our own pool, closed in every case: a pool whose first connection fails inside
    # Procrastinate's open would leave its background tasks running.
    pool = psycopg_pool.AsyncConnectionPool(
        options.conninfo,
        min_size=1,
        # Jobs, the LISTEN connection, heartbeats and the stalled-job sweep.
        max_size=options.concurrency + 3,
        open=False,
        check=psycopg_pool.AsyncConnectionPool.check_connection,
        kwargs={"application_name": options.name, "connect_timeout": options.connect_timeout},
    )
    try:
        await pool.open(wait=True, timeout=max(5.0, 2.0 * options.connect_timeout))
        async with app.open_async(pool):
            await _work(app, runner, options)
    finally:
        await pool.close()


async def _work(app: procrastinate.App, runner: UserTaskRunner, options: WorkerOptions) -> None:
    sweeper = asyncio.create_task(_sweep_stalled(app, runner, options))
    try:
        await app.run_worker_async(
            queues=[options.queue],
            concurrency=options.concurrency,
            name=options.name,
            wait=True,
            install_signal_handlers=False,
            update_heartbeat_interval=max(0.5, options.stalled_after / 3),
            stalled_worker_timeout=options.stalled_after,
            fetch_job_polling_interval=2.0,
        )
    finally:
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper


class EmbeddedWorker:
    """The worker inside the server process: its own thread and event loop, started and
    stopped by the app's lifespan."""

    def __init__(self, options: WorkerOptions, runner: UserTaskRunner) -> None:
        self.options = options
        self.runner = runner
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = threading.Event()

    @property
    def on_finished(self) -> FinishedHook | None:
        return self.runner.on_finished

    @on_finished.setter
    def on_finished(self, hook: FinishedHook | None) -> None:
        self.runner.on_finished = hook

    def start(self) -> None:
        self.runner.stopping.clear()
        self._thread = threading.Thread(target=self._main, name="peregrine-worker", daemon=True)
        self._thread.start()
        self._ready.wait(5)

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        # Libraries ask for "the current loop" from this thread (psycopg's pool, asgiref).
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            self._task = loop.create_task(self._run_forever())
            self._ready.set()
            loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        finally:
            # Whatever the libraries left pending ends here, before the loop closes.
            leftover = asyncio.all_tasks(loop)
            for task in leftover:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            asyncio.set_event_loop(None)
            loop.close()

    async def _run_forever(self) -> None:
        # PostgreSQL may be down when the app starts: keep trying, the app serves meanwhile.
        while True:
            try:
                await run_worker(self.options, self.runner)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "embedded task worker stopped (%s); restarting in 5 s", type(exc).__name__
                )
                await asyncio.sleep(5)

    def stop(self, timeout: float = 30.0) -> None:
        self.runner.stopping.set()
        if self._loop is not None and self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        if self._thread is not None:
            self._thread.join(timeout)
        self.runner.tenancy.stop()
        self._thread = None
