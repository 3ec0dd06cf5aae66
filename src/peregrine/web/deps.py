"""Request-scoped dependencies: the user's database handle is passed explicitly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from peregrine.settings import Settings
from peregrine.storage.userdb import UserDB


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_user_db(request: Request) -> Iterator[UserDB]:
    # Leased for the whole request, so a restore waits for it (or it gets 409 while a
    # restore runs) instead of ever seeing a half-replaced database.
    with request.app.state.tenancy.store(request).borrow() as db:
        yield db


R = TypeVar("R")


async def read_with(
    request: Request,
    read: Callable[[UserDB], R],
    *,
    cached: Callable[[UserDB], R | None] | None = None,
) -> R:
    """Run ``read`` on the user's database for a read-only ``async def`` handler.

    Why: a sync handler with a sync dependency hops to the thread pool twice per request,
    and with 16 requests in flight the threads' fight for the GIL more than doubled the CPU
    time of the review page. In local mode the one user's reads of a WAL database never
    wait for a writer, so they run on the event loop. Handlers that write stay sync (a
    write can wait on the busy timeout).

    Cloud and demo mode take one hop for the borrow and the read together: borrowing may
    verify the session with Directus, open a database or copy the demo seed, and one
    tenant's slow query (a free-text search over a large database) must not stall every
    other tenant's requests on the loop.

    ``cached`` serves a page from its cache, or answers None. In cloud mode it runs on the
    loop when the user's database can be reached without I/O (``borrow_ready``): the hop
    cost three times what the rest of a cached page costs. It must only look up what is
    cached (one small query at most); building the page stays in ``read``, off the loop.
    """
    tenancy = request.app.state.tenancy
    if getattr(tenancy, "borrows_without_io", False):
        with tenancy.store(request).borrow() as db:
            return read(db)
    ready = getattr(tenancy, "borrow_ready", None) if cached is not None else None
    lease = ready(request) if ready is not None else None
    if lease is not None and cached is not None:
        with lease as db:
            hit = cached(db)
        if hit is not None:
            return hit

    def borrowed() -> R:
        with tenancy.store(request).borrow() as db:
            return read(db)

    return await run_in_threadpool(borrowed)


Q = TypeVar("Q", bound=BaseModel)


def query_model(request: Request, model: type[Q], *, lists: tuple[str, ...] = ()) -> Q:
    """The query string validated by one pydantic model, for the hottest read routes.

    FastAPI's per-parameter work cost more than the whole cached review page, so those
    routes take ``request`` alone and validate here. A bad value raises the same
    ``RequestValidationError`` FastAPI would (same messages, same 422 from errors.py).
    Names in ``lists`` take every value given; the others the last one, as FastAPI does.
    """
    values: dict[str, Any] = dict(request.query_params)
    for name in lists:
        if name in values:
            values[name] = request.query_params.getlist(name)
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("query", *error["loc"])} for error in exc.errors()]
        ) from None


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """OpenAPI parameters for a route that validates its query with ``query_model``."""
    schema = model.model_json_schema()
    return [
        {"name": name, "in": "query", "required": False, "schema": field}
        for name, field in schema["properties"].items()
    ]


UserDBDep = Annotated[UserDB, Depends(get_user_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
