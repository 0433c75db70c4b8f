"""RQ entry points of the leads package: thin, take ids, call services."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from rq import get_current_job

from app.extensions import db
from app.models import utcnow
from app.queue import job
from leads.import_undo import start_undo, undo_import
from leads.imports import fail_import, queue_import, run_import
from leads.models import ACTIVE_IMPORT_STATUSES, ImportRun, ImportStatus

# A running import writes a heartbeat with every chunk (seconds apart); one this
# quiet has lost its worker.
STALLED_AFTER = timedelta(minutes=3)


@job
def run_import_job(run_id: int) -> None:
    """Run or resume one import; after the last retry, undo it and say why."""
    try:
        run_import(run_id)
    except Exception as exc:
        db.session.rollback()
        current = get_current_job()
        if current is None or not current.retries_left:
            fail_import(run_id, f"{type(exc).__name__}: {exc}")
        raise


@job
def undo_import_job(run_id: int) -> None:
    """Undo one import; resumes where an interrupted undo stopped."""
    run = db.session.get(ImportRun, run_id)
    if run is not None and run.status == ImportStatus.UNDOING:
        undo_import(run)


@job
def resume_stalled_imports() -> int:
    """Re-enqueue imports whose worker died or whose job Redis lost; SQL says what is due."""
    stale = utcnow() - STALLED_AFTER
    runs = db.session.scalars(
        sa.select(ImportRun).where(
            ImportRun.status.in_(ACTIVE_IMPORT_STATUSES),
            sa.func.coalesce(ImportRun.heartbeat_at, ImportRun.created_at) < stale,
        )
    ).all()
    for run in runs:
        if run.status == ImportStatus.UNDOING:
            start_undo(run)
        else:
            queue_import(run)
    db.session.commit()
    return len(runs)
