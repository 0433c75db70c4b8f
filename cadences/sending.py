"""Email steps: claim, send, record — a state machine that never sends a message twice.

1. Claim (one transaction): insert the step run as ``sending`` with its Message-ID,
   or move a ``retry`` run to ``sending`` with a compare-and-set. Only the winner goes on.
2. Send through SMTP.
3. Record (one transaction): ``sent`` and the enrolment moves on; a refusal becomes
   ``retry`` with backoff (or ``bounced``, which ends the cadence).
A worker killed between 1 and 3 leaves a ``sending`` run: once it is older than any
SMTP exchange can last it becomes ``unconfirmed`` and the cadence moves on without
sending it again, because SMTP cannot tell us whether the message arrived.

Every message is its own claim and record, so a crash can leave at most the one
message in flight unconfirmed. A record is not committed on its own: the next
message's claim commits it (one transaction a message, not two), and the caller
commits the last. Until then a crash leaves that message ``sending`` too, so it is
never sent again. The work around it is plain SQL on rows through the session's
connection (the ORM adds nothing to them but time), with the cadence's step,
variants and sender read once a batch (``Batch``).
"""

from __future__ import annotations

import functools
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.database import insert_ignoring_duplicates
from app.extensions import db
from app.models import User
from cadences.exits import exit_enrollments, exit_reason_for
from cadences.mailer import (
    Outgoing,
    SendError,
    SenderSettings,
    SmtpPool,
    UncertainSend,
    build_message,
)
from cadences.merge import LEAD_FIELDS, RenderError, merge_context, render_template_text
from cadences.models import (
    Cadence,
    CadenceStep,
    Enrollment,
    EnrollmentStatus,
    ExitReason,
    MailSender,
    RunStatus,
    StepRun,
)
from cadences.schedule import now
from leads.dnc import suppressed
from leads.models import Activity, ActivityType, Lead

# Longer than any SMTP exchange can take (connect, TLS, data: each with a 30 s timeout).
SENDING_STALE = timedelta(minutes=10)
MAX_BACKOFF = timedelta(hours=1)
SENT_STATUSES = (RunStatus.SENDING.value, RunStatus.SENT.value, RunStatus.UNCONFIRMED.value)
RUNS = StepRun.__table__
ENROLLMENTS = Enrollment.__table__

# Statements built once: each message runs several, and building a statement costs
# more than SQLite takes to run it. Their SET clauses come from the parameters given.
_UPDATE_RUN = sa.update(RUNS).where(RUNS.c.id == sa.bindparam("run_id"))
_UPDATE_ENROLLMENT = sa.update(ENROLLMENTS).where(ENROLLMENTS.c.id == sa.bindparam("enrollment_id"))
_MOVE_ON = (
    sa.update(ENROLLMENTS)
    .where(ENROLLMENTS.c.id == sa.bindparam("eid"), ENROLLMENTS.c.position == sa.bindparam("pos"))
    .values(position=ENROLLMENTS.c.position + 1, due_at=sa.bindparam("due"), lease_until=None)
)
_RECORD_EMAIL = sa.insert(Activity.__table__)


def backoff(attempts: int) -> timedelta:
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


@dataclass(frozen=True)
class StepInfo:
    id: int
    position: int
    hold_for_review: bool
    variants: tuple[tuple[int, str, str], ...]  # (id, subject, body), split in this order


@dataclass
class Batch:
    """What the emails of one batch share: sends left per sender, settings read once.

    Plain snapshots, not ORM objects: the commit after every message would expire
    those and make each next message read its step, variants and sender again.
    """

    allowance: dict[int, int] = field(default_factory=dict)
    steps: dict[int, StepInfo | None] = field(default_factory=dict)
    senders: dict[int, SenderSettings | None] = field(default_factory=dict)
    reps: dict[int | None, SimpleNamespace | None] = field(default_factory=dict)

    def step(self, step_id: int) -> StepInfo | None:
        if step_id not in self.steps:
            step = db.session.get(CadenceStep, step_id)
            self.steps[step_id] = step and StepInfo(
                step.id, step.position, step.hold_for_review,
                tuple((v.id, v.subject, v.body) for v in step.variants),
            )  # fmt: skip
        return self.steps[step_id]

    def sender(self, cadence_id: int) -> SenderSettings | None:
        if cadence_id not in self.senders:
            sender = db.session.scalar(
                sa.select(MailSender).join(Cadence, Cadence.sender_id == MailSender.id)
                .where(Cadence.id == cadence_id)
            )  # fmt: skip
            self.senders[cadence_id] = sender and SenderSettings.of(sender)
        return self.senders[cadence_id]

    def rep(self, user_id: int | None) -> SimpleNamespace | None:
        if user_id not in self.reps:
            user = db.session.get(User, user_id) if user_id else None
            self.reps[user_id] = user and SimpleNamespace(name=user.name, email=user.email)
        return self.reps[user_id]


