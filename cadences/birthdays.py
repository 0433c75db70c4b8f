"""Birthday emails: a template from the library, sent by the workspace's chosen sender.

The birthday reminder row (unique per lead, kind and day) makes a birthday come due
once a year; when the workspace sends emails, announcing it adds the one
``BirthdayEmail`` row of that reminder instead of a task. That row then goes
due → sending → sent as a step run does (see ``cadences.sending``): the move to
``sending`` is a compare-and-set committed before SMTP talks, so a sweep that runs
twice sends once, and a worker killed while sending leaves ``sending``, which turns
``unconfirmed`` and is never sent again. Contactability is read again at send time.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.forms import parse_id
from app.models import User
from cadences.exits import exit_reason_for
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
    BirthdayEmail,
    BirthdayEmailStatus,
    BirthdayMode,
    BirthdaySettings,
    EmailTemplate,
    MailSender,
)
from cadences.schedule import now
from cadences.sending import SENDING_STALE, backoff, unsubscribe_url
from leads.dnc import suppressed
from leads.models import ActivityType, Lead
from leads.timeline import record

EMAILS = BirthdayEmail.__table__
# A sweep sends at most this many; the rest wait for the next sweep minutes later.
SEND_BATCH = 500
Status = BirthdayEmailStatus


def emailing_workspaces(workspace_ids: set[int]) -> dict[int, BirthdaySettings]:
    """The workspaces among these that greet by email, with their settings."""
    if not workspace_ids:
        return {}
    return {
        s.workspace_id: s
        for s in db.session.scalars(
            sa.select(BirthdaySettings).where(
                BirthdaySettings.workspace_id.in_(workspace_ids),
                BirthdaySettings.mode == BirthdayMode.EMAIL.value,
            )
        )
    }


def queue_emails(reminders: Sequence[Any], settings: dict[int, BirthdaySettings]) -> int:
    """One birthday email per claimed reminder (rows with id, lead_id, due_at, workspace_id).

    Inserted in the reminder's claiming transaction, so a reminder is either still
    unclaimed or has its email row. The caller commits.
    """
    rows = [
        {
            "reminder_id": r.id,
            "lead_id": r.lead_id,
            "status": Status.DUE.value,
            "template_id": settings[r.workspace_id].template_id,
            "sender_id": settings[r.workspace_id].sender_id,
            "message_id": f"<{uuid.uuid4().hex}@{_domain(settings[r.workspace_id])}>",
            "unsubscribe_token": secrets.token_urlsafe(24),
            "attempts": 0,
            "due_at": r.due_at,
        }
        for r in reminders
    ]
    if rows:
        db.session.execute(sa.insert(EMAILS), rows)
    return len(rows)


def _domain(settings: BirthdaySettings) -> str:
    sender = db.session.get(MailSender, settings.sender_id)
    return (sender.from_email.rpartition("@")[2] if sender else "") or "localhost"


def send_due(pool: SmtpPool, limit: int = SEND_BATCH) -> dict[str, int]:
    """Send the birthday emails that are due; commits after each claim and each record."""
    moment = now()
    _give_up_stale(moment)
    db.session.commit()
    due = db.session.scalars(
        sa.select(EMAILS.c.reminder_id)
        .where(
            EMAILS.c.status.in_((Status.DUE.value, Status.RETRY.value)),
            EMAILS.c.due_at <= moment,
        )
        .order_by(EMAILS.c.due_at)
        .limit(limit)
    ).all()
    outcomes: dict[str, int] = {}
    for reminder_id in due:
        outcome = _send_one(reminder_id, pool)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def _give_up_stale(moment: datetime) -> None:
    """A ``sending`` row older than any SMTP exchange: its worker died mid-send."""
    db.session.execute(
        sa.update(EMAILS)
        .where(
            EMAILS.c.status == Status.SENDING.value,
            EMAILS.c.started_at < moment - SENDING_STALE,
        )
        .values(
            status=Status.UNCONFIRMED.value,
            finished_at=moment,
            last_error="the worker stopped while sending; not sent again",
        )
    )


_AT_SEND = (
    sa.select(
        *(getattr(Lead, name) for name in LEAD_FIELDS if name != "phone"),
        Lead.id, Lead.status, Lead.owner_id, Lead.workspace_id, Lead.phone_e164, Lead.phone_raw,
        Lead.custom_fields, suppressed().label("blocked"),
    )
    .where(Lead.id == sa.bindparam("lead_id"))
)  # fmt: skip


def _send_one(reminder_id: int, pool: SmtpPool) -> str:
    moment = now()
    claimed = db.session.execute(
        sa.update(EMAILS)
        .where(
            EMAILS.c.reminder_id == reminder_id,
            EMAILS.c.status.in_((Status.DUE.value, Status.RETRY.value)),
        )
        .values(status=Status.SENDING.value, attempts=EMAILS.c.attempts + 1, started_at=moment)
        .returning(EMAILS)
    ).first()
    if claimed is None:
        db.session.commit()
        return "claimed elsewhere"
    lead = db.session.execute(_AT_SEND, {"lead_id": claimed.lead_id}).first()
    prepared = _prepare(claimed, lead)
    if isinstance(prepared, str):
        _set(reminder_id, status=Status.CANCELLED.value, finished_at=moment, last_error=prepared)
        db.session.commit()
        return "cancelled"
    sender, outgoing = prepared
    db.session.commit()  # the claim: from here on this email is never sent again
    try:
        pool.send(sender, outgoing.to, build_message(sender, outgoing))
    except SendError as exc:
        return _refused(claimed, str(exc), exc.permanent)
    except UncertainSend as exc:
        return _record(claimed, lead, Status.UNCONFIRMED, str(exc))
    return _record(claimed, lead, Status.SENT, None, outgoing)


def _prepare(claimed, lead) -> str | tuple[SenderSettings, Outgoing]:
    """The sender and message, or why the email is not to be sent at all."""
    if lead is None:
        return "the lead was erased"
    if reason := exit_reason_for(lead, lead.blocked):
        return f"not contactable: {reason.value.replace('_', ' ')}"
    if not lead.email:
        return "the lead has no email address"
    template = db.session.get(EmailTemplate, claimed.template_id) if claimed.template_id else None
    sender = db.session.get(MailSender, claimed.sender_id) if claimed.sender_id else None
    if template is None or sender is None:
        return "the birthday template or sender was removed"
    owner = db.session.get(User, lead.owner_id) if lead.owner_id else None
    rep = owner and SimpleNamespace(name=owner.name, email=owner.email)
    context = merge_context(lead, rep)
    try:
        subject = render_template_text(template.subject, context).strip()
        body = render_template_text(template.body, context)
    except RenderError as exc:
        return f"template: {exc}"[:500]
    outgoing = Outgoing(
        lead.email, subject, body, claimed.message_id, unsubscribe_url(claimed.unsubscribe_token)
    )
    return SenderSettings.of(sender), outgoing


def _set(reminder_id: int, **values: Any) -> None:
    db.session.execute(sa.update(EMAILS).where(EMAILS.c.reminder_id == reminder_id).values(values))


def _refused(claimed, reason: str, permanent: bool) -> str:
    if permanent:
        _set(claimed.reminder_id, status=Status.BOUNCED.value, finished_at=now(),
             last_error=reason[:500])  # fmt: skip
    else:
        _set(claimed.reminder_id, status=Status.RETRY.value, last_error=reason[:500],
             due_at=now() + backoff(claimed.attempts))  # fmt: skip
    db.session.commit()
    return Status.BOUNCED.value if permanent else Status.RETRY.value


def _record(claimed, lead, status: Status, error: str | None, outgoing=None) -> str:
    _set(claimed.reminder_id, status=status.value, finished_at=now(), last_error=error)
    if outgoing is not None:
        record(
            db.session.get(Lead, lead.id), ActivityType.EMAIL, None,
            f"Birthday email: {outgoing.subject}"[:500], message_id=outgoing.message_id,
        )  # fmt: skip
    db.session.commit()
    return status.value


def save_settings(workspace_id: int, form) -> str | None:
    """Store the workspace's birthday choice from the settings form, or say what is wrong.

    The caller commits.
    """
    mode = form.get("mode", BirthdayMode.TASK.value)
    if mode not in {m.value for m in BirthdayMode}:
        return "Choose a task for the owner or a templated email."
    template_id, sender_id = parse_id(form.get("template_id")), parse_id(form.get("sender_id"))
    template = db.session.get(EmailTemplate, template_id) if template_id else None
    sender = db.session.get(MailSender, sender_id) if sender_id else None
    if mode == BirthdayMode.EMAIL:
        if template is None or template.workspace_id != workspace_id:
            return "Choose the template to send from the library (add one there first)."
        if sender is None or sender.workspace_id != workspace_id:
            return "Choose the sender the birthday emails go out from (add one under Senders)."
    settings = db.session.get(BirthdaySettings, workspace_id) or BirthdaySettings(
        workspace_id=workspace_id
    )
    settings.mode = mode
    # Kept when switching back to tasks, so switching to email again needs no re-choosing.
    settings.template_id = (
        template.id if template and template.workspace_id == workspace_id else None
    )
    settings.sender_id = sender.id if sender and sender.workspace_id == workspace_id else None
    db.session.add(settings)
    return None
