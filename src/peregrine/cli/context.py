"""What CLI commands share: settings from the environment and the user's database."""

from __future__ import annotations

from peregrine.settings import Settings
from peregrine.storage.userdb import UserDB


class CliError(Exception):
    """A one-line message for the person at the terminal."""


def load_settings() -> Settings:
    return Settings.from_env()


def open_local_db(settings: Settings) -> UserDB:
    """The database CLI commands work on (local and demo mode)."""
    if settings.cloud:
        raise CliError(
            "this command works on a local database; CLOUD_MODE is true "
            "(unset it, or use the admin commands for cloud users)"
        )
    return UserDB.open(settings.staging_db, create=True)
