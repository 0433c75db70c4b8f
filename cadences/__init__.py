"""Multi-step outreach cadences: steps, enrolments, the step runner, mail."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("cadences", __name__)

# How often the runner looks for due steps; a step is never early, at most this late.
TICK_SECONDS = 30
# Reminders are days apart and come due on the hour: a few minutes late is fine.
REMIND_SECONDS = 300


def init_app(app: Flask) -> None:
    from app.cli import CronEntry, add_cron
    from cadences import (  # noqa: F401  (tables, routes)
        enroll_views,
        lead_panel,
        library_views,
        models,
        unsubscribe_views,
        views,
    )
    from cadences.enrollment import on_import_finished, on_leads_assigned
    from cadences.exits import on_call_logged, on_lead_erased, on_lead_qualified
    from cadences.queues import on_tasks_due
    from cadences.signals import cadence_tasks_due
    from leads.signals import (
        call_logged,
        import_finished,
        lead_erased,
        lead_qualified,
        leads_assigned,
    )

    app.register_blueprint(bp)
    import_finished.connect(on_import_finished)
    lead_qualified.connect(on_lead_qualified)
    call_logged.connect(on_call_logged)
    lead_erased.connect(on_lead_erased)
    leads_assigned.connect(on_leads_assigned)
    cadence_tasks_due.connect(on_tasks_due)
    add_cron(app, CronEntry("cadences.jobs.tick", interval=TICK_SECONDS))
    add_cron(app, CronEntry("cadences.jobs.remind", interval=REMIND_SECONDS))
