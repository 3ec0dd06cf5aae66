"""`peregrine worker`: run cloud-mode background tasks from the platform database's queue."""

from __future__ import annotations

import click

from peregrine.cli.context import CliError, load_settings


@click.command()
@click.option(
    "--concurrency",
    type=click.IntRange(1, 32),
    default=2,
    show_default=True,
    help="Tasks this process runs at once (each in its own thread).",
)
@click.option(
    "--queue",
    default="peregrine",
    show_default=True,
    help="Queue to take tasks from (letters, digits, _ and -).",
)
@click.option(
    "--stalled-after",
    type=click.FloatRange(1, 3600),
    default=30.0,
    show_default=True,
    help="Seconds without a heartbeat after which another worker is taken as dead and "
    "its running tasks are marked interrupted.",
)
def worker(concurrency: int, queue: str, stalled_after: float) -> None:
    """Run queued background tasks (cloud mode with PLATFORM_DB_URL).

    Needs the same CLOUD_DATA_ROOT, CF_SERVER_SECRET and PLATFORM_DB_URL as the app.
    Any number of workers, on any host that mounts the data root, share the queue.
    SIGTERM or Ctrl-C stops it: running tasks finish or go back to the queue.
    """
    import asyncio
    import contextlib
    import re
    import signal
    import socket
    import threading

    import psycopg

    from peregrine.observability.logs import configure_logging
    from peregrine.platform import queue_schema
    from peregrine.tenancy.task_access import TaskTenancy

    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", queue):
        raise CliError(f"--queue {queue!r}: use letters, digits, _ and - (at most 64)")
    settings = load_settings()
    if not settings.cloud:
        raise CliError(
            "peregrine worker runs cloud-mode tasks; set CLOUD_MODE=true (local and demo "
            "mode run tasks inside `peregrine serve`)"
        )
    if settings.platform_db_url is None:
        raise CliError("PLATFORM_DB_URL is not set (the platform database's PostgreSQL URL)")
    if not settings.cloud_data_root.is_dir():
        raise CliError(f"CLOUD_DATA_ROOT {settings.cloud_data_root} is not a folder")
    conninfo = settings.platform_db_url.reveal()
    try:
        with psycopg.connect(
            conninfo,
            connect_timeout=settings.platform_connect_timeout,
            application_name="peregrine-worker",
        ) as conn:
            ready = queue_schema.installed(conn)
    except psycopg.Error as exc:
        # The driver's first line names the host and the reason, never the password.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CliError(f"cannot reach the platform database: {reason}") from None
    if not ready:
        raise CliError("the task queue tables are missing; run `peregrine platform migrate`")

    from peregrine.app import task_registry
    from peregrine.llm.router import build_router
    from peregrine.observability.metrics import Metrics
    from peregrine.platform.runtime import build_platform
    from peregrine.platform.task_events import task_finished_reporter
    from peregrine.tasks.worker import UserTaskRunner, WorkerOptions, run_worker

    configure_logging(level=settings.log_level, log_format=settings.log_format)
    llm = build_router(settings)
    stopping = threading.Event()
    tenancy = TaskTenancy(settings)
    # The same platform telemetry as the app (settings, pool, buffer, consent checks): a
    # task finished here is reported exactly as one finished by the app's own worker.
    metrics = Metrics()
    platform = build_platform(settings, metrics)
    runner = UserTaskRunner(
        registry=task_registry(settings, llm),
        tenancy=tenancy,
        stopping=stopping,
        on_finished=task_finished_reporter(platform.telemetry),
    )
    options = WorkerOptions(
        conninfo=conninfo,
        queue=queue,
        concurrency=concurrency,
        name=f"peregrine-worker@{socket.gethostname()}",
        stalled_after=stalled_after,
        connect_timeout=settings.platform_connect_timeout,
    )

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()

        def stop() -> None:
            # Handlers see cancelled() at their next check; the worker then waits for
            # them and returns.
            stopping.set()
            task.cancel()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop)
        with contextlib.suppress(asyncio.CancelledError):
            await run_worker(options, runner)

    click.echo(f"peregrine worker: queue {queue}, concurrency {concurrency}", err=True)
    # Opens without waiting; telemetry never holds up or fails a task.
    platform.start()
    try:
        asyncio.run(main())
    finally:
        tenancy.stop()
        llm.close()
        # After the last task has finished: its event is in the buffer and is written now
        # (within the pool's timeouts; dropped and counted if PostgreSQL is away).
        platform.stop()
    # A worker has no /metrics endpoint: its telemetry totals go to its log instead.
    written = metrics.registry.get_sample_value("peregrine_telemetry_written_events_total")
    dropped = sum(
        sample.value
        for family in metrics.telemetry_dropped.collect()
        for sample in family.samples
        if sample.name.endswith("_total")
    )
    click.echo(
        f"peregrine worker stopped (usage events: {int(written or 0)} written, "
        f"{int(dropped)} not written)",
        err=True,
    )
