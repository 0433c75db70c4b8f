"""One-click unsubscribe (RFC 8058): the link's token finds the message, the message the lead."""

from __future__ import annotations

import sqlalchemy as sa

from app.database import insert_ignoring_duplicates
from app.extensions import db
from cadences.exits import exit_lead
from cadences.models import BirthdayEmail, ExitReason, StepRun
from cadences.schedule import now
from leads.models import ActivityType, ContactKind, DoNotContact, Lead
from leads.timeline import record


def find_run(token: str) -> StepRun | BirthdayEmail | None:
    """The cadence email or birthday email whose link carries this token."""
    if not token or len(token) > 64:
        return None
    return db.session.scalar(
        sa.select(StepRun).where(StepRun.unsubscribe_token == token)
    ) or db.session.scalar(sa.select(BirthdayEmail).where(BirthdayEmail.unsubscribe_token == token))


def unsubscribe(run: StepRun | BirthdayEmail) -> bool:
    """Put the address on the do-not-contact list and end the cadence; True the first time.

    Idempotent: a second POST (mail clients and people both retry) changes nothing.
    The caller commits.
    """
    if run.unsubscribed_at is not None:
        return False
    run.unsubscribed_at = now()
    lead = db.session.get(Lead, run.lead_id)
    if lead is None:  # erased meanwhile: nothing left to contact
        return True
    if lead.email_key:
        db.session.execute(
            insert_ignoring_duplicates(DoNotContact.__table__).values(
                workspace_id=lead.workspace_id,
                kind=ContactKind.EMAIL.value,
                value=lead.email_key,
                reason="unsubscribed from a cadence email",
                created_at=now(),
            )
        )
    exit_lead(lead.id, ExitReason.UNSUBSCRIBED)
    if isinstance(run, BirthdayEmail):
        summary, source = (
            "Unsubscribed through the link in a birthday email",
            {"birthday_reminder_id": run.reminder_id},
        )
    else:
        summary, source = (
            "Unsubscribed through the link in a cadence email",
            {"step_run_id": run.id},
        )
    record(lead, ActivityType.EMAIL, None, summary, **source)
    return True
