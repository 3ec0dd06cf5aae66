"""`peregrine doctor`: check the installation and print findings with stable ids."""

from __future__ import annotations

import json

import click

from peregrine.services.doctor import run_checks
from peregrine.services.doctor_cloud import CLOUD_CHECKS

_MARK = {"ok": "ok  ", "warning": "warn", "error": "FAIL"}


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
def doctor(as_json: bool) -> None:
    """Check settings, data folder, SQLite/SQLCipher and the database.

    Exits 1 when any finding is an error. Each id is explained in docs/doctor.md.
    """
    findings = run_checks(extra=CLOUD_CHECKS)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {"id": f.id, "level": f.level, "message": f.message, "docs": f.docs}
                    for f in findings
                ],
                indent=2,
            )
        )
    else:
        for finding in findings:
            line = f"{finding.id} {_MARK[finding.level]} {finding.message}"
            if finding.level != "ok":
                line += f"  (see {finding.docs})"
            click.echo(line)
    if any(f.level == "error" for f in findings):
        raise SystemExit(1)
