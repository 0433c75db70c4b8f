"""Social queue pages: the queue, tasks on a lead, bulk creation from a view, quotas."""

from __future__ import annotations

from datetime import datetime

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from app.access import roles_required
from app.extensions import db
from app.htmx import hx_trigger, is_htmx, render
from app.models import Role
from leads import bp
from leads.profiles import profile_url_problem
from leads.queries import LeadFilters, count_leads, filtered_leads, get_visible_lead
from leads.social import (
    BADGE_CAP,
    Handled,
    TaskError,
    create_task,
    due_count,
    lead_tasks,
    log_outcome,
    queue_state,
    skip_task,
    snooze_task,
)
from leads.social_bulk import BulkTooLarge, bulk_create
from leads.social_forms import (
    SNOOZE_CHOICES,
    QuotaDefaultForm,
    SocialTaskForm,
    parse_outcome,
    parse_overrides,
    snooze_until,
)
from leads.social_quota import (
    in_zone,
    quota_overrides,
    quota_reps,
    set_quotas,
    touches_today,
    workspace_default,
)
from leads.tasks import Network, SocialOutcome

SOCIAL_WORKERS = (Role.ADMIN, Role.REP)
TASK_CREATORS = (Role.ADMIN, Role.MANAGER, Role.MARKETER, Role.REP)
QUOTA_EDITORS = (Role.ADMIN, Role.MANAGER)
# Refreshes the navigation badge after anything that changes the queue.
QUEUE_CHANGED = "social-changed"

MESSAGES = {
    Handled.REPEATED: ("info", "Already recorded; nothing was logged twice."),
    Handled.ALREADY_HANDLED: (
        "error",
        "That task was already handled, probably in another tab; nothing was changed.",
    ),
    Handled.NOT_YOURS: (
        "error",
        "That task is no longer yours (it was moved to someone else or removed).",
    ),
}


@bp.app_template_filter("rep_time")
def rep_time(moment: datetime) -> str:
    """A stored UTC time as the signed-in person's wall clock, e.g. "Nov 25, 09:00 PST"."""
    return in_zone(current_user, moment).strftime("%b %-d, %H:%M %Z")


def _queue(message: tuple[str, str] | None = None, status: int = 200):
    state = queue_state(current_user)
    task = state.task
    problem = profile_url_problem(Network(task.network), task.profile_url) if task else None
    response = render(
        "social/queue.html",
        block="task",
        status=status,
        state=state,
        profile_problem=problem,
        outcomes=list(SocialOutcome),
        snooze_choices=SNOOZE_CHOICES,
        message=message,
    )
    return hx_trigger(response, QUEUE_CHANGED) if request.method == "POST" else response


def _after(handled: Handled, done: str):
    """Commit, then show the next task (htmx) or go back to the queue (plain form)."""
    db.session.commit()
    kind, text = MESSAGES.get(handled, ("success", done))
    if is_htmx():
        return _queue((kind, text))
    flash(text, "error" if kind == "error" else "success")
    return redirect(url_for("leads.social_queue"))


@bp.get("/social")
@roles_required(*SOCIAL_WORKERS)
def social_queue():
    """The rep's social queue: one task at a time, or why there is none."""
    return _queue()


@bp.get("/social/badge")
@roles_required()
def social_badge():
    """How many social tasks are due now, for the navigation badge."""
    count = due_count(current_user) if current_user.has_role(*SOCIAL_WORKERS) else 0
    return render("social/_badge.html", count=count, cap=BADGE_CAP)


@bp.post("/social/tasks/<int:task_id>/outcome")
@roles_required(*SOCIAL_WORKERS)
def social_outcome(task_id: int):
    """Log what came of the touch and show the next task."""
    outcome = parse_outcome(request.form.get("outcome"))
    if outcome is None:
        return _queue(("error", "Choose one of the outcome buttons."), status=422)
    handled = log_outcome(current_user, task_id, outcome)
    return _after(handled, f"Logged: {outcome.label.lower()}.")


