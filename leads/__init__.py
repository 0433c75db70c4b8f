"""Lead management core: leads, lists, the timeline, normalization, rotation."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("leads", __name__)


def init_app(app: Flask) -> None:
    from app.api import register_api_blueprint
    from app.cli import CronEntry, add_cron
    from leads import (  # noqa: F401  (tables, routes)
        api,
        capture_views,
        dial_models,
        dial_settings_views,
        dial_views,
        dnc_views,
        erasure_models,
        erasure_views,
        import_views,
        metrics_models,
        metrics_views,
        models,
        rotation_models,
        rotation_rep_views,
        rotation_views,
        social_views,
        task_views,
        tasks,
        views,
    )
    from leads.cli import demo_cli
    from leads.rotation_jobs import on_import_finished, on_lead_captured
    from leads.rotation_reps import handover_url
    from leads.signals import import_finished, lead_captured

    app.register_blueprint(bp)
    register_api_blueprint(app, api.blp)
    app.cli.add_command(demo_cli)
    add_cron(app, CronEntry("leads.jobs.resume_stalled_imports", interval=60))
    add_cron(app, CronEntry("leads.rotation_jobs.sweep_rotation", interval=300))
    # Rotation listens to what happened to leads: new leads are handed out at once.
    import_finished.connect(on_import_finished)
    lead_captured.connect(on_lead_captured)
    # Disabling a user who holds leads or sits in a pool first asks where the leads go.
    app.extensions["leadline.user_handover"] = handover_url
