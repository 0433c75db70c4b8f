"""Lead management core: leads, lists, the timeline, normalization."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("leads", __name__)


def init_app(app: Flask) -> None:
    from app.cli import CronEntry, add_cron
    from leads import (  # noqa: F401  (tables, routes)
        capture_views,
        dial_models,
        dial_views,
        dnc_views,
        import_views,
        metrics_models,
        metrics_views,
        models,
        views,
    )
    from leads.cli import demo_cli

    app.register_blueprint(bp)
    app.cli.add_command(demo_cli)
    add_cron(app, CronEntry("leads.jobs.resume_stalled_imports", interval=60))
