"""Undoing an import: delete what it created, restore what it changed, unless touched since."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa
from rq import Retry

from app.extensions import db
from app.models import utcnow
from app.queue import enqueue
from leads.models import Activity, ImportChange, ImportRun, ImportStatus, Lead

UNDO_BATCH = 1000
KEPT_SHOWN = 500


def undo_import(run: ImportRun, status: ImportStatus = ImportStatus.UNDONE) -> dict[str, Any]:
    """Remove the leads the run created and restore the fields it changed.

    A lead someone touched since the import (edited, called, noted) is left as it
    is and listed with the reason; everything else is reverted. Each batch deletes
    the change rows it handled and saves the report in the same transaction, so an
    undo interrupted at any point resumes where it stopped.
    """
    report: dict[str, Any] = {
        "deleted": 0, "restored": 0, "kept": [], "kept_count": 0, **(run.undo_report or {}),
    }  # fmt: skip
    while changes := db.session.scalars(
        sa.select(ImportChange)
        .where(ImportChange.import_run_id == run.id)
        .order_by(ImportChange.id)
        .limit(UNDO_BATCH)
    ).all():
        _undo_batch(run, changes, report)
        db.session.execute(
            sa.delete(ImportChange).where(ImportChange.id.in_([c.id for c in changes]))
        )
        run.undo_report = dict(report)
        run.heartbeat_at = utcnow()
        db.session.commit()
    run.status = status.value
    run.finished_at = utcnow()
    run.undo_report = report
    db.session.commit()
    return report


def start_undo(run: ImportRun) -> None:
    """Hand the undo of a finished import to a worker (a big one takes a while)."""
    run.status = ImportStatus.UNDOING.value
    run.heartbeat_at = utcnow()
    enqueue(
        "leads.jobs.undo_import_job",
        run.id,
        job_id=f"undo-{run.id}-{uuid.uuid4().hex[:8]}",
        retry=Retry(max=3, interval=[10, 30, 60]),
    )


def _undo_batch(run: ImportRun, changes: list[ImportChange], report: dict[str, Any]) -> None:
    ids = [c.lead_id for c in changes]
    leads = {lead.id: lead for lead in db.session.scalars(sa.select(Lead).where(Lead.id.in_(ids)))}
    from_run = Activity.data["import_run_id"].as_integer()
    touched = set(db.session.scalars(
        sa.select(Activity.lead_id).where(
            Activity.lead_id.in_(ids),
            sa.or_(from_run.is_(None), from_run != run.id),
            Activity.occurred_at >= sa.func.coalesce(run.started_at, run.created_at),
        )
    ))  # fmt: skip
    doomed = []
    for change in changes:
        lead = leads.get(change.lead_id)
        if lead is None:
            continue  # deleted since: nothing left to revert
        why = _why_kept(lead, change, touched)
        if why:
            report["kept_count"] += 1
            if len(report["kept"]) < KEPT_SHOWN:
                kept = {"lead_id": lead.id, "name": lead.display_name, "reason": why}
                report["kept"].append(kept)
        elif change.action == "created":
            doomed.append(lead.id)
        else:
            for name, value in change.before.items():
                setattr(lead, name, _column_value(name, value))
            report["restored"] += 1
    if doomed:
        # One statement per batch; the database cascades to the leads' activities.
        db.session.execute(
            sa.delete(Lead).where(Lead.id.in_(doomed)).execution_options(synchronize_session=False)
        )
        report["deleted"] += len(doomed)


def _why_kept(lead: Lead, change: ImportChange, touched: set[int]) -> str | None:
    if lead.updated_at != change.stamp:
        return f"Changed since the import (last edit {lead.updated_at:%Y-%m-%d %H:%M} UTC)."
    if lead.id in touched:
        return "Has calls, notes or other activity since the import."
    return None


def _column_value(name: str, value: Any) -> Any:
    if name == "birthday" and isinstance(value, str):
        return date.fromisoformat(value)
    return value
