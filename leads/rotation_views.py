"""Rotation pages: rules with a preview, rotate now, report, escalations, reassignment."""

from __future__ import annotations

import csv
import io

import sqlalchemy as sa
from flask import Response, abort, flash, redirect, request, url_for
from flask_login import current_user

from app.access import roles_required
from app.extensions import db
from app.forms import ConfirmForm, parse_id
from app.htmx import render
from app.models import Role, User, UserRole, utcnow
from app.users import UserError
from leads import bp
from leads.models import LeadList
from leads.rotation import announce_assignments, owned_lead_ids, reassign
from leads.rotation_forms import ReassignForm, RuleForm
from leads.rotation_jobs import queue_rotation
from leads.rotation_models import RotationRule
from leads.rotation_report import (
    escalated_leads,
    rep_report,
    unassigned_count,
    weighted_shares,
)  # fmt: skip
from leads.rotation_reps import hand_over, new_lead_count, open_lead_count
from leads.rotation_rules import (
    RuleError,
    delete_rule,
    describe_conditions,
    parse_pool,
    preview_rule,
    preview_waiting,
    save_rule,
)  # fmt: skip

ROTATORS = (Role.ADMIN, Role.MANAGER, Role.MARKETER)
MANAGERS = (Role.ADMIN, Role.MANAGER)
REPORT_DAYS = (7, 30, 90)
LEAD_OWNER_ROLES = (Role.REP.value, Role.CALLER.value, Role.MANAGER.value)


def workspace_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or user.workspace_id != current_user.workspace_id:
        abort(404)
    return user


def pool_candidates() -> list[User]:
    """Active users who can own leads: the people a pool may hold."""
    return list(
        db.session.scalars(
            sa.select(User)
            .where(User.workspace_id == current_user.workspace_id, User.active.is_(True),
                   User.role_rows.any(UserRole.role.in_(LEAD_OWNER_ROLES)))
            .order_by(User.name)
        )
    )  # fmt: skip


def _rules() -> list[RotationRule]:
    return list(
        db.session.scalars(
            sa.select(RotationRule)
            .where(RotationRule.workspace_id == current_user.workspace_id)
            .order_by(RotationRule.is_fallback, RotationRule.position, RotationRule.id)
        )
    )


@bp.get("/rotation")
@roles_required(*ROTATORS)
def rotation():
    """Rotation rules in order, the waiting leads and where they would go."""
    workspace_id = current_user.workspace_id
    rules = _rules()
    lists = dict(
        db.session.execute(
            sa.select(LeadList.id, LeadList.name).where(LeadList.workspace_id == workspace_id)
        ).all()
    )
    return render(
        "rotation/index.html",
        rules=rules,
        conditions={rule.id: describe_conditions(rule, lists) for rule in rules},
        waiting=unassigned_count(workspace_id),
        preview=preview_waiting(workspace_id),
        escalated=len(escalated_leads(workspace_id)),
        action_form=ConfirmForm(),
    )


def _rule_form(rule: RotationRule | None) -> RuleForm:
    form = RuleForm(obj=rule)
    form.list_id.choices = [(0, "Any list")] + [
        (row.id, row.name)
        for row in db.session.execute(
            sa.select(LeadList.id, LeadList.name)
            .where(LeadList.workspace_id == current_user.workspace_id)
            .order_by(LeadList.name)
        )
    ]
    return form


@bp.route("/rotation/rules/new", methods=["GET", "POST"], defaults={"rule_id": None})
@bp.route("/rotation/rules/<int:rule_id>", methods=["GET", "POST"])
@roles_required(*ROTATORS)
def rotation_rule(rule_id: int | None):
    """Create or edit a rule: conditions, the pool with weights, method, SLA; with a preview."""
    rule = None
    if rule_id is not None:
        rule = db.session.get(RotationRule, rule_id)
        if rule is None or rule.workspace_id != current_user.workspace_id:
            abort(404)
    form = _rule_form(rule)
    candidates = pool_candidates()
    chosen = {str(m.user_id): m.weight for m in rule.members} if rule else {}
    problem = None
    if request.method == "POST":
        chosen = {
            uid: request.form.get(f"weight-{uid}", "") for uid in request.form.getlist("member")
        }
        if form.validate_on_submit():
            try:
                pool = parse_pool(list(chosen), chosen, candidates)
                values = {name: form[name].data for name in _RULE_FIELDS}
                values["list_id"] = form.list_id.data or None
                saved = save_rule(rule or RotationRule(workspace_id=current_user.workspace_id),
                                  values, pool)  # fmt: skip
            except RuleError as exc:
                problem = exc
            else:
                db.session.commit()
                flash(f"Rule {saved.name} saved.", "success")
                return redirect(url_for("leads.rotation_rule", rule_id=saved.id))
        db.session.rollback()
        status = 422
    else:
        status = 200
    return render(
        "rotation/rule.html", status=status, form=form, rule=rule, candidates=candidates,
        chosen=chosen, problem=problem,
        preview=preview_rule(rule) if rule and status == 200 else None,
    )  # fmt: skip


_RULE_FIELDS = (
    "name", "position", "enabled", "is_fallback", "method", "source", "country", "state",
    "time_zone", "field_name", "field_value", "sla_hours", "max_rotations",
)  # fmt: skip


