"""Erasing a person: the confirm step that says what goes, and the erasure itself."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from app.access import roles_required
from app.extensions import db
from app.htmx import render
from app.models import Role
from leads import bp
from leads.erasure import ErasureRefused, erase, planned, same_person
from leads.models import Lead
from leads.queries import get_visible_lead

ERASERS = (Role.ADMIN, Role.MANAGER)


def _lead_or_404(lead_id: int) -> Lead:
    lead = get_visible_lead(current_user, lead_id)
    if lead is None:
        abort(404)
    return lead


def _page(lead, status: int = 200, error: str | None = None, chosen: set[int] | None = None):
    others = same_person(lead)
    chosen = {o.id for o in others} if chosen is None else chosen
    ids = [lead.id, *sorted(chosen)]
    page = render("leads/erase.html", lead=lead, others=others, chosen=chosen,
                  plan=planned(ids), error=error)  # fmt: skip
    return page, status


@bp.get("/leads/<int:lead_id>/erase")
@roles_required(*ERASERS)
def erase_confirm(lead_id: int):
    """The confirm step: the person's leads and everything erasing them removes."""
    return _page(_lead_or_404(lead_id))


@bp.post("/leads/<int:lead_id>/erase")
@roles_required(*ERASERS)
def erase_lead(lead_id: int):
    """Erase the person: the lead and the chosen leads sharing their phone or email."""
    lead = _lead_or_404(lead_id)
    others = {o.id: o for o in same_person(lead)}
    chosen = {int(v) for v in request.form.getlist("also") if v.isdigit() and int(v) in others}
    if request.form.get("confirm") != "erase":
        return _page(lead, 422, "Tick the box to confirm the erasure; it cannot be undone.", chosen)
    leads = [lead, *(others[i] for i in sorted(chosen))]
    if any(get_visible_lead(current_user, o.id) is None for o in leads):
        return _page(lead, 422, "You may not see one of the chosen leads.", chosen)
    try:
        erasure = erase(leads, current_user)
    except ErasureRefused as refused:
        db.session.rollback()
        return _page(lead, 422, str(refused), chosen)
    flash(f"Erased {erasure.lead_count} lead(s); erasure #{erasure.id} is in the audit.", "success")
    return redirect(url_for("leads.index"))
