"""The app factory. ``create_app(settings)`` wires the implementations for the mode; the
lifespan owns every resource, so tests can build many differently configured apps."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from peregrine import __version__
from peregrine.settings import Settings
from peregrine.storage.backup import sweep_workdirs
from peregrine.tenancy.local import LocalTenancy
from peregrine.web import errors
from peregrine.web.routes import api_backup, api_jobs, health

log = logging.getLogger("peregrine.app")


def create_app(settings: Settings) -> FastAPI:
    tenancy = LocalTenancy(settings.staging_db)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Backup scratch folders left by a killed process may hold decrypted data.
        sweep_workdirs(tenancy.workdir_root)
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
    app.include_router(health.router)
    app.include_router(api_jobs.router)
    app.include_router(api_backup.router)
    return app
