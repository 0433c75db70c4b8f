"""Whether a lead may still be contacted, and every way an enrolment ends or pauses."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from app.extensions import db
from cadences.models import (
    RUNNING_STATUSES,
    Enrollment,
    EnrollmentStatus,
    ExitReason,
    Reminder,
    RunStatus,
    StepRun,
)
from cadences.schedule import now
from leads.erasure import delete_lead_rows
from leads.models import ContactKind, DoNotContact, LeadStatus

# Lead statuses that end outreach: somebody else works the lead now, or nobody should.
STATUS_EXITS = {
    LeadStatus.QUALIFIED.value: ExitReason.QUALIFIED,
    LeadStatus.HANDED_OFF.value: ExitReason.HANDED_OFF,
    LeadStatus.DISQUALIFIED.value: ExitReason.DISQUALIFIED,
}


def blocked_keys(
    workspace_id: int, phones: Iterable[str], emails: Iterable[str]
) -> set[tuple[str, str]]:
    """The (kind, value) pairs among these that are on the do-not-contact list."""
    phones, emails = [p for p in phones if p], [e for e in emails if e]
    if not phones and not emails:
        return set()
    rows = db.session.execute(
        sa.select(DoNotContact.kind, DoNotContact.value).where(
            DoNotContact.workspace_id == workspace_id,
            sa.or_(
                sa.and_(
                    DoNotContact.kind == ContactKind.PHONE.value, DoNotContact.value.in_(phones)
                ),
                sa.and_(
                    DoNotContact.kind == ContactKind.EMAIL.value, DoNotContact.value.in_(emails)
                ),
            ),
        )
    )
    return {(kind, value) for kind, value in rows}


def exit_reason_for(lead, blocked: bool) -> ExitReason | None:
    """Why this lead must not be contacted any more, or None. ``lead`` may be a row."""
    if lead is None:
        return ExitReason.ERASED
    if reason := STATUS_EXITS.get(lead.status):
        return reason
    return ExitReason.DO_NOT_CONTACT if blocked else None


def exit_enrollments(condition: sa.ColumnElement[bool], reason: ExitReason) -> int:
    """End the running enrolments matching ``condition``; the caller commits."""
    result = db.session.execute(
        sa.update(Enrollment)
        .where(condition, Enrollment.status.in_(RUNNING_STATUSES))
        .values(
            status=EnrollmentStatus.EXITED.value,
            exit_reason=reason.value,
            finished_at=now(),
            due_at=None,
            lease_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def exit_lead(lead_id: int, reason: ExitReason) -> int:
    return exit_enrollments(Enrollment.lead_id == lead_id, reason)


def mark_replied(lead_id: int, message_id: str | None = None) -> int:
    """A reply stops the lead's cadence; the message it answered counts it for its variant."""
    moment = now()
    runs = sa.update(StepRun).where(StepRun.replied_at.is_(None))
    if message_id:
        runs = runs.where(StepRun.message_id == message_id)
    else:  # marked by the rep: the latest email sent to the lead gets the credit
        latest = (
            sa.select(sa.func.max(StepRun.id))
            .where(StepRun.lead_id == lead_id, StepRun.status == RunStatus.SENT.value)
            .scalar_subquery()
        )
        runs = runs.where(StepRun.id == latest)
    db.session.execute(runs.values(replied_at=moment).execution_options(synchronize_session=False))
    return exit_lead(lead_id, ExitReason.REPLIED)


# Call dispositions (their category) and what they do to the lead's cadence.
CALL_EXITS = {
    "qualified": ExitReason.QUALIFIED,
    "do_not_call": ExitReason.DO_NOT_CONTACT,
    "disqualified": ExitReason.DISQUALIFIED,
}


def on_call_outcome(lead_id: int, category: str, pause_on_conversation: bool = False) -> str:
    """Move the lead's enrolment on after a logged call; returns what happened.

    A conversation counts as the current call step being done (or pauses the
    cadence when asked to); qualified and do-not-call end it.
    """
    if reason := CALL_EXITS.get(category):
        return "exited" if exit_lead(lead_id, reason) else "none"
    if category != "conversation":
        return "none"
    if pause_on_conversation:
        return "paused" if set_paused(Enrollment.lead_id == lead_id, True) else "none"
    result = db.session.execute(
        sa.update(Enrollment)
        .where(Enrollment.lead_id == lead_id, Enrollment.status == EnrollmentStatus.ACTIVE.value)
        .values(due_at=now(), lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return "advanced" if result.rowcount else "none"


def set_paused(condition: sa.ColumnElement[bool], paused: bool) -> int:
    """Pause or resume running enrolments; a resumed one is due at once, inside its window."""
    current, target = (
        (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED)
        if paused
        else (EnrollmentStatus.PAUSED, EnrollmentStatus.ACTIVE)
    )
    values: dict = {"status": target.value, "lease_until": None}
    if not paused:
        values["due_at"] = sa.func.coalesce(Enrollment.due_at, now())
    result = db.session.execute(
        sa.update(Enrollment)
        .where(condition, Enrollment.status == current.value)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def on_lead_qualified(lead, **_kwargs) -> None:
    """Receiver of leads.signals.lead_qualified: the lead is qualified, outreach stops now."""
    exit_lead(lead.id, ExitReason.QUALIFIED)
    db.session.commit()  # also when nothing changed: SQLite holds the write lock until then


def on_call_logged(lead, category: str, **_kwargs) -> None:
    """Receiver of leads.signals.call_logged: the call moves or ends the lead's cadence."""
    on_call_outcome(lead.id, category)
    db.session.commit()  # also when nothing changed: SQLite holds the write lock until then


def on_lead_erased(_workspace_id: int, lead_ids: list[int], **_kwargs) -> dict[str, int]:
    """Receiver of leads.signals.lead_erased: the cadence stops, then its traces go.

    Exited first, as any other exit, so a step job already holding the enrolment
    finds it ended; the rows then go in the erasure's transaction (no commit here).
    """
    exited = exit_enrollments(Enrollment.lead_id.in_(lead_ids), ExitReason.ERASED)
    return {
        "cadence_enrollments_stopped": exited,
        **delete_lead_rows(
            lead_ids,
            cadence_step_runs=StepRun,
            cadence_reminders=Reminder,
            cadence_enrollments=Enrollment,
        ),
    }
