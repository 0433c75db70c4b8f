"""Pages of the pipeline: the Kanban board, deal detail, won and lost, contacts."""

from __future__ import annotations

import logging

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from app.access import roles_required
from app.extensions import db
from app.forms import parse_id
from app.htmx import hx_redirect, is_htmx, render
from app.models import Role
from sync import bp
from sync.jobs import flow_back
from sync.models import Contact, Deal, Pipeline, Stage, StageOutcome
from sync.pipeline import (
    DealChanges,
    DealError,
    add_deal_note,
    board,
    contact_deals,
    deal_activities,
    get_visible_deal,
    move_deal,
    outcome_stage,
    purchase_history,
    update_deal,
    workspace_pipelines,
)

log = logging.getLogger(__name__)
DEAL_ROLES = (Role.ADMIN, Role.MANAGER, Role.REP)


def _deal_or_404(deal_id: int) -> Deal:
    deal = get_visible_deal(current_user, deal_id)
    if deal is None:
        abort(404)
    return deal


def _board_page(pipeline: Pipeline, status: int = 200, error: str | None = None):
    return render(
        "pipeline/board.html", block="board", status=status, pipeline=pipeline,
        pipelines=workspace_pipelines(current_user.workspace_id),
        columns=board(pipeline, current_user), error=error,
    )  # fmt: skip


@bp.get("/pipeline", defaults={"pipeline_id": None})
@bp.get("/pipeline/<int:pipeline_id>")
@roles_required(*DEAL_ROLES)
def board_page(pipeline_id: int | None):
    """The Kanban board of one pipeline: a column per stage."""
    pipelines = workspace_pipelines(current_user.workspace_id)
    chosen = next((p for p in pipelines if p.id == pipeline_id), None)
    if chosen is None and pipeline_id is not None:
        abort(404)
    return _board_page(chosen or pipelines[0])


@bp.post("/deals/<int:deal_id>/move")
@roles_required(*DEAL_ROLES)
def move(deal_id: int):
    """Move a deal to another stage (drag and drop, or the card's Move button)."""
    deal = _deal_or_404(deal_id)
    stage = db.session.get(Stage, parse_id(request.form.get("stage_id")) or 0)
    if stage is None or stage.pipeline_id != deal.pipeline_id:
        return _board_page(deal.pipeline, status=422, error="Choose a stage of this pipeline.")
    if stage.outcome == StageOutcome.LOST and not request.form.get("lost_reason"):
        # A lost deal needs its reason: the deal page asks for it.
        url = url_for("sync.deal", deal_id=deal.id, close="lost")
        return hx_redirect(url) if is_htmx() else redirect(url)
    move_deal(deal, stage, current_user, request.form.get("lost_reason"))
    db.session.commit()
    flow_back()
    if is_htmx():
        return _board_page(deal.pipeline)
    return redirect(url_for("sync.board_page", pipeline_id=deal.pipeline_id))


@bp.get("/deals/<int:deal_id>")
@roles_required(*DEAL_ROLES)
def deal(deal_id: int):
    """A deal: its fields, stage, contact, account and activities."""
    return _deal_page(_deal_or_404(deal_id))


def _deal_page(deal: Deal, status: int = 200, problems: dict | None = None, form=None):
    return render(
        "pipeline/deal.html", status=status, deal=deal, activities=deal_activities(deal),
        problems=problems or {}, form=form or {}, closing=request.args.get("close", ""),
    )  # fmt: skip


@bp.post("/deals/<int:deal_id>")
@roles_required(*DEAL_ROLES)
def edit_deal(deal_id: int):
    """Change a deal's name, value, currency and expected close."""
    deal = _deal_or_404(deal_id)
    form = {name: request.form.get(name, "") for name in DealChanges.__dataclass_fields__}
    problems = update_deal(deal, DealChanges(**form), current_user)
    if problems:
        db.session.rollback()
        return _deal_page(deal, status=422, problems=problems, form=form)
    db.session.commit()
    flow_back()
    flash("Saved the deal.", "success")
    return redirect(url_for("sync.deal", deal_id=deal.id))


@bp.post("/deals/<int:deal_id>/close")
@roles_required(*DEAL_ROLES)
def close_deal(deal_id: int):
    """Mark a deal won, or lost with a reason."""
    deal = _deal_or_404(deal_id)
    outcome = request.form.get("outcome", "")
    try:
        if outcome not in (StageOutcome.WON, StageOutcome.LOST):
            raise DealError("Choose won or lost.")
        stage = outcome_stage(deal, StageOutcome(outcome))
        move_deal(deal, stage, current_user, request.form.get("lost_reason"))
    except DealError as problem:
        db.session.rollback()
        return _deal_page(deal, status=422, problems={"close": str(problem)},
                          form={"lost_reason": request.form.get("lost_reason", "")})  # fmt: skip
    db.session.commit()
    flow_back()
    flash(f"Marked {deal.title} {outcome}.", "success")
    return redirect(url_for("sync.deal", deal_id=deal.id))


@bp.post("/deals/<int:deal_id>/notes")
@roles_required(*DEAL_ROLES)
def deal_note(deal_id: int):
    """Add a note to the deal (it shows on the lead's timeline too)."""
    deal = _deal_or_404(deal_id)
    text = request.form.get("text", "").strip()
    if not text:
        return _deal_page(deal, status=422, problems={"note": "Write something first."})
    add_deal_note(deal, text, current_user)
    db.session.commit()
    flow_back()
    return redirect(url_for("sync.deal", deal_id=deal.id))


@bp.get("/contacts/<int:contact_id>")
@roles_required(*DEAL_ROLES)
def contact(contact_id: int):
    """A contact with its purchase history (deals won) and every other deal."""
    person = db.session.get(Contact, contact_id)
    if person is None or person.workspace_id != current_user.workspace_id:
        abort(404)
    deals = contact_deals(person)
    if not current_user.sees_all_leads and all(d.owner_id != current_user.id for d in deals):
        abort(404)
    return render("pipeline/contact.html", contact=person, won=purchase_history(person),
                  deals=deals)  # fmt: skip
