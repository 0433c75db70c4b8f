"""A rep's list of generic tasks (cadence to-dos, birthdays, follow-ups): due ones, done once."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager

from app.extensions import db
from app.models import User, utcnow
from leads.dnc import suppressed
from leads.models import ActivityType, Lead
from leads.social import Handled, finish_task
from leads.tasks import Task, TaskKind, TaskStatus, is_pending
from leads.timeline import record

# The page lists this many; a longer backlog is worked from the top.
LIST_LIMIT = 200


def due_generic_tasks(user: User, now: datetime | None = None) -> list[Task]:
    """The user's pending generic tasks due by ``now``, soonest first, on leads they may see."""
    query = (
        sa.select(Task)
        .join(Lead, Lead.id == Task.lead_id)
        .options(contains_eager(Task.lead))
        .where(
            Task.owner_id == user.id,
            Task.kind == TaskKind.GENERIC.value,
            is_pending(),
            Task.due_at <= (now or utcnow()),
            Lead.workspace_id == user.workspace_id,
            Lead.pending_import_id.is_(None),
            ~suppressed(),
        )
        .order_by(Task.due_at, Task.id)
        .limit(LIST_LIMIT)
    )
    if not user.sees_all_leads:
        query = query.where(Lead.owner_id == user.id)
    return list(db.session.scalars(query))


def complete_task(user: User, task_id: int, now: datetime | None = None) -> Handled:
    """Mark the task done and note it on the lead's timeline, once; the caller commits."""
    now = now or utcnow()
    values = {"status": TaskStatus.DONE.value, "completed_at": now}
    handled = finish_task(user, task_id, values)
    if handled is Handled.APPLIED:
        task = db.session.get(Task, task_id, populate_existing=True)
        summary = f"Task done: {task.note}" if task.note else "Task done"
        record(task.lead, ActivityType.NOTE, user, summary, task_id=task.id).occurred_at = now
    return handled
