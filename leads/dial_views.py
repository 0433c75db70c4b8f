"""The dial screen: pick a view, work one lead at a time, one htmx swap per step."""

from __future__ import annotations

from datetime import UTC

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from app.access import roles_required
from app.database import begins_deferred, write_transaction
from app.extensions import db
from app.forms import parse_id
from app.htmx import hx_redirect, is_htmx, render
from leads import bp, dnc
from leads.calling_hours import place_of, utc_now
from leads.dial_models import SavedView
from leads.dialing import Rules, claim_next, held_lead, release, summarize
from leads.dispositions import (
    Disposition,
    DispositionError,
    Result,
    announce,
    dispose,
    due_callback_count,
    open_callbacks,
    outcomes,
)
from leads.models import Lead
from leads.normalize import describe_local_time
from leads.saved_views import ViewError, describe, filters_from_args, get_usable_view, save_view
from leads.saved_views import usable_views as views_for
from leads.timeline import timeline

SESSION_TEMPLATE = "dialing/session.html"
MESSAGES = {
    Result.ALREADY_RECORDED: "That call was already recorded; here is your next lead.",
    Result.NOT_HELD: (
        "That lead is no longer yours (another tab or caller has it, its lease ran out, "
        "or its number went on the do-not-contact list). "
        "Nothing was recorded; here is your current lead."
    ),
}


def _view() -> SavedView | None:
    view_id = parse_id(request.values.get("view"))
    view = get_usable_view(current_user, view_id)
    if view_id is not None and view is None:
        abort(404)
    return view


def _card(
    lead: Lead | None,
    view: SavedView | None,
    message: str = "",
    error: str = "",
    status: int = 200,
    form: dict | None = None,
    starting: bool = False,
):
    filters = view.filters if view else {}
    place = place_of(lead, current_user.workspace.default_region or "US") if lead else None
    return render(
        SESSION_TEMPLATE,
        block="card",
        status=status,
        lead=lead,
        view=view,
        message=message,
        error=error,
        form=form or {},
        outcomes=outcomes(current_user.workspace_id),
        place=place,
        local_time=describe_local_time(place.zones, utc_now().replace(tzinfo=UTC))
        if place
        else None,
        activities=timeline(lead, limit=30) if lead else [],
        blocked_phones=_listed_other_phones(lead),
        # The page first asks for a lead (its load trigger); only an empty claim explains why.
        summary=None if lead or starting else summarize(current_user, filters),
        due_callbacks=due_callback_count(current_user),
    )


def _listed_other_phones(lead: Lead | None) -> set[str]:
    """The lead's further phones on the do-not-contact list (no query when it has none)."""
    if lead is None or not lead.other_phones:
        return set()
    return dnc.listed_phones(lead.workspace_id, (p.get("e164") for p in lead.other_phones))


@bp.get("/dial")
@roles_required()
def dial_home():
    """Pick a saved view to dial; callbacks waiting, overdue first."""
    return render(
        "dialing/index.html",
        views=views_for(current_user),
        describe=describe,
        callbacks=open_callbacks(current_user),
        now=utc_now(),
    )


@bp.get("/dial/session")
@roles_required()
def dial_session():
    """The dial screen: the lead held now, or a request for the next one once the page loads."""
    view = _view()
    lead = held_lead(current_user)
    return _card(lead, view, starting=True)


def _warm_up() -> None:
    """Read the workspace's rules and outcomes before taking the write lock."""
    Rules.for_user(current_user)
    outcomes(current_user.workspace_id)


@bp.post("/dial/next")
@roles_required()
@begins_deferred
def dial_next():
    """Claim the next lead of the view (or return the one already held)."""
    view = _view()
    _warm_up()
    with write_transaction():
        lead = claim_next(current_user, view.filters if view else {})
    return _card(lead, view)


@bp.post("/dial/dispose")
@roles_required()
@begins_deferred
def dial_dispose():
    """Record the call's outcome and bring the next lead, in one swap."""
    view = _view()
    entry = Disposition(
        token=request.form.get("token", ""),
        outcome_key=request.form.get("outcome", ""),
        note=request.form.get("note", "")[:5000],
        duration_seconds=parse_id(request.form.get("duration")) or 0,
        callback_local=request.form.get("callback_at", ""),
    )
    _warm_up()
    try:
        with write_transaction():
            outcome = dispose(current_user, entry)
            recorded = outcome.result is Result.RECORDED
            lead = claim_next(current_user, view.filters if view else {}, holds_none=recorded)
    except DispositionError as exc:
        return _card(held_lead(current_user), view, error=str(exc), status=422, form=request.form)
    card = _card(lead, view, message=MESSAGES.get(outcome.result, ""))
    # After drawing the card: a receiver's commit expires everything the card reads.
    announce(outcome, current_user)
    return card


@bp.post("/dial/skip")
@roles_required()
@begins_deferred
def dial_skip():
    """Put the held lead back for later without a call, and bring the next one."""
    view = _view()
    _warm_up()
    message, token = "", request.form.get("token", "")
    with write_transaction():
        lead = held_lead(current_user)
        if lead is not None and lead.dial_lease_token == token:
            release(lead, until=utc_now() + Rules.for_user(current_user).recent)
            db.session.flush()
            lead = claim_next(current_user, view.filters if view else {})
        else:
            message = MESSAGES[Result.NOT_HELD]
    return _card(lead, view, message=message)


@bp.post("/views")
@roles_required()
def save_lead_view():
    """Save the leads page's current filters as a named view, private or shared."""
    filters = filters_from_args(request.form)
    try:
        view = save_view(
            current_user, request.form.get("name", ""), filters, request.form.get("shared") == "on"
        )
    except ViewError as exc:
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(f"Saved the view {view.name}; dial it from Dial.", "success")
    back = url_for("leads.index", **filters)
    return hx_redirect(back) if is_htmx() else redirect(back)


@bp.post("/views/<int:view_id>/delete")
@roles_required()
def delete_view(view_id: int):
    """Delete one of your own views."""
    view = db.session.get(SavedView, view_id)
    if view is None or view.owner_id != current_user.id:
        abort(404)
    db.session.delete(view)
    db.session.commit()
    flash(f"Deleted the view {view.name}.", "success")
    return redirect(url_for("leads.dial_home"))
