"""The app factory. ``create_app(settings)`` wires the implementations for the mode; the
lifespan owns every resource, so tests can build many differently configured apps."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from peregrine import __version__
from peregrine.settings import Settings
from peregrine.storage.engine import sqlite_report
from peregrine.tenancy.cloud import CloudTenancy
from peregrine.tenancy.local import LocalTenancy
from peregrine.web import errors, signin
from peregrine.web.routes import api_jobs, health

log = logging.getLogger("peregrine.app")


def _tenancy(settings: Settings) -> LocalTenancy | CloudTenancy:
    """The mode is wiring: the rest of the app only sees ``resolve`` / ``release``."""
    if settings.cloud:
        return CloudTenancy(settings)
    return LocalTenancy(settings.staging_db)


def create_app(settings: Settings) -> FastAPI:
    tenancy = _tenancy(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Kept on app.state for the doctor command.
        app.state.sqlite = report = sqlite_report()
        if report.wal_reset_bug:
            log.warning("%s", report.message)
        tenancy.start()
        log.info("peregrine %s started in %s mode", __version__, settings.mode)
        try:
            yield
        finally:
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
    errors.install(app)
    signin.install(app, login_url=settings.login_url)
    app.include_router(health.router)
    app.include_router(api_jobs.router)
    return app
