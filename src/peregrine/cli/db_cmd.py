"""`peregrine db …`: the user's database."""

from __future__ import annotations

import click

from peregrine.cli.context import load_settings, open_local_db
from peregrine.storage.migrate import latest_version, schema_version


@click.group()
def db() -> None:
    """Manage the local database."""


@db.command()
def migrate() -> None:
    """Create the database if needed and bring its schema up to date."""
    settings = load_settings()
    handle = open_local_db(settings)
    with handle.read() as conn:
        version = schema_version(conn)
    handle.close()
    click.echo(f"{settings.staging_db}: schema version {version} (latest {latest_version()})")
