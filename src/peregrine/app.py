"""The app factory. ``create_app(settings)`` wires the implementations for the mode; the
lifespan owns every resource, so tests can build many differently configured apps."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from peregrine import __version__
from peregrine.observability.metrics import Metrics
from peregrine.observability.middleware import RequestMiddleware
from peregrine.platform.runtime import build_platform
from peregrine.settings import Settings
from peregrine.storage.backup import sweep_workdirs
from peregrine.tenancy.demo import DemoTenancy, DemoVisitorMiddleware
from peregrine.tenancy.local import LocalTenancy
from peregrine.web import errors
from peregrine.web.render import STATIC, make_environment
from peregrine.web.routes import (
    api_backup,
    api_home,
    api_jobs,
    api_privacy,
    api_reference,
    api_settings,
    health,
    metrics,
    pages_home,
    pages_review,
    pages_settings,
    privacy_page,
)
from peregrine.web.security import SecurityMiddleware

log = logging.getLogger("peregrine.app")


def create_app(settings: Settings) -> FastAPI:
    tenancy: LocalTenancy | DemoTenancy = (
        DemoTenancy(settings) if settings.demo else LocalTenancy(settings.staging_db)
    )
    registry = Metrics()
    platform = build_platform(settings, registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Backup scratch folders left by a killed process may hold decrypted data.
        sweep_workdirs(tenancy.workdir_root)
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
        # Swagger loads from a CDN (offline and CSP break it); api_reference draws our own.
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.tenancy = tenancy
    app.state.templates = make_environment()
    app.state.metrics = registry
    app.state.platform = platform
    errors.install(app)
    app.add_middleware(RequestMiddleware, metrics=registry if settings.metrics_enabled else None)
    app.add_middleware(SecurityMiddleware, settings=settings)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(health.router)
    app.include_router(api_jobs.router)
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
    if settings.cloud:
        # The consent page needs a platform user; it takes the Settings privacy tab's place.
        app.include_router(privacy_page.router)
    app.include_router(pages_home.router)
    app.include_router(pages_review.router)
    app.include_router(pages_settings.router)
    if settings.metrics_enabled:
        app.include_router(metrics.router)
    return app
