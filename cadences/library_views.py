"""The template library, previews against a real lead, the SMTP senders, holidays and
what a workspace does on birthdays."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import Response, redirect, request, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from app.access import roles_required
from app.database import insert_ignoring_duplicates
from app.extensions import db
from app.forms import parse_id
from app.htmx import render
from app.models import Role
from cadences import bp
from cadences.birthdays import save_settings as save_birthday_settings
from cadences.merge import RenderError, check_template, merge_context, render_template_text
from cadences.models import (
    BirthdayEmail,
    BirthdayMode,
    BirthdaySettings,
    EmailTemplate,
    Holiday,
    MailSender,
)
from cadences.views import CADENCE_ROLES
from leads.models import Lead
from leads.queries import get_visible_lead

SENDER_ROLES = (Role.ADMIN, Role.MANAGER, Role.MARKETER)


def _templates() -> list[EmailTemplate]:
    return list(
        db.session.scalars(
            sa.select(EmailTemplate)
            .where(EmailTemplate.workspace_id == current_user.workspace_id)
            .order_by(EmailTemplate.name)
        )
    )


@bp.get("/cadences/templates")
@roles_required(*CADENCE_ROLES)
def templates() -> Response:
    """The library of reusable email templates."""
    return render("cadences/templates.html", templates=_templates(), form={}, errors={})


@bp.post("/cadences/templates")
@roles_required(*CADENCE_ROLES)
def save_template() -> Response:
    """Add a template to the library once its merge fields and syntax check out."""
    form = {k: (request.form.get(k) or "").strip() for k in ("name", "subject", "body")}
    errors = {k: f"Fill in the {k}." for k, v in form.items() if not v}
    for name in ("subject", "body"):
        if form[name] and (found := check_template(form[name])):
            errors[name] = "; ".join(str(p) for p in found)
    if not errors:
        db.session.add(
            EmailTemplate(
                workspace_id=current_user.workspace_id,
                name=form["name"][:200],
                subject=form["subject"][:500],
                body=form["body"],
            )
        )
        try:
            db.session.commit()
            return redirect(url_for("cadences.templates"))
        except IntegrityError:
            db.session.rollback()
            errors["name"] = f"A template named “{form['name']}” exists already."
    return render(
        "cadences/templates.html", status=422, templates=_templates(), form=form, errors=errors
    )


@bp.post("/cadences/preview")
@roles_required(*CADENCE_ROLES)
def preview() -> Response:
    """Render a subject and body for one real lead, or say what is wrong with them."""
    # The builder's form names variant A's fields; the library's form plain ones.
    subject = request.form.get("subject_a", request.form.get("subject", ""))
    body = request.form.get("body_a", request.form.get("body", ""))
    lead_id = parse_id(request.form.get("preview_lead_id"))
    lead = get_visible_lead(current_user, lead_id) if lead_id else None
    problems = [f"Subject {p}" for p in check_template(subject)] + [
        f"Body {p}" for p in check_template(body)
    ]
    rendered = None
    if lead is None:
        problems.append("Enter the id of a lead you can see to preview against.")
    elif not problems:
        try:
            context = merge_context(lead, lead.owner or current_user)
            rendered = (render_template_text(subject, context), render_template_text(body, context))
        except RenderError as exc:
            problems.append(str(exc))
    return render("cadences/_preview.html", lead=lead, problems=problems, rendered=rendered)


@bp.get("/cadences/senders")
@roles_required(*SENDER_ROLES)
def senders() -> Response:
    """SMTP accounts cadences send from."""
    return render("cadences/senders.html", senders=_senders(), form={}, errors={})


def _senders() -> list[MailSender]:
    return list(
        db.session.scalars(
            sa.select(MailSender)
            .where(MailSender.workspace_id == current_user.workspace_id)
            .order_by(MailSender.from_email)
        )
    )


SENDER_TEXT = (
    "from_name",
    "from_email",
    "postal_address",
    "smtp_host",
    "smtp_username",
    "smtp_password",
)
SENDER_NUMBERS = {"smtp_port": 587, "max_per_hour": 100, "max_per_day": 500}


@bp.post("/cadences/senders")
@roles_required(*SENDER_ROLES)
def save_sender() -> Response:
    """Add an SMTP sender; its postal address goes into every message (anti-spam law)."""
    form = {k: (request.form.get(k) or "").strip() for k in (*SENDER_TEXT, *SENDER_NUMBERS)}
    errors = {
        k: "Required."
        for k in ("from_name", "from_email", "postal_address", "smtp_host")
        if not form[k]
    }
    if form["from_email"] and "@" not in form["from_email"]:
        errors["from_email"] = "Use a full email address."
    numbers = {}
    for name, default in SENDER_NUMBERS.items():
        try:
            numbers[name] = int(form[name] or default)
            if numbers[name] <= 0:
                raise ValueError
        except ValueError:
            errors[name] = "A positive whole number."
    if not errors:
        sender = MailSender(
            workspace_id=current_user.workspace_id,
            starttls="starttls" in request.form,
            **{k: form[k] or None for k in SENDER_TEXT},
            **numbers,
        )
        db.session.add(sender)
        try:
            db.session.commit()
            return redirect(url_for("cadences.senders"))
        except IntegrityError:
            db.session.rollback()
            errors["from_email"] = "This address has a sender already."
    return render("cadences/senders.html", status=422, senders=_senders(), form=form, errors=errors)


def _holidays() -> list[Holiday]:
    return list(
        db.session.scalars(
            sa.select(Holiday)
            .where(Holiday.workspace_id == current_user.workspace_id)
            .order_by(Holiday.day)
        )
    )


@bp.get("/cadences/holidays")
@roles_required(*SENDER_ROLES)
def holidays() -> Response:
    """Days that do not count as business days for waits and send windows."""
    return render("cadences/holidays.html", holidays=_holidays(), form={}, error=None)


@bp.post("/cadences/holidays")
@roles_required(*SENDER_ROLES)
def save_holiday() -> Response:
    """Add a holiday; a date given twice is kept once."""
    form = {k: (request.form.get(k) or "").strip() for k in ("day", "name")}
    try:
        day = date.fromisoformat(form["day"])
    except ValueError:
        error = f"“{form['day']}” is not a date; use YYYY-MM-DD." if form["day"] else "Pick a date."
        return render(
            "cadences/holidays.html", status=422, holidays=_holidays(), form=form, error=error
        )
    db.session.execute(
        insert_ignoring_duplicates(Holiday.__table__).values(
            workspace_id=current_user.workspace_id, day=day, name=form["name"][:120]
        )
    )
    db.session.commit()
    return redirect(url_for("cadences.holidays"))


def _birthday_page(status: int = 200, error: str | None = None, form=None, saved=False):
    workspace_id = current_user.workspace_id
    settings = db.session.get(BirthdaySettings, workspace_id)
    chosen = form or {
        "mode": settings.mode if settings else BirthdayMode.TASK.value,
        "template_id": str(settings.template_id or "") if settings else "",
        "sender_id": str(settings.sender_id or "") if settings else "",
    }
    recent = db.session.scalars(
        sa.select(BirthdayEmail)
        .join(Lead, Lead.id == BirthdayEmail.lead_id)
        .where(Lead.workspace_id == workspace_id)
        .order_by(BirthdayEmail.due_at.desc())
        .limit(50)
    ).all()
    return render(
        "cadences/birthdays.html", status=status, error=error, form=chosen, saved=saved,
        templates=_templates(), senders=_senders(), recent=recent,
    )  # fmt: skip


@bp.get("/cadences/birthdays")
@roles_required(*SENDER_ROLES)
def birthdays() -> Response:
    """What happens on a lead's birthday: a task for the owner, or a templated email."""
    return _birthday_page()


@bp.post("/cadences/birthdays")
@roles_required(*SENDER_ROLES)
def save_birthdays() -> Response:
    """Choose task or email for birthdays; an email needs a template and a sender."""
    form = {k: request.form.get(k, "") for k in ("mode", "template_id", "sender_id")}
    if error := save_birthday_settings(current_user.workspace_id, form):
        db.session.rollback()
        return _birthday_page(422, error, form)
    db.session.commit()
    return _birthday_page(saved=True)
