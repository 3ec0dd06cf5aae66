"""Request-scoped dependencies: the user's database handle is passed explicitly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request

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


UserDBDep = Annotated[UserDB, Depends(get_user_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
