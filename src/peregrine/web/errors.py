"""Errors become JSON with a message a person understands; never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from peregrine.services.jobs import JobInputError
from peregrine.services.pipeline import JobNotFoundError, TransitionError
from peregrine.storage.backup import BackupError, RestoreInProgressError

log = logging.getLogger("peregrine.web")


def _json(status: int, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def _describe(error: dict[str, Any]) -> str:
    loc = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "query"))
    return f"{loc}: {error.get('msg')}" if loc else str(error.get("msg"))


def install(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _json(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [_describe(e) for e in exc.errors()]
        return _json(422, "; ".join(problems) or "invalid request", problems=problems)

    @app.exception_handler(TransitionError)
    async def transition_error(_: Request, exc: TransitionError) -> JSONResponse:
        return _json(409, str(exc))

    @app.exception_handler(JobNotFoundError)
    async def not_found(_: Request, exc: JobNotFoundError) -> JSONResponse:
        return _json(404, str(exc))

    @app.exception_handler(JobInputError)
    async def bad_input(_: Request, exc: JobInputError) -> JSONResponse:
        return _json(422, str(exc))

    @app.exception_handler(RestoreInProgressError)
    async def restore_in_progress(_: Request, exc: RestoreInProgressError) -> JSONResponse:
        return _json(409, str(exc))

    @app.exception_handler(BackupError)
    async def backup_error(_: Request, exc: BackupError) -> JSONResponse:
        return _json(422, str(exc))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return _json(500, "something went wrong on our side; the error has been logged")
