"""Cadence pages: the list, the builder (steps added, moved and removed with htmx), settings."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, abort, redirect, request, url_for
from flask_login import current_user

from app.access import roles_required
from app.extensions import db
from app.forms import parse_id
from app.htmx import render
from app.models import Role, Team
from cadences import bp
from cadences.builder import (
    add_step,
    check_name,
    check_step,
    create_cadence,
    move_step,
    read_assign_rule,
    remove_step,
    reorder_problem,
    set_assign_rule,
)
from cadences.models import Cadence, CadenceStep, Enrollment, MailSender, StepKind, WaitUnit
from cadences.stats import cadence_stats, problem_runs, running_enrollments, stats_csv
from leads.models import LeadList
from leads.tasks import Network, SocialAction

CADENCE_ROLES = (Role.ADMIN, Role.MANAGER, Role.MARKETER, Role.REP)


def cadence_or_404(cadence_id: int) -> Cadence:
    cadence = db.session.get(Cadence, cadence_id)
    if cadence is None or cadence.workspace_id != current_user.workspace_id:
        abort(404)
    return cadence


def _cadences() -> list[Cadence]:
    return list(
        db.session.scalars(
            sa.select(Cadence)
            .where(Cadence.workspace_id == current_user.workspace_id)
            .order_by(Cadence.name)
        )
    )


@bp.get("/cadences")
@roles_required(*CADENCE_ROLES)
def index() -> Response:
    """All cadences of the workspace with their enrolment counts."""
    counts = dict(
        db.session.execute(
            sa.select(Enrollment.cadence_id, sa.func.count())
            .where(Enrollment.status == "active")
            .group_by(Enrollment.cadence_id)
        ).all()
    )
    return render("cadences/index.html", cadences=_cadences(), active=counts, name="", error=None)


@bp.post("/cadences")
@roles_required(*CADENCE_ROLES)
def create() -> Response:
    """Create an empty cadence and open its builder."""
    name = request.form.get("name", "")
    if error := check_name(current_user.workspace_id, name):
        return render(
            "cadences/index.html",
            status=422,
            cadences=_cadences(),
            active={},
            name=name,
            error=error,
        )
    cadence = create_cadence(current_user.workspace_id, name, current_user)
    db.session.commit()
    return redirect(url_for("cadences.detail", cadence_id=cadence.id))


def _page(cadence: Cadence, block: str | None = None, status: int = 200, **extra) -> Response:
    context = {
        "cadence": cadence,
        "stats": cadence_stats(cadence.id),
        "problems": problem_runs(cadence.id),
        "running": running_enrollments(cadence.id),
        "kinds": list(StepKind),
        "units": list(WaitUnit),
        "networks_by_value": {n.value: n.label for n in Network},
        "social_actions_by_value": {a.value: a.label for a in SocialAction},
        "form": {},
        "errors": {},
        "senders": db.session.scalars(
            sa.select(MailSender).where(MailSender.workspace_id == current_user.workspace_id)
        ).all(),
        "lists": db.session.scalars(
            sa.select(LeadList)
            .where(LeadList.workspace_id == current_user.workspace_id)
            .order_by(LeadList.name)
        ).all(),
        "teams": db.session.scalars(
            sa.select(Team)
            .where(Team.workspace_id == current_user.workspace_id)
            .order_by(Team.name)
        ).all(),
        "settings_typed": None,
        **extra,
    }
    return render("cadences/detail.html", block=block, status=status, **context)


@bp.get("/cadences/<int:cadence_id>")
@roles_required(*CADENCE_ROLES)
def detail(cadence_id: int) -> Response:
    """The builder: steps, settings, enrolment, stats and emails that need attention."""
    return _page(cadence_or_404(cadence_id))


@bp.post("/cadences/<int:cadence_id>/steps")
@roles_required(*CADENCE_ROLES)
def add(cadence_id: int) -> Response:
    """Add a step at the end; a problem comes back with the form as typed."""
    cadence = cadence_or_404(cadence_id)
    problems, values = check_step(request.form)
    if problems:
        return _page(cadence, "builder", 422, form=request.form, errors=problems.by_field)
    add_step(cadence, values)
    db.session.commit()
    return _page(cadence, "builder")


def _step_or_404(cadence: Cadence, step_id: int) -> CadenceStep:
    step = db.session.get(CadenceStep, step_id)
    if step is None or step.cadence_id != cadence.id:
        abort(404)
    return step


@bp.post("/cadences/<int:cadence_id>/steps/<int:step_id>/delete")
@roles_required(*CADENCE_ROLES)
def delete_step(cadence_id: int, step_id: int) -> Response:
    """Remove a step; the ones after it move up."""
    cadence = cadence_or_404(cadence_id)
    step = _step_or_404(cadence, step_id)
    if problem := reorder_problem(cadence):
        return _page(cadence, "builder", 422, builder_error=problem)
    remove_step(cadence, step)
    db.session.commit()
    return _page(cadence, "builder")


@bp.post("/cadences/<int:cadence_id>/steps/<int:step_id>/move")
@roles_required(*CADENCE_ROLES)
def move(cadence_id: int, step_id: int) -> Response:
    """Move a step one place up or down."""
    cadence = cadence_or_404(cadence_id)
    step = _step_or_404(cadence, step_id)
    if problem := reorder_problem(cadence):
        return _page(cadence, "builder", 422, builder_error=problem)
    move_step(cadence, step, -1 if request.form.get("direction") == "up" else 1)
    db.session.commit()
    return _page(cadence, "builder")


@bp.post("/cadences/<int:cadence_id>/settings")
@roles_required(*CADENCE_ROLES)
def settings(cadence_id: int) -> Response:
    """Rename the cadence, choose its sender and its auto-enrolment on import and assignment."""
    cadence = cadence_or_404(cadence_id)
    name = request.form.get("name", cadence.name)
    if error := check_name(cadence.workspace_id, name, cadence):
        return _page(cadence, "settings", 422, settings_error=error)
    cadence.name = name.strip()
    sender_id, list_id = (
        parse_id(request.form.get("sender_id")),
        parse_id(request.form.get("auto_enroll_list_id")),
    )
    cadence.sender = db.session.get(MailSender, sender_id) if sender_id else None
    if cadence.sender and cadence.sender.workspace_id != cadence.workspace_id:
        abort(404)
    cadence.auto_enroll_list_id = list_id
    rule, error = read_assign_rule(cadence.workspace_id, request.form)
    if error:
        db.session.rollback()
        return _page(cadence, "settings", 422, settings_error=error, settings_typed=request.form)
    set_assign_rule(cadence, rule)
    db.session.commit()
    return _page(cadence, "settings", settings_message="Settings saved.")


@bp.post("/cadences/<int:cadence_id>/pause")
@roles_required(*CADENCE_ROLES)
def toggle_pause(cadence_id: int) -> Response:
    """Pause or resume the whole cadence."""
    cadence = cadence_or_404(cadence_id)
    # The tick skips a paused cadence; on resume, steps that came due meanwhile run
    # at the next tick, each still inside its send window.
    cadence.paused = not cadence.paused
    db.session.commit()
    return redirect(url_for("cadences.detail", cadence_id=cadence.id))


@bp.get("/cadences/<int:cadence_id>/stats.csv")
@roles_required(*CADENCE_ROLES)
def stats_export(cadence_id: int) -> Response:
    """The cadence's numbers per step and variant as a CSV download."""
    cadence = cadence_or_404(cadence_id)
    body = stats_csv(cadence, cadence_stats(cadence.id))
    name = f"cadence-{cadence.id}-stats.csv"
    return Response(
        body, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
