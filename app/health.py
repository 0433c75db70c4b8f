"""GET /healthz for load balancers and the run command."""

from __future__ import annotations

from flask import Blueprint, jsonify
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app import system
from app.extensions import db
from app.queue import redis_connection

bp = Blueprint("health", __name__)


def _database_ok(bind: str | None) -> bool:
    try:
        with db.engines[bind].connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


@bp.get("/healthz")
def healthz():
    """Report each dependency; 503 when any is down."""
    report: dict[str, object] = {
        "db": "ok" if _database_ok(None) else "down",
        "pipeline_db": "ok" if _database_ok("pipeline") else "down",
    }
    try:
        redis_connection().ping()
        report["redis"] = "ok"
        report["workers"] = len(system.workers())
        report["scheduler"] = "ok" if system.cron_schedulers() else "down"
    except RedisError:
        report.update(redis="down", workers=0, scheduler="unknown")
    healthy = all(value != "down" for value in report.values()) and report["workers"] > 0
    return jsonify(report), 200 if healthy else 503
