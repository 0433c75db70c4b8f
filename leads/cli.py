"""Leads command-line tools."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from leads.demo import DEMO_LISTS, TEAM_NAME, SeedReport, seed_demo
from leads.metrics_demo import seed_demo_calls

demo_cli = AppGroup("demo", help="Demo data.")


@demo_cli.command("seed")
@click.option(
    "--leads",
    "lead_count",
    type=click.IntRange(min=0),
    default=3000,
    show_default=True,
    help="How many demo leads the workspace should hold.",
)
@click.option(
    "--seed",
    type=int,
    default=42,
    show_default=True,
    help="Random seed: the same seed gives the same leads.",
)
def seed(lead_count: int, seed: int) -> None:
    """Fill the default workspace with demo users, a team, lists and messy leads.

    Safe to run again: existing demo users, team and lists are left alone, and
    leads are only added until the workspace holds --leads demo leads.
    """
    report = seed_demo(lead_count, seed)
    _echo_users(report)
    _echo_summary(report)
    calls = seed_demo_calls(seed)
    click.echo(
        f"Calls: {calls} demo calls added for the metrics pages."
        if calls
        else "Calls: demo calls already there (or no callers and leads); none added."
    )


def _echo_users(report: SeedReport) -> None:
    width = max(len(r.user.email) for r in report.users)
    click.echo("Demo users (passwords are shown once, now):")
    click.echo(f"  {'EMAIL':<{width}}  {'ROLE':<9} PASSWORD")
    for result in report.users:
        password = result.password or "(exists, left alone)"
        click.echo(f"  {result.user.email:<{width}}  {result.role.value:<9} {password}")


def _echo_summary(report: SeedReport) -> None:
    team = "created" if report.team_created else "exists, left alone"
    click.echo(f'Team "{TEAM_NAME}": {team}.')
    existing = len(DEMO_LISTS) - report.lists_created
    click.echo(f"Lists: {report.lists_created} created, {existing} already there.")
    if not report.leads_added:
        click.echo(f"Leads: {report.leads_total} demo leads already there; none added.")
        return
    click.echo(
        f"Leads: added {report.leads_added} ({report.leads_total} demo leads in the workspace); "
        f"{report.duplicates_skipped} duplicates within the batch skipped, "
        f"{report.already_in_workspace} already in the workspace."
    )
    click.echo(
        f"  {report.invalid_phones} invalid phones and {report.invalid_emails} invalid "
        "emails kept as typed and flagged."
    )
    click.echo(f"Activities: {report.leads_added} created, {report.notes_added} notes.")
