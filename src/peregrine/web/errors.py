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

from peregrine.llm.errors import (
    LLMBlockedError,
    LLMConfigError,
    LLMNotConfiguredError,
    LLMUnavailableError,
)
from peregrine.services.cover_letters import LetterError
from peregrine.services.jobs import JobInputError
from peregrine.services.pipeline import JobNotFoundError, TransitionError
from peregrine.services.prep import PrepError
from peregrine.services.research import ResearchError
from peregrine.storage.backup import BackupError, RestoreInProgressError
from peregrine.tasks.distributed import TaskQueueUnavailable
from peregrine.tasks.model import TaskError
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

    @app.exception_handler(LetterError)
    @app.exception_handler(ResearchError)
    @app.exception_handler(PrepError)
    async def model_work_error(_: Request, exc: ValueError) -> JSONResponse:
        return _json(422, str(exc))

    @app.exception_handler(TaskError)
    async def task_error(_: Request, exc: TaskError) -> JSONResponse:
        return _json(422, str(exc))

    @app.exception_handler(TaskQueueUnavailable)
    async def task_queue_unavailable(_: Request, exc: TaskQueueUnavailable) -> JSONResponse:
        return _json(503, str(exc))

    @app.exception_handler(LLMBlockedError)
    async def llm_blocked(_: Request, exc: LLMBlockedError) -> JSONResponse:
        return _json(403, str(exc), reason="llm_blocked")

    @app.exception_handler(LLMNotConfiguredError)
    async def llm_not_configured(_: Request, exc: LLMNotConfiguredError) -> JSONResponse:
        return _json(409, str(exc), reason="llm_not_configured", settings_link=exc.settings_link)

    @app.exception_handler(LLMConfigError)
    async def llm_config(_: Request, exc: LLMConfigError) -> JSONResponse:
        return _json(409, str(exc), reason="llm_config_invalid")

    @app.exception_handler(LLMUnavailableError)
    async def llm_unavailable(_: Request, exc: LLMUnavailableError) -> JSONResponse:
        return _json(502, str(exc), reason="llm_unavailable")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return _respond(
            request, 500, "Something went wrong on our side; the error has been logged."
        )
