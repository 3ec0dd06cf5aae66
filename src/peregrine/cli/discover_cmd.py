"""`peregrine discover` and `peregrine score`: find, store and rank jobs from the terminal."""

from __future__ import annotations

from typing import Any

import click

from peregrine.cli.context import CliError, load_settings, open_local_db
from peregrine.services import discovery, scoring
from peregrine.sources.registry import DISCOVERY_SOURCES


class _StageBar:
    """A click progress bar driven by (stage, fraction) reports."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.done = 0

    def __call__(self, stage: str, fraction: float) -> None:
        target = int(max(0.0, min(1.0, fraction)) * 100)
        self.bar.label = f"{stage:<10}"
        if target > self.done:
            self.bar.update(target - self.done)
            self.done = target


@click.command()
@click.option("--profile", "profile_name", help="Run this search profile only.")
@click.option("--source", type=click.Choice(DISCOVERY_SOURCES), help="Run this source only.")
@click.option("--no-enrich", is_flag=True, help="Do not fetch pages of jobs without a description.")
def discover(profile_name: str | None, source: str | None, no_enrich: bool) -> None:
    """Find new jobs with your search profiles, store each once, and score them."""
    db = open_local_db(load_settings())
    with click.progressbar(length=100, label="starting  ", show_eta=False, file=None) as bar:
        report = discovery.run_discovery(
            db,
            profile_name=profile_name,
            source=source,
            progress=_StageBar(bar),
            enrich=not no_enrich,
        )
    click.echo(f"{'PROFILE':<16} {'SOURCE':<14} {'HEALTH':<11} {'FOUND':>6} {'BAD':>4} {'SECS':>6}")
    for row in report.sources:
        click.echo(
            f"{row.profile[:16]:<16} {row.source[:14]:<14} {row.health:<11} {row.fetched:>6} "
            f"{row.invalid:>4} {row.elapsed:>6.1f}"
            + (f"  {row.message[:70]}" if row.message else "")
        )
    filtered = ", ".join(f"{k} {v}" for k, v in sorted(report.filtered.items())) or "none"
    click.echo(
        f"new {report.inserted}, merged across sources {report.merged}, already known "
        f"{report.exact_duplicates}, already applied {report.already_applied}, "
        f"filtered out: {filtered}, too old {report.too_old}, unreadable {report.invalid}"
    )
    click.echo(
        f"enriched {report.enriched} (failed {report.enrich_failed}), scored {report.scored}, "
        f"in {report.elapsed:.1f} s"
    )
    if report.sources and all(r.health in {"blocked", "error"} for r in report.sources):
        # Scripts must be able to tell a run that found nothing from one that could not look.
        raise CliError("every source failed; see the table above")


@click.command()
@click.option("--profile", "profile_name", help="Score against this search profile only.")
def score(profile_name: str | None) -> None:
    """Re-score every job against your résumé, keywords and search profiles."""
    db = open_local_db(load_settings())
    with click.progressbar(length=100, label="scoring", show_eta=False) as bar:
        stage = _StageBar(bar)
        summary = scoring.score_jobs(
            db, profile_name=profile_name, progress=lambda d, t: stage("scoring", d / max(t, 1))
        )
    average = f"{summary.average:.1f}" if summary.average is not None else "-"
    click.echo(f"scored {summary.scored} job(s); average score {average}")
