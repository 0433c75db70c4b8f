"""The cadence panel on a lead's card: its running cadence, enrol it, mark a reply."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, abort, request
from flask_login import current_user

from app.access import roles_required
from app.extensions import db
from app.forms import parse_id
from app.htmx import render
from cadences import bp
from cadences.enrollment import EnrollError, enroll
from cadences.exits import mark_replied
from cadences.models import RUNNING_STATUSES, Cadence, Enrollment
from cadences.views import CADENCE_ROLES
from leads.models import Lead
from leads.queries import get_visible_lead

PANEL = "cadences/_lead_panel.html"


def _lead_or_404(lead_id: int) -> Lead:
    lead = get_visible_lead(current_user, lead_id)
    if lead is None:
        abort(404)
    return lead


def render_panel(lead: Lead, message: tuple[str, str] | None = None, status: int = 200):
    """The panel: the lead's running enrolment, or the workspace's cadences to enrol it in."""
    running = db.session.execute(
        sa.select(Enrollment, Cadence)
        .join(Cadence, Cadence.id == Enrollment.cadence_id)
        .where(Enrollment.lead_id == lead.id, Enrollment.status.in_(RUNNING_STATUSES))
    ).first()
    cadences = db.session.execute(
        sa.select(Cadence.id, Cadence.name)
        .where(Cadence.workspace_id == current_user.workspace_id)
        .order_by(Cadence.name)
    ).all()
    return render(
        PANEL, status=status, lead=lead, running=running, cadences=cadences, message=message
    )


@bp.get("/cadences/leads/<int:lead_id>/panel")
@roles_required(*CADENCE_ROLES)
def lead_panel(lead_id: int) -> Response:
    """The lead card's cadence panel."""
    return render_panel(_lead_or_404(lead_id))


@bp.post("/cadences/leads/<int:lead_id>/enroll")
@roles_required(*CADENCE_ROLES)
def enroll_from_lead(lead_id: int) -> Response:
    """Enrol the lead in the chosen cadence from its card; a refusal says why."""
    lead = _lead_or_404(lead_id)
    cadence_id = parse_id(request.form.get("cadence_id", ""))
    cadence = db.session.get(Cadence, cadence_id) if cadence_id else None
    if cadence is None or cadence.workspace_id != current_user.workspace_id:
        return render_panel(lead, ("error", "Choose a cadence."), status=422)
    try:
        enroll(cadence, lead, current_user)
    except EnrollError as exc:
        db.session.rollback()
        return render_panel(lead, ("error", str(exc)), status=422)
    db.session.commit()
    return render_panel(lead, ("success", f"Enrolled in “{cadence.name}”."))


@bp.post("/cadences/leads/<int:lead_id>/replied-panel")
@roles_required(*CADENCE_ROLES)
def lead_panel_replied(lead_id: int) -> Response:
    """Mark from the card that the lead replied: the cadence stops."""
    lead = _lead_or_404(lead_id)
    ended = mark_replied(lead.id)
    db.session.commit()
    if ended:
        return render_panel(lead, ("success", "Marked as replied; the cadence stopped."))
    return render_panel(lead, ("info", "No running cadence for this lead."))
