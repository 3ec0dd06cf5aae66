"""Entry point of the ``peregrine`` command.

Errors a person can act on print one line and exit 1; usage errors exit 2; nothing prints a
traceback (set PEREGRINE_DEBUG=1 while developing to see one).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from peregrine import __version__
from peregrine.cli import (
    admin_cmd,
    backup_cmd,
    config_cmd,
    db_cmd,
    demo_cmd,
    discover_cmd,
    doctor_cmd,
    healthcheck_cmd,
    jobs_cmd,
    letter_cmd,
    platform_cmd,
    serve_cmd,
    worker_cmd,
)
from peregrine.cli.context import CliError
from peregrine.lib.http import FetchError
from peregrine.llm.errors import LLMError
from peregrine.services.config_file import ConfigFileError
from peregrine.services.discovery import DiscoveryError
from peregrine.services.jobs import JobInputError
from peregrine.services.pipeline import JobNotFoundError, TransitionError
from peregrine.services.scoring import ScoringError
from peregrine.settings import SettingsError
from peregrine.storage.backup import BackupError
from peregrine.storage.erasure import ErasureError
from peregrine.storage.migrate import MigrationError
from peregrine.storage.userdb import StorageError

_EXPECTED = (
    CliError,
    SettingsError,
    StorageError,
    MigrationError,
    JobInputError,
    JobNotFoundError,
    TransitionError,
    BackupError,
    ErasureError,
    DiscoveryError,
    ScoringError,
    FetchError,
    LLMError,
)


class PeregrineGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except ConfigFileError as exc:
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            ctx.exit(1)
        except _EXPECTED as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(1)
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            click.echo(f"error: {exc.strerror or exc}{where}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:
            if os.environ.get("PEREGRINE_DEBUG"):
                raise
            click.echo(
                f"error: unexpected {type(exc).__name__}: {exc} "
                "(set PEREGRINE_DEBUG=1 to see the traceback)",
                err=True,
            )
            ctx.exit(1)


@click.group(cls=PeregrineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="peregrine")
def cli() -> None:
    """Peregrine, a job-search assistant.

    Settings come from environment variables (see docs/configuration.md).
    """


cli.add_command(serve_cmd.serve)
cli.add_command(db_cmd.db)
cli.add_command(jobs_cmd.jobs)
cli.add_command(config_cmd.config)
cli.add_command(healthcheck_cmd.healthcheck)
cli.add_command(demo_cmd.demo)
cli.add_command(backup_cmd.backup)
cli.add_command(doctor_cmd.doctor)
cli.add_command(discover_cmd.discover)
cli.add_command(discover_cmd.score)
cli.add_command(platform_cmd.platform)
cli.add_command(platform_cmd.admin)
platform_cmd.admin.add_command(admin_cmd.delete_user)
platform_cmd.admin.add_command(admin_cmd.export_user)
platform_cmd.admin.add_command(admin_cmd.rotate_secret)
cli.add_command(letter_cmd.letter)
cli.add_command(worker_cmd.worker)


def main() -> None:
    sys.exit(cli.main(prog_name="peregrine", standalone_mode=True))