@bp.post("/rotation/rules/<int:rule_id>/delete")
@roles_required(*ROTATORS)
def delete_rotation_rule(rule_id: int):
    """Delete a rule; its leads keep their owners."""
    rule = db.session.get(RotationRule, rule_id)
    if rule is None or rule.workspace_id != current_user.workspace_id:
        abort(404)
    delete_rule(rule)
    db.session.commit()
    flash(f"Rule {rule.name} deleted.", "success")
    return redirect(url_for("leads.rotation"))


@bp.post("/rotation/rotate")
@roles_required(*ROTATORS)
def rotate_now():
    """Hand out the waiting leads now, in the background."""
    queue_rotation(current_user.workspace_id, f"manual-{utcnow():%Y%m%d%H%M%S}")
    flash("Rotation started: waiting leads go out within moments.", "success")
    return redirect(url_for("leads.rotation"))


@bp.get("/rotation/report")
@roles_required(*ROTATORS)
def rotation_report():
    """Per rep: assigned, open, touched within SLA, breaches; weighted pools' shares."""
    days = parse_id(request.args.get("days")) or 30
    if days not in REPORT_DAYS:
        days = 30
    lines = rep_report(current_user.workspace_id, days)
    if request.args.get("format") == "csv":
        return _report_csv(lines, days)
    return render("rotation/report.html", lines=lines, days=days, day_choices=REPORT_DAYS,
                  pools=weighted_shares(current_user.workspace_id))  # fmt: skip


def _report_csv(lines, days: int) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["rep", "assigned", "open", "touched_within_sla", "sla_breaches"])
    for line in lines:
        writer.writerow([line.name, line.assigned, line.open, line.touched_in_sla, line.breaches])
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f"attachment; filename=rotation-{days}d.csv"
    return response


@bp.get("/rotation/escalations")
@roles_required(*MANAGERS)
def escalations():
    """Leads that went round the pool untouched: the managers decide."""
    form = _reassign_form()
    return render("rotation/escalations.html", leads=escalated_leads(current_user.workspace_id),
                  form=form)  # fmt: skip


def _reassign_form() -> ReassignForm:
    form = ReassignForm()
    people = [(u.id, u.name) for u in pool_candidates()]
    form.from_user_id.choices = [(0, "—")] + people
    form.to_user_id.choices = [(0, "Back to the rotation")] + people
    return form


@bp.route("/rotation/reassign", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def reassign_leads():
    """Reassign leads by id, or all open leads of one rep, to a rep or back to the rotation."""
    form = _reassign_form()
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return render("rotation/reassign.html", form=form, status=status)
    ids = _lead_ids(form)
    if ids is None:
        form.lead_ids.errors = ["Give lead ids (numbers separated by commas) or choose a rep."]
        return render("rotation/reassign.html", form=form, status=422)
    target = workspace_user(form.to_user_id.data) if form.to_user_id.data else None
    moved = reassign(ids, current_user.workspace_id, target, current_user, "bulk reassignment")
    db.session.commit()
    announce_assignments(current_user.workspace_id, moved)
    if target is None:
        queue_rotation(current_user.workspace_id, f"manual-{utcnow():%Y%m%d%H%M%S}")
    where = f"reassigned to {target.name}" if target else "back in the rotation"
    flash(f"{len(moved)} lead(s) {where}.",
          "success")  # fmt: skip
    return redirect(request.form.get("next") or url_for("leads.reassign_leads"))


def _lead_ids(form: ReassignForm) -> list[int] | None:
    if form.from_user_id.data:
        return owned_lead_ids(workspace_user(form.from_user_id.data).id)
    parts = [
        p.strip() for p in (form.lead_ids.data or "").replace("\n", ",").split(",") if p.strip()
    ]
    ids = [parse_id(p) for p in parts]
    if not ids or any(i is None for i in ids):
        return None
    return [i for i in ids if i is not None]


@bp.route("/rotation/handover/<int:user_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def rotation_handover(user_id: int):
    """Before a user is disabled: choose who gets their open leads (or re-rotate them)."""
    user = workspace_user(user_id)
    form = _reassign_form()
    form.to_user_id.choices = [c for c in form.to_user_id.choices if c[0] != user.id]
    if form.validate_on_submit():
        target = workspace_user(form.to_user_id.data) if form.to_user_id.data else None
        try:
            moved = hand_over(user, target, current_user, disable=True)
        except UserError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for("admin.users"))
        db.session.commit()
        announce_assignments(user.workspace_id, moved)
        if target is None:
            queue_rotation(user.workspace_id, f"handover-{user.id}-{utcnow():%Y%m%d%H%M%S}")
        flash(f"{user.name} is disabled; {len(moved)} open lead(s) handed on.", "success")
        return redirect(url_for("admin.users"))
    return render(
        "rotation/handover.html", form=form, person=user, open_leads=open_lead_count(user)
    )


@bp.get("/rotation/badge")
@roles_required()
def rotation_badge():
    """The count of new leads rotation gave the signed-in user (polled by the nav badge)."""
    return render("rotation/_badge.html", count=new_lead_count(current_user))
