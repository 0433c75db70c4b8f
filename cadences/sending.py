"""Email steps: claim, send, record — a state machine that never sends a message twice.

1. Claim (one transaction): insert the step run as ``sending`` with its Message-ID,
   or move a ``retry`` run to ``sending`` with a compare-and-set. Only the winner goes on.
2. Send through SMTP.
3. Record (one transaction): ``sent`` and the enrolment moves on; a refusal becomes
   ``retry`` with backoff (or ``bounced``, which ends the cadence).
A worker killed between 1 and 3 leaves a ``sending`` run: once it is older than any
SMTP exchange can last it becomes ``unconfirmed`` and the cadence moves on without
sending it again, because SMTP cannot tell us whether the message arrived.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from app.database import insert_ignoring_duplicates
from app.extensions import db
from app.models import User
from cadences.exits import blocked_keys, exit_enrollments, exit_reason_for
from cadences.mailer import Outgoing, SendError, SmtpPool, UncertainSend, build_message
from cadences.merge import RenderError, merge_context, render_template_text
from cadences.models import (
    CadenceStep,
    EmailVariant,
    Enrollment,
    EnrollmentStatus,
    ExitReason,
    MailSender,
    RunStatus,
    StepRun,
)
from cadences.runner import advance
from cadences.schedule import now
from leads.models import ActivityType, Lead
from leads.timeline import record

# Longer than any SMTP exchange can take (connect, TLS, data: each with a 30 s timeout).
SENDING_STALE = timedelta(minutes=10)
MAX_BACKOFF = timedelta(hours=1)
SENT_STATUSES = (RunStatus.SENDING.value, RunStatus.SENT.value, RunStatus.UNCONFIRMED.value)


def backoff(attempts: int) -> timedelta:
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def send_email_step(enrollment_id: int, step_id: int, pool: SmtpPool) -> str:
    """Run one email step for one enrolment; returns what became of it."""
    claim = _claim(enrollment_id, step_id)
    if isinstance(claim, str):
        db.session.commit()
        return claim
    run, outgoing, sender = claim
    db.session.commit()
    try:
        pool.send(sender, build_message(sender, outgoing))
    except SendError as exc:
        return _refused(run.id, enrollment_id, str(exc), exc.permanent)
    except UncertainSend as exc:
        return _finish(run.id, enrollment_id, RunStatus.UNCONFIRMED, str(exc))
    return _finish(run.id, enrollment_id, RunStatus.SENT, None, outgoing)


def _claim(enrollment_id: int, step_id: int):
    moment = now()
    enrollment = db.session.get(Enrollment, enrollment_id)
    step = db.session.get(CadenceStep, step_id)
    if enrollment is None or step is None or enrollment.status != EnrollmentStatus.ACTIVE:
        return "not running"
    if step.position != enrollment.position:
        return "already moved on"
    lead = db.session.get(Lead, enrollment.lead_id)
    # Checked again here, at send time: an opt-out after the batch read must win.
    blocked = (
        blocked_keys(lead.workspace_id, [lead.phone_e164], [lead.email_key]) if lead else set()
    )
    if reason := exit_reason_for(lead, blocked):
        exit_enrollments(Enrollment.id == enrollment_id, reason)
        return "exited"
    run = db.session.scalar(
        sa.select(StepRun).where(StepRun.enrollment_id == enrollment_id, StepRun.step_id == step_id)
    )
    if run is not None and run.status != RunStatus.RETRY:
        return _settle_existing(run, enrollment, moment)
    sender = enrollment.cadence.sender
    if sender is None:
        return _hold_for_sender(enrollment, moment)
    if (wait_until := _throttled_until(sender, moment)) is not None:
        _reschedule(enrollment_id, wait_until)
        return "throttled"
    if run is None:
        run = _insert_run(enrollment, step, lead, sender, moment)
        if run is None:
            return "claimed elsewhere"
    elif not _retry_to_sending(run, moment):
        return "claimed elsewhere"
    if step.hold_for_review and run.attempts == 1 and not run.last_error:
        return _hold(run, enrollment_id)
    try:
        outgoing = _outgoing(run, lead, enrollment.owner)
    except RenderError as exc:
        run.status, run.last_error = RunStatus.RETRY.value, f"template: {exc}"[:500]
        _reschedule(enrollment_id, None)
        return "template error"
    return run, outgoing, sender


def _settle_existing(run: StepRun, enrollment: Enrollment, moment: datetime) -> str:
    if run.status == RunStatus.SENDING and run.started_at < moment - SENDING_STALE:
        run.status, run.finished_at = RunStatus.UNCONFIRMED.value, moment
        run.last_error = "the worker stopped while sending; not sent again"
        advance([{"eid": enrollment.id, "pos": enrollment.position, "due": moment}])
        return "unconfirmed"
    return f"already {run.status}"


def _insert_run(enrollment, step, lead, sender, moment) -> StepRun | None:
    variants = step.variants
    variant = variants[enrollment.variant_seed % len(variants)] if variants else None
    domain = sender.from_email.rpartition("@")[2] or "localhost"
    inserted = db.session.execute(
        insert_ignoring_duplicates(StepRun.__table__)
        .values(
            enrollment_id=enrollment.id,
            step_id=step.id,
            lead_id=lead.id,
            status=RunStatus.SENDING.value,
            variant_id=variant.id if variant else None,
            sender_id=sender.id,
            message_id=f"<{uuid.uuid4().hex}@{domain}>",
            unsubscribe_token=secrets.token_urlsafe(24),
            attempts=1,
            started_at=moment,
        )
        .returning(StepRun.__table__.c.id)
    ).scalar()
    return db.session.get(StepRun, inserted) if inserted else None


def _retry_to_sending(run: StepRun, moment: datetime) -> bool:
    result = db.session.execute(
        sa.update(StepRun.__table__)
        .where(StepRun.id == run.id, StepRun.status == RunStatus.RETRY.value)
        .values(status=RunStatus.SENDING.value, attempts=StepRun.attempts + 1, started_at=moment)
    )
    db.session.refresh(run)
    return result.rowcount == 1


def _hold(run: StepRun, enrollment_id: int) -> str:
    run.status = RunStatus.HELD.value
    _reschedule(enrollment_id, None)  # waits for the rep; approve() makes it due again
    return "held"


def _hold_for_sender(enrollment: Enrollment, moment: datetime) -> str:
    _reschedule(enrollment.id, moment + MAX_BACKOFF)
    return "no sender"


def _reschedule(enrollment_id: int, due: datetime | None) -> None:
    db.session.execute(
        sa.update(Enrollment.__table__)
        .where(Enrollment.id == enrollment_id)
        .values(due_at=due, lease_until=None)
    )


def _throttled_until(sender: MailSender, moment: datetime) -> datetime | None:
    """When the sender may send again, or None when under both limits."""
    for window, limit in (
        (timedelta(hours=1), sender.max_per_hour),
        (timedelta(days=1), sender.max_per_day),
    ):
        oldest = db.session.execute(
            sa.select(sa.func.count(), sa.func.min(StepRun.started_at)).where(
                StepRun.sender_id == sender.id,
                StepRun.started_at > moment - window,
                StepRun.status.in_(SENT_STATUSES),
            )
        ).one()
        if oldest[0] >= limit:
            return oldest[1] + window
    return None


def _outgoing(run: StepRun, lead: Lead, owner: User | None) -> Outgoing:
    variant = db.session.get(EmailVariant, run.variant_id) if run.variant_id else None
    context = merge_context(lead, owner)
    subject = render_template_text(variant.subject if variant else "", context).strip()
    body = render_template_text(variant.body if variant else "", context)
    return Outgoing(
        lead.email,
        subject.replace("\n", " "),
        body,
        run.message_id,
        unsubscribe_url(run.unsubscribe_token),
    )


def unsubscribe_url(token: str) -> str:
    # Built without a request: workers send mail, so the public address comes from config.
    path = current_app.url_map.bind("").build("cadences.unsubscribe_submit", {"token": token})
    return f"{current_app.config['PUBLIC_BASE_URL']}{path}"


def _refused(run_id: int, enrollment_id: int, reason: str, permanent: bool) -> str:
    run = db.session.get(StepRun, run_id)
    run.last_error = reason[:500]
    if permanent:
        run.status, run.finished_at = RunStatus.BOUNCED.value, now()
        exit_enrollments(Enrollment.id == enrollment_id, ExitReason.BOUNCED)
        db.session.commit()
        return "bounced"
    run.status = RunStatus.RETRY.value
    _reschedule(enrollment_id, now() + backoff(run.attempts))
    db.session.commit()
    return "retry"


def _finish(
    run_id: int,
    enrollment_id: int,
    status: RunStatus,
    error: str | None,
    outgoing: Outgoing | None = None,
) -> str:
    moment = now()
    run = db.session.get(StepRun, run_id)
    run.status, run.finished_at, run.last_error = status.value, moment, error
    enrollment = db.session.get(Enrollment, enrollment_id)
    advance([{"eid": enrollment_id, "pos": enrollment.position, "due": moment}])
    if outgoing is not None:
        lead = db.session.get(Lead, run.lead_id)
        record(
            lead,
            ActivityType.EMAIL,
            None,
            f"Cadence email: {outgoing.subject}"[:500],
            step_run_id=run.id,
            message_id=outgoing.message_id,
        )
    db.session.commit()
    return status.value


def approve_held(run: StepRun) -> None:
    """Let a held email go: the next tick sends it as it would a retry. The caller commits."""
    if run.status != RunStatus.HELD:
        return
    run.status, run.last_error = RunStatus.RETRY.value, "approved"
    _reschedule(run.enrollment_id, now())
