"""Errors become JSON with a message a person understands; never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

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
from peregrine.tasks.model import TaskError

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

    @app.exception_handler(LetterError)
    @app.exception_handler(ResearchError)
    @app.exception_handler(PrepError)
    async def model_work_error(_: Request, exc: ValueError) -> JSONResponse:
        return _json(422, str(exc))

    @app.exception_handler(TaskError)
    async def task_error(_: Request, exc: TaskError) -> JSONResponse:
        return _json(422, str(exc))

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
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return _json(500, "something went wrong on our side; the error has been logged")
