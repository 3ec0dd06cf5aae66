"""`peregrine demo …`: seed and reset the public demo's data folder."""

from __future__ import annotations

import click

from peregrine.cli.context import CliError, load_settings
from peregrine.settings import Settings


@click.group()
def demo() -> None:
    """Manage the public demo's fictional job search (needs DEMO_MODE=true)."""


def _demo_settings() -> Settings:
    settings = load_settings()
    if not settings.demo:
        # Seeding is refused outside demo mode so demo rows never land in a real data folder.
        raise CliError(
            "demo commands need DEMO_MODE=true and PEREGRINE_DATA_DIR pointing at the demo "
            "folder (never your own data folder)"
        )
    return settings


def _report(summary_jobs: int, statuses: dict[str, int], where: str) -> None:
    spread = ", ".join(f"{name} {count}" for name, count in sorted(statuses.items()))
    click.echo(f"seeded {summary_jobs} jobs into {where} ({spread})")


@demo.command()
def seed() -> None:
    """Fill an empty demo folder with the fictional job search.

    Refuses a folder that already holds a database: an existing demo is rebuilt with
    `peregrine demo reset`, and a real database is never touched.
    """
    from peregrine.demo.seed import build_seed
    from peregrine.lib.clock import utcnow

    settings = _demo_settings()
    summary = build_seed(settings.staging_db, today=utcnow().date())
    _report(summary.jobs, summary.statuses, str(settings.staging_db))


@demo.command()
@click.option(
    "--dry-run", is_flag=True, help="Say what would be rebuilt and removed; change nothing."
)
def reset(dry_run: bool) -> None:
    """Rebuild the demo seed and delete every visitor's sandbox."""
    from peregrine.demo.seed import build_seed, plan
    from peregrine.lib.clock import utcnow

    settings = _demo_settings()
    intended = plan(settings.staging_db, reset=True)
    if dry_run:
        click.echo(
            f"would rebuild {intended.seed_path} and remove "
            f"{intended.sandboxes_removed} visitor sandbox(es)"
        )
        return
    summary = build_seed(settings.staging_db, today=utcnow().date(), reset=True)
    _report(summary.jobs, summary.statuses, str(settings.staging_db))
    click.echo(f"removed {intended.sandboxes_removed} visitor sandbox(es)")
