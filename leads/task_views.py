"""The "My tasks" page: generic tasks due now, each marked done or snoozed in place."""

from __future__ import annotations

from flask import request
from flask_login import current_user

from app.access import roles_required
from app.extensions import db
from app.htmx import render
from leads import bp
from leads.social import Handled, snooze_task
from leads.social_forms import SNOOZE_CHOICES, snooze_until
from leads.task_list import complete_task, due_generic_tasks

MESSAGES = {
    Handled.APPLIED: ("success", "Done."),
    Handled.REPEATED: ("info", "Already done; nothing changed."),
    Handled.ALREADY_HANDLED: ("error", "That task was already handled, probably in another tab."),
    Handled.NOT_YOURS: ("error", "That task is no longer yours."),
}


def _list(message: tuple[str, str] | None = None, status: int = 200):
    return render(
        "tasks/index.html",
        block="tasks",
        status=status,
        tasks=due_generic_tasks(current_user),
        snooze_choices=SNOOZE_CHOICES,
        message=message,
    )


@bp.get("/tasks")
@roles_required()
def my_tasks():
    """The signed-in user's generic tasks that are due."""
    return _list()


@bp.post("/tasks/<int:task_id>/done")
@roles_required()
def task_done(task_id: int):
    """Mark a task done and show the list again."""
    handled = complete_task(current_user, task_id)
    db.session.commit()
    return _list(MESSAGES[handled])


@bp.post("/tasks/<int:task_id>/snooze")
@roles_required()
def task_snooze(task_id: int):
    """Put a task aside for a while and show the list again."""
    until = snooze_until(request.form.get("until"), current_user)
    if until is None:
        return _list(("error", "Choose how long to snooze the task."), status=422)
    handled = snooze_task(current_user, task_id, until)
    db.session.commit()
    kind, text = MESSAGES[handled]
    return _list((kind, "Snoozed." if handled is Handled.APPLIED else text))
