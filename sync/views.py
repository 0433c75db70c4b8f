"""Pages of the hand-off: the lead card's qualification panel, criteria, the Sync page."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Response, abort, flash, redirect, request, url_for
from flask_login import current_user

from app.access import roles_required
from app.extensions import db
from app.htmx import hx_redirect, is_htmx, render
from app.models import Role
from leads.models import Lead
from leads.queries import get_visible_lead
from leads.signals import lead_qualified
from sync import bp
from sync.backlog import backlog_counts, handoff_log, open_problems, problems_csv
from sync.erasure import backlog as erasure_backlog
from sync.handoff import deliver_lead_now, discard, retry
from sync.listeners import queue_deliveries
from sync.models import Handoff
from sync.qualification import (
    REQUIRABLE_FIELDS,
    NotQualified,
    answers_for,
    criteria_for,
    is_promoted,
    missing_for,
    promote,
    save_answers,
    save_criteria,
)
from sync.targets import enabled_targets, get_target

log = logging.getLogger(__name__)
PROMOTERS = (Role.ADMIN, Role.MANAGER, Role.REP)
SYNC_ADMINS = (Role.ADMIN, Role.MANAGER)


def _lead_or_404(lead_id: int) -> Lead:
    lead = get_visible_lead(current_user, lead_id)
    if lead is None:
        abort(404)
    return lead


def _panel(lead: Lead, status: int = 200, missing: list[str] | None = None):
    criteria = criteria_for(lead.workspace_id)
    answers = answers_for(lead)
    handoffs = db.session.scalars(sa.select(Handoff).where(Handoff.lead_id == lead.id)).all()
    if missing is None:
        missing = missing_for(lead, criteria, answers)
    return render(
        "sync/panel.html", block="panel", status=status, lead=lead, criteria=criteria,
        answers=answers, missing=missing, promoted=is_promoted(lead), handoffs=handoffs,
        can_promote=current_user.has_role(*PROMOTERS),
    )  # fmt: skip


@bp.get("/leads/<int:lead_id>/qualification")
@roles_required()
def qualification(lead_id: int):
    """The lead card's qualification panel: checklist, what is missing, Promote."""
    return _panel(_lead_or_404(lead_id))


@bp.post("/leads/<int:lead_id>/qualification")
@roles_required()
def save_checklist(lead_id: int):
    """Tick or untick the lead's checklist items."""
    lead = _lead_or_404(lead_id)
    save_answers(lead, request.form.getlist("checked"), criteria_for(lead.workspace_id))
    db.session.commit()
    if is_htmx():
        return _panel(lead)
    return redirect(url_for("leads.detail", lead_id=lead.id))


@bp.post("/leads/<int:lead_id>/promote")
@roles_required(*PROMOTERS)
def promote_lead(lead_id: int):
    """Qualify the lead and hand it to the pipeline, or say what is missing."""
    lead = _lead_or_404(lead_id)
    try:
        changed = promote(lead, current_user)
    except NotQualified as refused:
        db.session.rollback()
        return _panel(lead, status=422, missing=refused.missing)
    db.session.commit()
    if changed:
        lead_qualified.send(lead, user_id=current_user.id)
    _deliver_now(lead)
    flash(f"{lead.display_name} is in the pipeline." if changed
          else f"{lead.display_name} was promoted already.", "success")  # fmt: skip
    url = url_for("leads.detail", lead_id=lead.id)
    return hx_redirect(url) if is_htmx() else redirect(url)


def _deliver_now(lead: Lead) -> None:
    # The rep expects the deal on the board at once; the ledger row is committed, so
    # a failure here only leaves the row to the delivery job.
    target = get_target("pipeline")
    if target is None or target not in enabled_targets():
        return
    try:
        deliver_lead_now(lead.id, target)
    except Exception:
        db.session.rollback()
        log.warning("immediate hand-off of lead %s failed; the job will retry", lead.id,
                    exc_info=True)  # fmt: skip


@bp.route("/settings/qualification", methods=["GET", "POST"])
@roles_required(*SYNC_ADMINS)
def qualification_settings():
    """Choose the fields and checklist a lead needs before promotion."""
    if request.method == "POST":
        checklist = request.form.get("checklist", "").splitlines()
        save_criteria(current_user.workspace_id, request.form.getlist("required"), checklist)
        db.session.commit()
        flash("Saved the qualification criteria.", "success")
        return redirect(url_for("sync.qualification_settings"))
    return render(
        "sync/settings.html", criteria=criteria_for(current_user.workspace_id),
        fields=REQUIRABLE_FIELDS,
    )  # fmt: skip


@bp.get("/sync")
@roles_required(*SYNC_ADMINS)
def sync_page():
    """The hand-off backlog per target, and the rows that need a person."""
    state = request.args.get("state", "")
    counts = backlog_counts(current_user.workspace_id)
    return render(
        "sync/index.html", block="backlog", counts=counts, state=state,
        problems=open_problems(current_user.workspace_id, state),
        labels={target.name: target.label for target in counts},
        erasures=erasure_backlog(current_user.workspace_id),
    )  # fmt: skip


@bp.get("/sync/export.csv")
@roles_required(*SYNC_ADMINS)
def export_backlog():
    """The rows not delivered (or of one state) as a CSV download."""
    state = request.args.get("state", "")
    name = f"sync-{state or 'open'}.csv"
    return Response(
        problems_csv(current_user.workspace_id, state),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"',
                 "Cache-Control": "no-store"},
    )  # fmt: skip


@bp.get("/sync/leads/<int:lead_id>")
@roles_required(*SYNC_ADMINS)
def lead_sync_log(lead_id: int):
    """Every delivery attempt of one lead, per target."""
    lead = _lead_or_404(lead_id)
    return render("sync/lead_log.html", lead=lead, entries=handoff_log(lead))


def _handoff_or_404(handoff_id: int) -> Handoff:
    handoff = db.session.get(Handoff, handoff_id)
    if handoff is None or handoff.workspace_id != current_user.workspace_id:
        abort(404)
    return handoff


@bp.post("/sync/handoffs/<int:handoff_id>/retry")
@roles_required(*SYNC_ADMINS)
def retry_handoff(handoff_id: int):
    """Deliver a failed, stuck or discarded row again now."""
    handoff = _handoff_or_404(handoff_id)
    retry(handoff)
    db.session.commit()
    queue_deliveries(handoff.workspace_id)
    flash("Queued for delivery.", "success")
    return redirect(request.referrer or url_for("sync.sync_page"))


@bp.post("/sync/handoffs/<int:handoff_id>/discard")
@roles_required(*SYNC_ADMINS)
def discard_handoff(handoff_id: int):
    """Stop delivering a row."""
    handoff = _handoff_or_404(handoff_id)
    discard(handoff, f"Discarded by {current_user.name}")
    db.session.commit()
    flash("Discarded: it will not be delivered.", "success")
    return redirect(request.referrer or url_for("sync.sync_page"))
