"""Dial settings for admins and managers: the outcomes callers pick, and calling hours."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from app.access import roles_required
from app.extensions import db
from app.htmx import render
from app.models import Role
from leads import bp, hours_settings
from leads import outcome_settings as settings
from leads.dial_models import SHORTCUT_KEYS
from leads.models import LeadStatus

DIAL_SETTINGS_EDITORS = (Role.ADMIN, Role.MANAGER)
OUTCOMES_TEMPLATE = "dialing/outcome_settings.html"


def _outcomes_page(status: int = 200, typed=None, editing=None, error: str = ""):
    workspace_id = current_user.workspace_id
    return render(
        OUTCOMES_TEMPLATE,
        status=status,
        outcomes=settings.all_outcomes(workspace_id),
        typed=typed or settings.OutcomeForm(),
        form=request.form if status == 422 else {},
        editing=editing,
        error=error,
        categories=settings.CATEGORY_LABELS,
        statuses=[LeadStatus(s) for s in settings.CALL_STATUSES],
        keys=SHORTCUT_KEYS,
    )


def _back():
    return redirect(url_for("leads.dial_outcome_settings"))


@bp.route("/settings/dial/outcomes", methods=["GET", "POST"])
@roles_required(*DIAL_SETTINGS_EDITORS)
def dial_outcome_settings():
    """The outcomes callers pick on the dial screen, in keyboard order; add one."""
    if request.method == "GET":
        return _outcomes_page()
    typed = settings.parse(request.form, settings.all_outcomes(current_user.workspace_id))
    if typed.problems:
        return _outcomes_page(422, typed)
    try:
        outcome = settings.add(current_user.workspace_id, typed)
    except settings.OutcomeSettingsError as exc:
        db.session.rollback()
        return _outcomes_page(422, typed, error=str(exc))
    db.session.commit()
    flash(f"Added the outcome {outcome.label} on key {outcome.shortcut}.", "success")
    return _back()


def _stored(key: str):
    outcome = settings.find(current_user.workspace_id, key)
    if outcome is None:
        abort(404)
    return outcome


@bp.route("/settings/dial/outcomes/<key>", methods=["GET", "POST"])
@roles_required(*DIAL_SETTINGS_EDITORS)
def edit_dial_outcome(key: str):
    """Rename an outcome, change its effects or its key."""
    # Checked against what is shown (perhaps the defaults), stored only once it is valid.
    shown = settings.all_outcomes(current_user.workspace_id)
    outcome = next((o for o in shown if o.key == key), None)
    if outcome is None:
        abort(404)
    if request.method == "GET":
        return _outcomes_page(editing=outcome)
    typed = settings.parse(request.form, [o for o in shown if o is not outcome])
    if typed.problems:
        return _outcomes_page(422, typed, editing=outcome)
    outcome = _stored(key)
    settings.update(outcome, typed)
    db.session.commit()
    flash(f"Saved the outcome {outcome.label}.", "success")
    return _back()


@bp.post("/settings/dial/outcomes/<key>/move")
@roles_required(*DIAL_SETTINGS_EDITORS)
def move_dial_outcome(key: str):
    """Move an outcome up or down the keyboard order."""
    step = {"up": -1, "down": 1}.get(request.form.get("direction", ""))
    if step is None:
        return _outcomes_page(422, error="Move an outcome up or down.")
    try:
        settings.move(_stored(key), step)
    except settings.OutcomeSettingsError as exc:
        db.session.rollback()
        return _outcomes_page(422, error=str(exc))
    db.session.commit()
    return _back()


@bp.post("/settings/dial/outcomes/<key>/active")
@roles_required(*DIAL_SETTINGS_EDITORS)
def toggle_dial_outcome(key: str):
    """Turn an outcome off (past calls keep it) or back on."""
    outcome = _stored(key)
    active = request.form.get("active") == "1"
    try:
        settings.set_active(outcome, active)
    except settings.OutcomeSettingsError as exc:
        db.session.rollback()
        return _outcomes_page(422, error=str(exc))
    db.session.commit()
    state = f"on, key {outcome.shortcut}" if active else "off; past calls keep it"
    flash(f"Turned {outcome.label} {state}.", "success")
    return _back()


def _hours_page(form: hours_settings.HoursForm, status: int = 200):
    return render(
        "dialing/hours_settings.html", status=status, form=form, numbers=hours_settings.NUMBERS
    )


@bp.route("/settings/dial/hours", methods=["GET", "POST"])
@roles_required(*DIAL_SETTINGS_EDITORS)
def dial_hours_settings():
    """Calling-hours windows in the lead's local time, the recent-call gap, attempts."""
    workspace_id = current_user.workspace_id
    if request.method == "GET":
        return _hours_page(hours_settings.current_form(workspace_id))
    if request.form.get("reset"):
        hours_settings.restore_default_hours(workspace_id)
        db.session.commit()
        flash("Calling hours are back to the defaults.", "success")
        return redirect(url_for("leads.dial_hours_settings"))
    typed = hours_settings.typed_form(request.form)
    values = hours_settings.parse(typed)
    if typed.problems:
        return _hours_page(typed, 422)
    hours_settings.save(workspace_id, values)
    db.session.commit()
    flash("Saved the dial settings; the next lead served follows them.", "success")
    return redirect(url_for("leads.dial_hours_settings"))
