"""Enrolling leads, pausing and ending enrolments, replies, approving held emails."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, abort, current_app, flash, jsonify, redirect, request, url_for
from flask_login import current_user

from app.access import roles_required
from app.extensions import csrf, db
from app.forms import parse_id
from cadences import bp
from cadences.enrollment import EnrollError, enroll, enroll_many
from cadences.exits import exit_enrollments, mark_replied, set_paused
from cadences.models import Enrollment, ExitReason, StepRun
from cadences.sending import approve_held
from cadences.views import CADENCE_ROLES, _page, cadence_or_404
from leads.queries import LeadFilters, filtered_leads, get_visible_lead


@bp.post("/cadences/<int:cadence_id>/enroll")
@roles_required(*CADENCE_ROLES)
def enroll_lead(cadence_id: int) -> Response:
    """Enrol one lead by its id; a refusal says why, keeping what was typed."""
    cadence = cadence_or_404(cadence_id)
    typed = request.form.get("lead_id", "")
    lead_id = parse_id(typed)
    lead = get_visible_lead(current_user, lead_id) if lead_id else None
    if lead is None:
        return _page(
            cadence, "enrol", 422, enrol_error=f"No lead #{typed} that you can see.", typed=typed
        )
    try:
        enroll(cadence, lead, current_user)
    except EnrollError as exc:
        db.session.rollback()
        return _page(cadence, "enrol", 422, enrol_error=str(exc), typed=typed)
    db.session.commit()
    return _page(cadence, "enrol", enrol_message=f"{lead.display_name} is enrolled.")


@bp.post("/cadences/<int:cadence_id>/enroll-view")
@roles_required(*CADENCE_ROLES)
def enroll_view(cadence_id: int) -> Response:
    """Enrol every lead of a leads-page view (its filters), skipping those that may not be."""
    cadence = cadence_or_404(cadence_id)
    filters = LeadFilters.from_args(request.form)
    try:
        result = enroll_many(cadence, filtered_leads(current_user, filters), current_user)
    except EnrollError as exc:
        return _page(cadence, "enrol", 422, enrol_error=str(exc))
    db.session.commit()
    skipped = ", ".join(f"{count} {reason}" for reason, count in result.skipped.items())
    message = f"{result.enrolled} enrolled." + (f" Skipped: {skipped}." if skipped else "")
    return _page(cadence, "enrol", enrol_message=message)


def _enrollment_or_404(enrollment_id: int) -> Enrollment:
    enrollment = db.session.get(Enrollment, enrollment_id)
    if enrollment is None or get_visible_lead(current_user, enrollment.lead_id) is None:
        abort(404)
    return enrollment


@bp.post("/cadences/enrollments/<int:enrollment_id>/<any(pause, resume, remove):change>")
@roles_required(*CADENCE_ROLES)
def change_enrollment(enrollment_id: int, change: str) -> Response:
    """Pause, resume or end one lead's enrolment."""
    enrollment = _enrollment_or_404(enrollment_id)
    condition = Enrollment.id == enrollment.id
    if change == "remove":
        exit_enrollments(condition, ExitReason.REMOVED)
    else:
        set_paused(condition, change == "pause")
    db.session.commit()
    return redirect(url_for("cadences.detail", cadence_id=enrollment.cadence_id))


@bp.post("/cadences/leads/<int:lead_id>/replied")
@roles_required(*CADENCE_ROLES)
def lead_replied(lead_id: int) -> Response:
    """The rep marks that the lead replied: the cadence stops."""
    if get_visible_lead(current_user, lead_id) is None:
        abort(404)
    ended = mark_replied(lead_id)
    db.session.commit()
    flash(
        "Marked as replied; the cadence stopped." if ended else "No running cadence for this lead.",
        "success",
    )
    return redirect(request.referrer or url_for("cadences.index"))


@bp.post("/cadences/runs/<int:run_id>/approve")
@roles_required(*CADENCE_ROLES)
def approve(run_id: int) -> Response:
    """Send an email that was held for review."""
    run = db.session.get(StepRun, run_id)
    if run is None or get_visible_lead(current_user, run.lead_id) is None:
        abort(404)
    approve_held(run)
    db.session.commit()
    enrollment = db.session.get(Enrollment, run.enrollment_id)
    return redirect(url_for("cadences.detail", cadence_id=enrollment.cadence_id))


# Called by the mail system, not a browser: a shared key instead of a session and CSRF.
@bp.post("/cadences/inbound-reply")
@csrf.exempt
def inbound_reply() -> Response:
    """A reply arrived: the In-Reply-To Message-ID finds the email and stops its cadence."""
    key = current_app.config.get("INBOUND_REPLY_KEY")
    if not key or request.headers.get("X-Leadline-Key") != key:
        return jsonify(error="a valid X-Leadline-Key header is required"), 401
    payload = request.get_json(silent=True) or {}
    message_id = str(payload.get("in_reply_to") or "").strip()
    if not message_id:
        return jsonify(error="in_reply_to (the Message-ID replied to) is required"), 422
    lead_id = db.session.scalar(sa.select(StepRun.lead_id).where(StepRun.message_id == message_id))
    if lead_id is None:
        return jsonify(matched=False), 200
    mark_replied(lead_id, message_id)
    db.session.commit()
    return jsonify(matched=True), 200