def send_email_step(
    enrollment_id: int, step_id: int, pool: SmtpPool, batch: Batch | None = None
) -> str:
    """Run one email step for one enrolment; returns what became of it.

    The outcome is recorded but not committed: the next call's claim, or the caller,
    commits it.
    """
    claim = _claim(enrollment_id, step_id, batch or Batch())
    db.session.commit()
    if isinstance(claim, str):
        return claim
    run, position, outgoing, sender = claim
    try:
        pool.send(sender, outgoing.to, build_message(sender, outgoing))
    except SendError as exc:
        return _refused(run.id, enrollment_id, run.attempts, str(exc), exc.permanent)
    except UncertainSend as exc:
        return _finish(run, position, RunStatus.UNCONFIRMED, str(exc))
    return _finish(run, position, RunStatus.SENT, None, outgoing)


_LEAD_COLUMNS = [getattr(Lead, name) for name in LEAD_FIELDS if name != "phone"]
# The enrolment, its lead's merge fields and whether the lead may still be contacted.
_ENROLLMENT_AT_SEND = (
    sa.select(
        Enrollment.status.label("enrollment_status"), Enrollment.position, Enrollment.owner_id,
        Enrollment.variant_seed, Enrollment.cadence_id, Enrollment.lead_id, Lead.status,
        Lead.email_key, Lead.phone_e164, Lead.phone_raw, Lead.custom_fields, *_LEAD_COLUMNS,
        suppressed().label("blocked"),
    )
    .join(Lead, Lead.id == Enrollment.lead_id)
    .where(Enrollment.id == sa.bindparam("enrollment_id"))
)  # fmt: skip


def _claim(enrollment_id: int, step_id: int, batch: Batch):
    moment = now()
    step = batch.step(step_id)
    row = _execute(_ENROLLMENT_AT_SEND, {"enrollment_id": enrollment_id}).first()
    if row is None or step is None or row.enrollment_status != EnrollmentStatus.ACTIVE:
        return "not running"
    if step.position != row.position:
        return "already moved on"
    # Checked again here, at send time: an opt-out after the batch read must win.
    if reason := exit_reason_for(row, row.blocked):
        exit_enrollments(Enrollment.id == enrollment_id, reason)
        return "exited"
    sender = batch.sender(row.cadence_id)
    if sender is None:  # the cadence has no sender yet: try again later
        _reschedule(enrollment_id, moment + MAX_BACKOFF)
        return "no sender"
    if sender.id not in batch.allowance:
        batch.allowance[sender.id] = _emails_left(sender, moment)
    if batch.allowance[sender.id] < 1:
        _reschedule(enrollment_id, _limit_lifts_at(sender, moment))
        return "throttled"
    # The insert is the claim; only when the row exists already is it looked at.
    run = _new_run(enrollment_id, step, row, sender, moment)
    if run is None:
        run = _execute(
            sa.select(RUNS).where(RUNS.c.enrollment_id == enrollment_id, RUNS.c.step_id == step_id)
        ).first()
        if run.status != RunStatus.RETRY:
            return _settle_existing(run, enrollment_id, row.position, moment)
        if (run := _resume(run, moment)) is None:
            return "claimed elsewhere"
    batch.allowance[sender.id] -= 1
    if step.hold_for_review and run.attempts == 1 and not run.last_error:
        _set_run(run.id, status=RunStatus.HELD.value)
        _reschedule(enrollment_id, None)  # waits for the rep; approve_held makes it due again
        return "held"
    try:
        outgoing = _outgoing(run, step, row, batch.rep(row.owner_id))
    except RenderError as exc:
        _set_run(run.id, status=RunStatus.RETRY.value, last_error=f"template: {exc}"[:500])
        _reschedule(enrollment_id, None)
        return "template error"
    return run, row.position, outgoing, sender


def _settle_existing(run, enrollment_id: int, position: int, moment: datetime) -> str:
    if run.status == RunStatus.SENDING and run.started_at < moment - SENDING_STALE:
        _set_run(run.id, status=RunStatus.UNCONFIRMED.value, finished_at=moment,
                 last_error="the worker stopped while sending; not sent again")  # fmt: skip
        _execute(_MOVE_ON, {"eid": enrollment_id, "pos": position, "due": moment})
        return "unconfirmed"
    return f"already {run.status}"


def _new_run(enrollment_id: int, step: StepInfo, row, sender: SenderSettings, moment: datetime):
    variants = step.variants
    variant_id = variants[row.variant_seed % len(variants)][0] if variants else None
    domain = sender.from_email.rpartition("@")[2] or "localhost"
    return _execute(_claim_statement(db.session.get_bind().dialect.name), {
        "enrollment_id": enrollment_id, "step_id": step.id, "lead_id": row.lead_id,
        "status": RunStatus.SENDING.value, "variant_id": variant_id, "sender_id": sender.id,
        "message_id": f"<{uuid.uuid4().hex}@{domain}>",
        "unsubscribe_token": secrets.token_urlsafe(24), "attempts": 1, "started_at": moment,
    }).first()  # fmt: skip


