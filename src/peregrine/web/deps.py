"""Request-scoped dependencies: the user's database handle is passed explicitly."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from peregrine.settings import Settings
from peregrine.storage.userdb import UserDB


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_user_db(request: Request) -> UserDB:
    db: UserDB = request.app.state.tenancy.resolve(request)
    return db


UserDBDep = Annotated[UserDB, Depends(get_user_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
