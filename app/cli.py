"""Command-line entry points: users, the RQ worker and the cron scheduler."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup
from rq import Worker
from rq.cron import CronScheduler
from werkzeug.utils import import_string

from app.extensions import db
from app.models import Role, User
from app.queue import QUEUE_NAMES, redis_connection
from app.users import UserError, active_admins, create_user, default_workspace

users_cli = AppGroup("users", help="Manage users.")
rq_cli = AppGroup("rq", help="Run background processes.")


@dataclass(frozen=True)
class CronEntry:
    """A job the scheduler enqueues on an interval (seconds) or a cron expression."""

    func: str
    interval: int | None = None
    cron: str | None = None
    queue: str = "default"


def add_cron(app: Flask, entry: CronEntry) -> None:
    """Let a package schedule periodic work without the shell knowing the package."""
    app.extensions.setdefault("leadline.cron", []).append(entry)


def register_cli(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(rq_cli)
    add_cron(app, CronEntry("app.jobs.purge_login_sessions", interval=3600, queue="low"))
    add_cron(app, CronEntry("app.jobs.refresh_database_statistics", cron="17 3 * * *", queue="low"))


@users_cli.command("bootstrap-admin")
@click.option(
    "--email",
    default=lambda: os.environ.get("LEADLINE_ADMIN_EMAIL", "admin@example.com"),
    show_default="admin@example.com or LEADLINE_ADMIN_EMAIL",
)
def bootstrap_admin(email: str) -> None:
    """Create the first admin with a one-time password, unless an admin exists."""
    if active_admins():
        return
    password = secrets.token_urlsafe(12)
    try:
        user, _ = create_user(
            default_workspace(), email=email, name="Admin", roles={Role.ADMIN}, password=password
        )
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    user.must_change_password = True
    db.session.commit()
    click.echo(
        "\n  First admin created. Sign in with:\n"
        f"    email:    {user.email}\n"
        f"    password: {password}   (one-time: you will choose your own at first sign-in)\n"
    )


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice([role.value for role in Role]),
)
@click.password_option()
def create(email: str, name: str, roles: tuple[str, ...], password: str) -> None:
    """Create a user with a password."""
    try:
        create_user(
            default_workspace(),
            email=email,
            name=name,
            roles={Role(r) for r in roles},
            password=password,
        )
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"Created {email}.")


@users_cli.command("list")
def list_users() -> None:
    """Print users with their roles."""
    for user in db.session.scalars(sa.select(User).order_by(User.email)):
        roles = ",".join(sorted(r.value for r in user.roles))
        click.echo(f"{user.email:40} {roles:30} {'active' if user.active else 'disabled'}")


@rq_cli.command("worker")
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
def worker(queues: tuple[str, ...], burst: bool) -> None:
    """Run an RQ worker (with RQ's scheduler for delayed jobs) on the given queues."""
    names = queues or QUEUE_NAMES
    # The work-horse forks from this process, which already holds an app context,
    # so every job runs with the app, its config and its database sessions.
    Worker(list(names), connection=redis_connection()).work(with_scheduler=True, burst=burst)


@rq_cli.command("cron")
def cron() -> None:
    """Run the scheduler that enqueues periodic jobs (run one per deployment)."""
    scheduler = CronScheduler(
        connection=redis_connection(), name=f"leadline:{socket.gethostname()}:{os.getpid()}"
    )
    for entry in current_app.extensions.get("leadline.cron", []):
        scheduler.register(
            import_string(entry.func),
            queue_name=entry.queue,
            interval=entry.interval,
            cron=entry.cron,
        )
    scheduler.start()
