"""Errors a person understands: JSON with a message under ``/api/``, a friendly page
elsewhere. Never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from peregrine.services.jobs import JobInputError
from peregrine.services.pipeline import JobNotFoundError, TransitionError
from peregrine.storage.backup import BackupError, RestoreInProgressError
from peregrine.web.security import BodyTooLargeError, is_api_path

log = logging.getLogger("peregrine.web")

_TITLES = {
    400: "That request could not be understood",
    403: "Not allowed",
    404: "Page not found",
    405: "That action is not available here",
    409: "That could not be done",
    413: "Too large",
    422: "Some of what was sent is not valid",
    500: "Something went wrong",
}


def _json(status: int, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def _respond(request: Request, status: int, message: str, **extra: object) -> Response:
    if is_api_path(request.scope):
        return _json(status, message, **extra)
    from peregrine.web.render import render

    try:
        return render(
            request,
            "error.html",
            {"status": status, "title": _TITLES.get(status, "Error"), "message": message},
            status=status,
        )
    except Exception:
        # The error page itself failed (e.g. a broken template): fall back to plain JSON
        # rather than a traceback.
        log.exception("error page failed")
        return _json(status, message)


def _describe(error: dict[str, Any]) -> str:
    loc = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "query"))
    return f"{loc}: {error.get('msg')}" if loc else str(error.get("msg"))


def install(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = "There is nothing at this address."
        elif exc.status_code == 405 and message == "Method Not Allowed":
            message = "This address does not accept that kind of request."
        return _respond(request, exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = [_describe(e) for e in exc.errors()]
        return _respond(request, 422, "; ".join(problems) or "invalid request", problems=problems)

    @app.exception_handler(TransitionError)
    async def transition_error(request: Request, exc: TransitionError) -> Response:
        return _respond(request, 409, str(exc))

    @app.exception_handler(JobNotFoundError)
    async def not_found(request: Request, exc: JobNotFoundError) -> Response:
        return _respond(request, 404, str(exc))

    @app.exception_handler(JobInputError)
    async def bad_input(request: Request, exc: JobInputError) -> Response:
        return _respond(request, 422, str(exc))

    @app.exception_handler(BodyTooLargeError)
    async def too_large(request: Request, _: BodyTooLargeError) -> Response:
        limit = request.app.state.settings.max_body_bytes
        return _respond(request, 413, f"The request is larger than the limit of {limit} bytes.")

    @app.exception_handler(RestoreInProgressError)
    async def restore_in_progress(_: Request, exc: RestoreInProgressError) -> JSONResponse:
        return _json(409, str(exc))

    @app.exception_handler(BackupError)
    async def backup_error(_: Request, exc: BackupError) -> JSONResponse:
        return _json(422, str(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return _respond(
            request, 500, "Something went wrong on our side; the error has been logged."
        )
