"""The app factory. ``create_app(settings)`` wires the implementations for the mode; the
lifespan owns every resource, so tests can build many differently configured apps."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from peregrine import __version__
from peregrine.llm.router import build_router
from peregrine.services.handlers import register_llm_handlers
from peregrine.settings import Settings
from peregrine.tasks.local import LocalTaskQueue
from peregrine.tasks.registry import DEFAULT, Registry
from peregrine.tenancy.local import LocalTenancy
from peregrine.web import errors
from peregrine.web.routes import api_jobs, api_letters, api_llm, api_tasks, health

log = logging.getLogger("peregrine.app")


def create_app(settings: Settings) -> FastAPI:
    tenancy = LocalTenancy(settings.staging_db)
    llm = build_router(settings)
    # The app's own registry: its handlers close over this app's router, so several apps
    # configured differently in one process (tests) never share handlers.
    registry = Registry(parent=DEFAULT)
    register_llm_handlers(registry, llm, settings)
    tasks = LocalTaskQueue(workers=settings.task_workers, registry=registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tenancy.start()
        tasks.attach(tenancy.db)
        tasks.start()
        log.info("peregrine %s started in %s mode", __version__, settings.mode)
        try:
            yield
        finally:
            tasks.stop()
            llm.close()
            tenancy.stop()

    app = FastAPI(
        title="Peregrine",
        version=__version__,
        lifespan=lifespan,
        root_path=settings.root_path,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.tenancy = tenancy
    app.state.llm = llm
    app.state.tasks = tasks
    errors.install(app)
    app.include_router(health.router)
    app.include_router(api_jobs.router)
    app.include_router(api_tasks.router)
    app.include_router(api_llm.router)
    app.include_router(api_letters.router)
    return app
