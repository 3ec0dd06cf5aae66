"""`peregrine platform …` and `peregrine admin …`: the operator's platform database commands."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click

from peregrine.cli.context import CliError, load_settings


@contextmanager
def _connect() -> Iterator[Any]:
    import psycopg

    settings = load_settings()
    if settings.platform_db_url is None:
        raise CliError("PLATFORM_DB_URL is not set (the platform database's PostgreSQL URL)")
    try:
        conn = psycopg.connect(
            settings.platform_db_url.reveal(),
            connect_timeout=settings.platform_connect_timeout,
            application_name="peregrine-cli",
        )
    except psycopg.Error as exc:
        # The driver's first line names the host and the reason, never the password.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CliError(f"cannot reach the platform database: {reason}") from None
    try:
        yield conn
    finally:
        conn.close()


@click.group()
def platform() -> None:
    """Manage the platform database (cloud mode's PostgreSQL)."""


@platform.command()
def migrate() -> None:
    """Create or update the platform schema (safe to run again; one transaction)."""
    from peregrine.platform.migrate import PlatformMigrationError
    from peregrine.platform.migrate import migrate as run_migrations

    with _connect() as conn:
        try:
            applied = run_migrations(conn)
        except PlatformMigrationError as exc:
            raise CliError(str(exc)) from None
    if applied:
        click.echo(f"applied {len(applied)} migration(s): {', '.join(applied)}")
    else:
        click.echo("the platform schema is up to date")


@click.group()
def admin() -> None:
    """Operator actions on cloud users."""


@admin.command("set-tier")
@click.argument("user")
@click.argument("tier")
@click.option(
    "--until",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Last day of the subscription period (UTC); open-ended when left out.",
)
def set_tier(user: str, tier: str, until: datetime | None) -> None:
    """Set USER's (a user id, a lowercase UUID) subscription TIER: free, paid, premium or
    ultra. Running apps pick it up within TIER_CACHE_SECONDS."""
    from peregrine.platform.ids import InvalidUserId, parse_user_id
    from peregrine.platform.tiers import UnknownTier, check_tier
    from peregrine.platform.tiers import set_tier as write_tier

    try:
        parse_user_id(user)
        check_tier(tier)
    except (InvalidUserId, UnknownTier) as exc:
        raise CliError(str(exc)) from None
    period_end = until.replace(hour=23, minute=59, second=59, tzinfo=UTC) if until else None
    if period_end is not None and period_end <= datetime.now(UTC):
        raise CliError(f"--until {until:%Y-%m-%d} is in the past")
    import psycopg

    settings = load_settings()
    with _connect() as conn:
        try:
            with conn.transaction():
                write_tier(
                    conn,
                    user_id=user,
                    product=settings.cloud_app_slug,
                    tier=tier,
                    period_end=period_end,
                )
        except psycopg.errors.UndefinedTable:
            raise CliError(
                "the platform schema is missing; run `peregrine platform migrate` first"
            ) from None
    suffix = f" until {period_end:%Y-%m-%d}" if period_end else ""
    click.echo(f"{user}: tier {tier}{suffix}")
