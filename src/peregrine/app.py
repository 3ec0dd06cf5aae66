"""The app factory. ``create_app(settings)`` wires the implementations for the mode; the
lifespan owns every resource, so tests can build many differently configured apps."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from peregrine import __version__
from peregrine.settings import Settings
from peregrine.tenancy.local import LocalTenancy
from peregrine.web import errors
from peregrine.web.render import STATIC, make_environment
from peregrine.web.routes import (
    api_jobs,
    api_reference,
    api_workspace,
    health,
    pages_apply,
    pages_home,
    pages_pipeline,
    pages_prep,
    pages_review,
    pages_settings,
)
from peregrine.web.security import SecurityMiddleware

log = logging.getLogger("peregrine.app")


def create_app(settings: Settings) -> FastAPI:
    tenancy = LocalTenancy(settings.staging_db)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
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
        # Swagger loads from a CDN (offline and CSP break it); api_reference draws our own.
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.tenancy = tenancy
    app.state.templates = make_environment()
    errors.install(app)
    app.add_middleware(SecurityMiddleware, settings=settings)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(health.router)
    app.include_router(api_jobs.router)
    app.include_router(api_reference.router)
    app.include_router(pages_home.router)
    app.include_router(pages_review.router)
    app.include_router(pages_settings.router)
    app.include_router(api_workspace.router)
    app.include_router(pages_apply.router)
    app.include_router(pages_pipeline.router)
    app.include_router(pages_prep.router)
    return app
