"""The app factory. ``create_app(settings)`` wires the implementations for the mode; the
lifespan owns every resource, so tests can build many differently configured apps."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from peregrine import __version__
from peregrine.llm.router import LLMRouter, build_router
from peregrine.observability.metrics import Metrics
from peregrine.observability.middleware import RequestMiddleware
from peregrine.platform.runtime import PlatformServices, build_platform
from peregrine.platform.task_events import task_finished_reporter
from peregrine.services.discovery_tasks import (
    discover_handler,
    enrich_handler,
    score_handler,
)
from peregrine.services.handlers import register_llm_handlers
from peregrine.settings import Settings
from peregrine.storage.backup import sweep_workdirs
from peregrine.storage.engine import sqlite_report
from peregrine.tasks.distributed import ProcrastinateTaskQueue
from peregrine.tasks.local import LocalTaskQueue
from peregrine.tasks.registry import DEFAULT, Registry
from peregrine.tasks.worker import EmbeddedWorker, UserTaskRunner, WorkerOptions
from peregrine.tenancy.cloud import CloudTenancy
from peregrine.tenancy.demo import DemoTenancy, DemoVisitorMiddleware
from peregrine.tenancy.local import LocalTenancy
from peregrine.tenancy.task_access import TaskTenancy
from peregrine.web import errors, signin
from peregrine.web.node import NodeMiddleware
from peregrine.web.render import STATIC, make_environment
from peregrine.web.routes import (
    account,
    api_backup,
    api_home,
    api_jobs,
    api_letters,
    api_llm,
    api_privacy,
    api_reference,
    api_settings,
    api_tasks,
    api_workspace,
    health,
    metrics,
    pages_apply,
    pages_home,
    pages_pipeline,
    pages_prep,
    pages_review,
    pages_settings,
)
from peregrine.web.security import SecurityMiddleware

log = logging.getLogger("peregrine.app")


def _tenancy(settings: Settings) -> LocalTenancy | DemoTenancy | CloudTenancy:
    """The mode is wiring: the rest of the app only sees ``store(request)`` (tenancy/store.py)."""
    if settings.cloud:
        return CloudTenancy(settings)
    if settings.demo:
        return DemoTenancy(settings)
    return LocalTenancy(settings.staging_db)


def task_registry(settings: Settings, llm: LLMRouter) -> Registry:
    """The task handlers of one app (or `peregrine worker`): they close over its LLM router,
    so several apps configured differently in one process (tests) never share handlers."""
    handlers = Registry(parent=DEFAULT)
    register_llm_handlers(handlers, llm, settings)
    handlers.register("discover", discover_handler)
    handlers.register("score", score_handler)
    handlers.register("enrich", enrich_handler)
    return handlers


def _task_queue(
    settings: Settings, platform: PlatformServices, handlers: Registry
) -> LocalTaskQueue | ProcrastinateTaskQueue:
    """Cloud mode with a platform database: the shared Procrastinate queue (plus a worker
    in this process unless PEREGRINE_EMBEDDED_WORKER is false). Otherwise: in-process."""
    if not settings.cloud or platform.db is None or settings.platform_db_url is None:
        return LocalTaskQueue(workers=settings.task_workers, registry=handlers)
    embedded = None
    if settings.embedded_worker:
        embedded = EmbeddedWorker(
            WorkerOptions(
                conninfo=settings.platform_db_url.reveal(),
                concurrency=settings.task_workers,
                name=f"peregrine-app-{settings.node_name or 'worker'}",
                connect_timeout=settings.platform_connect_timeout,
            ),
            UserTaskRunner(
                registry=handlers, tenancy=TaskTenancy(settings), stopping=threading.Event()
            ),
        )
    return ProcrastinateTaskQueue(platform.db, registry=handlers, embedded=embedded)


def create_app(settings: Settings) -> FastAPI:
    tenancy = _tenancy(settings)
    metrics_registry = Metrics()
    platform = build_platform(settings, metrics_registry)
    llm = build_router(settings)
    handlers = task_registry(settings, llm)
    tasks = _task_queue(settings, platform, handlers)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Kept on app.state for the doctor command.
        app.state.sqlite = report = sqlite_report()
        if report.wal_reset_bug:
            log.warning("%s", report.message)
        # Backup scratch folders left by a killed process may hold decrypted data.
        sweep_workdirs(tenancy.workdir_root)
        tenancy.start()
        # Opens the platform pool without waiting: the app serves while PostgreSQL is down.
        platform.start()
        if isinstance(tenancy, LocalTenancy) and isinstance(tasks, LocalTaskQueue):
            # Restart recovery: tasks left running by a previous process become
            # 'interrupted', queued ones resume. Other users' databases attach on submit.
            tasks.attach(tenancy.db)
            tenancy.on_reopen.append(tasks.follow)
        elif isinstance(tenancy, CloudTenancy | DemoTenancy):
            # Request handles may be closed by the registry once the request ends: workers
            # open each user's (or demo visitor's) database themselves, for as long as a
            # task runs.
            tasks.open_through(owner_of=tenancy.owner_of, lease=tenancy.lease)
        tasks.start()
        log.info("peregrine %s started in %s mode", __version__, settings.mode)
        try:
            yield
        finally:
            tasks.stop()
            llm.close()
            platform.stop()
            tenancy.stop()

    app = FastAPI(
        # FastAPI's native OpenTelemetry hooks look the global providers up on every request
        # (environment reads included); Peregrine reports through its own metrics instead.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        title="Peregrine",
        version=__version__,
        lifespan=lifespan,
        # Swagger loads from a CDN (offline and CSP break it); api_reference draws our own.
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.tenancy = tenancy
    app.state.templates = make_environment()
    app.state.metrics = metrics_registry
    app.state.platform = platform
    app.state.llm = llm
    app.state.tasks = tasks
    metrics_registry.watch_tenant_handles(
        (lambda: len(tenancy.registry))
        if isinstance(tenancy, CloudTenancy | DemoTenancy)
        else (lambda: 1)
    )
    metrics_registry.watch_task_queue_depth(tasks.depth)
    tasks.on_finished = task_finished_reporter(platform.telemetry)
    errors.install(app)
    app.add_middleware(
        RequestMiddleware, metrics=metrics_registry if settings.metrics_enabled else None
    )
    app.add_middleware(SecurityMiddleware, settings=settings)
    app.add_middleware(NodeMiddleware, settings=settings)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    signin.install(app, login_url=settings.login_url)
    # The hottest routes first: routers are matched in order, one route at a time, and the
    # review page sat behind nine routers' worth of failed matches (~0.3 ms a request).
    # No path of these three overlaps another router's, so the order changes nothing else.
    app.include_router(pages_review.router)
    app.include_router(api_jobs.router)
    app.include_router(health.router)
    if settings.demo:
        app.add_middleware(
            DemoVisitorMiddleware,
            ttl_minutes=settings.demo_sandbox_ttl_minutes,
            cookie_path=settings.root_path or "/",
        )
    app.include_router(api_backup.router)
    app.include_router(api_reference.router)
    app.include_router(api_home.router)
    app.include_router(api_settings.router)
    app.include_router(api_privacy.router)
    app.include_router(account.router)
    app.include_router(pages_home.router)
    app.include_router(pages_settings.router)
    if settings.metrics_enabled:
        app.include_router(metrics.router)
    app.include_router(api_tasks.router)
    app.include_router(api_llm.router)
    app.include_router(api_letters.router)
    app.include_router(api_workspace.router)
    app.include_router(pages_apply.router)
    app.include_router(pages_pipeline.router)
    app.include_router(pages_prep.router)
    return app
