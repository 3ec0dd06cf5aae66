"""The app factory. ``create_app(settings)`` wires the implementations for the mode; the
lifespan owns every resource, so tests can build many differently configured apps."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from peregrine import __version__
from peregrine.observability.metrics import Metrics
from peregrine.observability.middleware import RequestMiddleware
from peregrine.platform.runtime import build_platform
from peregrine.settings import Settings
from peregrine.tenancy.local import LocalTenancy
from peregrine.web import errors
from peregrine.web.routes import api_jobs, api_privacy, health, metrics, privacy_page

log = logging.getLogger("peregrine.app")


def create_app(settings: Settings) -> FastAPI:
    tenancy = LocalTenancy(settings.staging_db)
    registry = Metrics()
    platform = build_platform(settings, registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tenancy.start()
        # Opens the platform pool without waiting: the app serves while PostgreSQL is down.
        platform.start()
        log.info("peregrine %s started in %s mode", __version__, settings.mode)
        try:
            yield
        finally:
            platform.stop()
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
    app.state.metrics = registry
    app.state.platform = platform
    errors.install(app)
    app.add_middleware(RequestMiddleware, metrics=registry if settings.metrics_enabled else None)
    app.include_router(health.router)
    app.include_router(api_jobs.router)
    app.include_router(api_privacy.router)
    app.include_router(privacy_page.router)
    if settings.metrics_enabled:
        app.include_router(metrics.router)
    return app