@bp.post("/social/tasks/<int:task_id>/skip")
@roles_required(*SOCIAL_WORKERS)
def social_skip(task_id: int):
    """Drop the task without a touch and show the next one."""
    return _after(skip_task(current_user, task_id), "Skipped.")


@bp.post("/social/tasks/<int:task_id>/snooze")
@roles_required(*SOCIAL_WORKERS)
def social_snooze(task_id: int):
    """Put the task aside for a while and show the next one."""
    choice = request.form.get("until")
    until = snooze_until(choice, current_user)
    if until is None:
        return _queue(("error", "Choose how long to snooze the task."), status=422)
    handled = snooze_task(current_user, task_id, until)
    return _after(handled, f"Snoozed: back {SNOOZE_CHOICES[choice].lower()}.")


@bp.route("/leads/<int:lead_id>/social-tasks", methods=["GET", "POST"])
@roles_required(*TASK_CREATORS)
def lead_social_tasks(lead_id: int):
    """A lead's pending social tasks and the form to add one."""
    lead = get_visible_lead(current_user, lead_id)
    if lead is None:
        abort(404)
    form = SocialTaskForm()
    status, message = 200, None
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            try:
                task = create_task(lead, *form.chosen, current_user, form.due_at(current_user))
            except TaskError as exc:
                form.form_errors.append(str(exc))
            else:
                db.session.commit()
                status, message = 201, f"Added: {task.action_label} on {task.network_label}."
                if not is_htmx():
                    flash(message, "success")
                    return redirect(url_for("leads.detail", lead_id=lead.id))
                form = SocialTaskForm(formdata=None)
    response = render(
        "social/lead_tasks.html", block="panel", status=status,
        lead=lead, tasks=lead_tasks(lead), form=form, message=message,
    )  # fmt: skip
    return hx_trigger(response, QUEUE_CHANGED) if status == 201 else response


@bp.route("/social/bulk", methods=["GET", "POST"])
@roles_required(*TASK_CREATORS)
def social_bulk():
    """Create one social task per lead of the filtered leads view."""
    filters = LeadFilters.from_args(request.args)
    form = SocialTaskForm()
    result = error = None
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            try:
                result = bulk_create(current_user, filters, *form.chosen, form.due_at(current_user))
            except BulkTooLarge as exc:
                error = str(exc)
            else:
                db.session.commit()
                status = 200
    total, more = count_leads(filtered_leads(current_user, filters))
    network = form.chosen[0] if result else Network.LINKEDIN
    return render(
        "social/bulk.html", block="result", status=status,
        form=form, filters=filters, total=total, more=more, result=result, error=error,
        network=network, leads_args=request.args.to_dict(),
    )  # fmt: skip


@bp.route("/social/quotas", methods=["GET", "POST"])
@roles_required(*QUOTA_EDITORS)
def social_quotas():
    """The daily touch quota: the workspace default and each rep's own limit."""
    reps = quota_reps(current_user.workspace_id)
    form = QuotaDefaultForm(data={"default": workspace_default(current_user.workspace_id)})
    typed = {rep.id: request.form.get(f"quota-{rep.id}", "").strip() for rep in reps}
    overrides, problems = parse_overrides(typed)
    if request.method == "POST":
        if form.validate_on_submit() and not problems:
            set_quotas(current_user.workspace_id, form.default.data, overrides, current_user)
            db.session.commit()
            flash("Saved the social quotas.", "success")
            return redirect(url_for("leads.social_quotas"))
    else:
        typed = {k: str(v) for k, v in quota_overrides(current_user.workspace_id).items()}
    status = 422 if request.method == "POST" else 200
    return render(
        "social/quotas.html", status=status,
        form=form, reps=reps, typed=typed, problems=problems,
        done_today={rep.id: touches_today(rep) for rep in reps},
    )  # fmt: skip
