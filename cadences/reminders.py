"""Reminders for a lead's owner: birthdays on the day in the lead's zone, and follow-ups.

A reminder is a row, unique per (lead, kind, day): the birthday sweep may run any
number of times a day and a follow-up is announced once, through the same
``cadence_tasks_due`` signal cadence tasks use, so it lands in the owner's queue.
A workspace may greet birthdays with a templated email instead (``cadences.birthdays``).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from types import SimpleNamespace

import sqlalchemy as sa
from flask import current_app

from app.database import insert_ignoring_duplicates
from app.extensions import db
from cadences.birthdays import emailing_workspaces, queue_emails
from cadences.models import Reminder, ReminderKind
from cadences.schedule import now, zone
from cadences.signals import cadence_tasks_due
from leads.models import Lead

# Birthday reminders come due at this local hour, so the owner sees them in the morning.
BIRTHDAY_HOUR = 9
REMINDER_BATCH = 1000


def add_follow_up(lead: Lead, owner_id: int | None, due_at: datetime, note: str) -> Reminder:
    """Remind the owner about the lead at ``due_at`` (naive UTC). The caller commits."""
    reminder = Reminder(
        lead_id=lead.id,
        owner_id=owner_id or lead.owner_id,
        due_at=due_at,
        kind=ReminderKind.FOLLOW_UP.value,
        day=due_at.date(),
        note=note[:500],
    )
    db.session.add(reminder)
    return reminder


def schedule_birthdays(fallback_zone: str = "America/New_York") -> int:
    """Create today's birthday reminders, today being the lead's own local date."""
    moment = now()
    # Somewhere on Earth it is yesterday or tomorrow: look at all three dates.
    days = {(moment + timedelta(days=d)).date() for d in (-1, 0, 1)}
    candidates = db.session.execute(
        sa.select(Lead.id, Lead.owner_id, Lead.birthday, Lead.time_zone).where(
            Lead.birthday.is_not(None),
            Lead.pending_import_id.is_(None),
            sa.or_(
                *(
                    sa.and_(
                        sa.extract("month", Lead.birthday) == d.month,
                        sa.extract("day", Lead.birthday) == d.day,
                    )
                    for d in days
                )
            ),
        )
    ).all()
    rows = []
    for lead_id, owner_id, birthday, time_zone in candidates:
        tz = zone(time_zone, fallback_zone)
        local_today = moment.replace(tzinfo=UTC).astimezone(tz).date()
        if (birthday.month, birthday.day) != (local_today.month, local_today.day):
            continue
        due = datetime.combine(local_today, time(BIRTHDAY_HOUR), tzinfo=tz).astimezone(UTC)
        rows.append(
            {
                "lead_id": lead_id,
                "owner_id": owner_id,
                "kind": ReminderKind.BIRTHDAY.value,
                "day": local_today,
                "due_at": due.replace(tzinfo=None),
                "note": "Birthday",
            }
        )
    if rows:
        db.session.execute(insert_ignoring_duplicates(Reminder.__table__), rows)
    return len(rows)


def announce_due_reminders() -> int:
    """Announce due reminders as tasks, each once: the update that marks it is the claim.

    A birthday in a workspace that greets by email becomes that email's row instead
    (``cadences.birthdays``), in the same transaction.
    """
    moment, table = now(), Reminder.__table__
    due = (
        sa.select(table.c.id)
        .where(table.c.announced_at.is_(None), table.c.due_at <= moment)
        .limit(REMINDER_BATCH)
    )
    claimed = db.session.execute(
        sa.update(table)
        .where(table.c.id.in_(due.scalar_subquery()), table.c.announced_at.is_(None))
        .values(announced_at=moment)
        .returning(
            table.c.id, table.c.lead_id, table.c.owner_id, table.c.kind, table.c.note,
            table.c.due_at,
        )
    ).all()  # fmt: skip
    if not claimed:
        return 0
    workspaces = dict(
        db.session.execute(
            sa.select(Lead.id, Lead.workspace_id).where(
                Lead.id.in_({row.lead_id for row in claimed})
            )
        ).all()
    )
    by_email = emailing_workspaces(set(workspaces.values()))
    emails, tasks = [], []
    for row in claimed:
        workspace_id = workspaces[row.lead_id]
        if row.kind == ReminderKind.BIRTHDAY and workspace_id in by_email:
            emails.append(SimpleNamespace(**row._asdict(), workspace_id=workspace_id))
        else:
            tasks.append(_task(row, workspace_id))
    queue_emails(emails, by_email)
    if tasks:
        cadence_tasks_due.send(current_app._get_current_object(), tasks=tasks)
    return len(claimed)


def _task(row, workspace_id: int) -> dict:
    birthday = row.kind == ReminderKind.BIRTHDAY
    return {
        "lead_id": row.lead_id,
        "owner_id": row.owner_id,
        "workspace_id": workspace_id,
        "kind": "task",
        "due_at": row.due_at,
        "step_run_id": None,
        "enrollment_id": None,
        "instructions": "Wish them a happy birthday" if birthday else row.note,
        "network": None,
        "action": None,
        "reminder": row.kind,
    }