@functools.cache
def _claim_statement(_dialect: str):
    """INSERT … ON CONFLICT DO NOTHING RETURNING, built once per database kind."""
    return insert_ignoring_duplicates(RUNS).returning(RUNS)


def _resume(run, moment: datetime):
    """retry → sending, compare-and-set: of two workers retrying, one wins."""
    return _execute(
        sa.update(RUNS)
        .where(RUNS.c.id == run.id, RUNS.c.status == RunStatus.RETRY.value)
        .values(status=RunStatus.SENDING.value, attempts=RUNS.c.attempts + 1, started_at=moment)
        .returning(RUNS)
    ).first()


def _execute(statement: sa.Executable, parameters: dict[str, Any] | None = None):
    return db.session.connection().execute(statement, parameters)


def _set_run(run_id: int, **values: Any) -> None:
    _execute(_UPDATE_RUN, {"run_id": run_id, **values})


def _reschedule(enrollment_id: int, due: datetime | None) -> None:
    _execute(
        _UPDATE_ENROLLMENT, {"enrollment_id": enrollment_id, "due_at": due, "lease_until": None}
    )


def _recent_sends(sender: SenderSettings, since: datetime):
    return db.session.execute(
        sa.select(sa.func.count(), sa.func.min(StepRun.started_at)).where(
            StepRun.sender_id == sender.id,
            StepRun.started_at > since,
            StepRun.status.in_(SENT_STATUSES),
        )
    ).one()


def _limits(sender: SenderSettings) -> tuple[tuple[timedelta, int], ...]:
    return ((timedelta(hours=1), sender.max_per_hour), (timedelta(days=1), sender.max_per_day))


def _emails_left(sender: SenderSettings, moment: datetime) -> int:
    """How many more the sender may send now under both its hourly and daily limit."""
    return min(
        limit - _recent_sends(sender, moment - window)[0] for window, limit in _limits(sender)
    )


def _limit_lifts_at(sender: SenderSettings, moment: datetime) -> datetime:
    """When the oldest send inside a full window leaves it."""
    lifts = [moment + timedelta(minutes=1)]
    for window, limit in _limits(sender):
        count, oldest = _recent_sends(sender, moment - window)
        if count >= limit and oldest is not None:
            lifts.append(oldest + window)
    return max(lifts)


def _outgoing(run, step: StepInfo, lead, rep: SimpleNamespace | None) -> Outgoing:
    _id, subject, body = next((v for v in step.variants if v[0] == run.variant_id), (0, "", ""))
    context = merge_context(lead, rep)
    subject = render_template_text(subject, context).strip()
    body = render_template_text(body, context)
    return Outgoing(lead.email, subject.replace("\n", " "), body, run.message_id,
                    unsubscribe_url(run.unsubscribe_token))  # fmt: skip


def unsubscribe_url(token: str) -> str:
    # Built without a request: workers send mail, so the public address comes from config.
    path = current_app.url_map.bind("").build("cadences.unsubscribe_submit", {"token": token})
    return f"{current_app.config['PUBLIC_BASE_URL']}{path}"


def _refused(run_id: int, enrollment_id: int, attempts: int, reason: str, permanent: bool) -> str:
    if permanent:
        _set_run(run_id, status=RunStatus.BOUNCED.value, finished_at=now(), last_error=reason[:500])
        exit_enrollments(Enrollment.id == enrollment_id, ExitReason.BOUNCED)
        outcome = "bounced"
    else:
        _set_run(run_id, status=RunStatus.RETRY.value, last_error=reason[:500])
        _reschedule(enrollment_id, now() + backoff(attempts))
        outcome = "retry"
    return outcome


def _finish(
    run, position: int, status: RunStatus, error: str | None, outgoing: Outgoing | None = None
) -> str:
    """Record the send and move on; compare-and-set on the position. Not committed here."""
    moment = now()
    _set_run(run.id, status=status.value, finished_at=moment, last_error=error)
    _execute(_MOVE_ON, {"eid": run.enrollment_id, "pos": position, "due": moment})
    if outgoing is not None:  # the timeline entry, as leads.timeline.record writes it
        _execute(_RECORD_EMAIL, {
            "lead_id": run.lead_id, "type": ActivityType.EMAIL.value, "occurred_at": moment,
            "summary": f"Cadence email: {outgoing.subject}"[:500],
            "data": {"step_run_id": run.id, "message_id": outgoing.message_id},
        })  # fmt: skip
    return status.value


def approve_held(run: StepRun) -> None:
    """Let a held email go: the next tick sends it as it would a retry. The caller commits."""
    if run.status != RunStatus.HELD:
        return
    run.status, run.last_error = RunStatus.RETRY.value, "approved"
    _reschedule(run.enrollment_id, now())
