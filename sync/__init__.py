"""Hand-off of qualified prospects into the pipeline database and out to external CRMs."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("sync", __name__)


def init_app(app: Flask) -> None:
    from app.api import register_api_blueprint
    from app.cli import CronEntry, add_cron
    from leads.metrics import set_won_source
    from leads.signals import erasure_committed, lead_erased, lead_qualified
    from sync import api, board_views, crm_views, models, setup_views, views  # noqa: F401  (routes)
    from sync.crm_targets import SOURCE
    from sync.erasure import on_lead_erased
    from sync.listeners import on_erasure_committed, on_lead_qualified
    from sync.pipeline import won_deals
    from sync.pipeline_target import deliver_to_pipeline
    from sync.targets import Target, register_source, register_target

    register_target(
        Target("pipeline", "the pipeline", deliver_to_pipeline, batch_size=1000, hands_off=True)
    )
    register_source(SOURCE)
    app.config.setdefault("HANDOFF_TARGETS", ("pipeline",))
    app.config.setdefault("DEFAULT_CURRENCY", "USD")
    app.register_blueprint(bp)
    register_api_blueprint(app, api.blp)
    lead_qualified.connect(on_lead_qualified)
    lead_erased.connect(on_lead_erased)
    erasure_committed.connect(on_erasure_committed)
    set_won_source(won_deals)  # the metrics' funnel ends at won, income goals read value
    add_cron(app, CronEntry("sync.jobs.sweep_handoffs", interval=60))
