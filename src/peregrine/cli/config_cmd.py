"""`peregrine config …`: settings to and from a YAML file."""

from __future__ import annotations

from pathlib import Path

import click

from peregrine.cli.context import CliError, load_settings, open_local_db
from peregrine.services import config_file


@click.group()
def config() -> None:
    """Export or import your settings (profile, keywords, blocklist, search profiles)."""


@config.command("export")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of standard output.",
)
def export_cmd(out: Path | None) -> None:
    """Write your settings as YAML."""
    text = config_file.export_config(open_local_db(load_settings()))
    if out is None:
        click.echo(text, nl=False)
        return
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    click.echo(f"wrote {out}")


@config.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def import_cmd(file: Path) -> None:
    """Load settings from a YAML file. The whole file is checked before anything changes."""
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CliError(f"{file} is not UTF-8 text") from None
    except OSError as exc:
        raise CliError(f"cannot read {file}: {exc.strerror}") from None
    try:
        applied = config_file.import_config(open_local_db(load_settings()), text)
    except config_file.ConfigFileError as exc:
        raise config_file.ConfigFileError([f"{file.name}: {p}" for p in exc.problems]) from None
    click.echo(f"imported {', '.join(applied) if applied else 'nothing (no sections)'}")
