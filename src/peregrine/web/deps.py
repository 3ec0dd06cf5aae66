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
    """The requesting user's database, from the mode's tenancy (local: the one database;
    cloud: the signed-in user's, leased for the length of the request)."""
    tenancy = request.app.state.tenancy
    db: UserDB = tenancy.resolve(request)
    try:
        yield db
    finally:
        tenancy.release(request, db)


UserDBDep = Annotated[UserDB, Depends(get_user_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
