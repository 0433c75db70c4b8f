"""Lead management core: leads, lists, the timeline, normalization."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("leads", __name__)


def init_app(app: Flask) -> None:
    from leads import models, views  # noqa: F401  (models register tables, views routes)
    from leads.cli import demo_cli

    app.register_blueprint(bp)
    app.cli.add_command(demo_cli)
