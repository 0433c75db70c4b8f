"""The social queue: a rep's next touch, its outcome, skip and snooze, tasks by hand.

Every state change is one compare-and-set UPDATE on a still-pending task, so an
outcome submitted twice (a double click, a second tab) is recorded once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager

from app.extensions import db
from app.models import User, utcnow
from leads import dnc
from leads.models import ActivityType, Lead
from leads.profiles import profile_url_problem
from leads.social_quota import daily_quota, touches_today
from leads.tasks import (
    Network,
    SocialAction,
    SocialOutcome,
    Task,
    TaskKind,
    TaskSource,
    TaskStatus,
    is_pending,
)
from leads.timeline import record


class EmptyReason(enum.StrEnum):
    QUOTA_REACHED = "quota_reached"
    ALL_SNOOZED = "all_snoozed"
    NOTHING_DUE = "nothing_due"
    NO_TASKS = "no_tasks"


@dataclass(frozen=True)
class QueueState:
    """What the queue screen shows: one task, or why there is none."""

    task: Task | None
    done_today: int
    quota: int
    empty_reason: EmptyReason | None = None
    next_due_at: datetime | None = None
    suppressed: int = 0


class TaskError(ValueError):
    """A task that cannot be created, with a message for the person creating it."""


def _pending(user: User) -> sa.Select[tuple[Task]]:
    """The rep's pending social tasks on leads they may see (the rules of visible_leads)."""
    query = (
        sa.select(Task)
        .join(Lead, Lead.id == Task.lead_id)
        .where(
            Task.owner_id == user.id,
            Task.kind == TaskKind.SOCIAL.value,
            is_pending(),
            Lead.workspace_id == user.workspace_id,
            Lead.pending_import_id.is_(None),
        )
    )
    if not user.sees_all_leads:
        query = query.where(Lead.owner_id == user.id)
    return query


def _servable(user: User, now: datetime) -> sa.Select[tuple[Task]]:
    return _pending(user).where(Task.due_at <= now, ~dnc.suppressed())


# The badge says "99+" beyond this: counting a backlog of thousands on every page
# would cost more than the page, and nobody acts differently on the exact number.
BADGE_CAP = 99


def due_count(user: User, now: datetime | None = None) -> int:
    """How many social tasks the rep could work now, up to BADGE_CAP + 1 (the badge)."""
    capped = (
        _servable(user, now or utcnow()).with_only_columns(Task.id).limit(BADGE_CAP + 1).subquery()
    )
    return db.session.scalar(sa.select(sa.func.count()).select_from(capped)) or 0


def queue_state(user: User, now: datetime | None = None) -> QueueState:
    """The next task to work, soonest due first, or why the queue is empty."""
    now = now or utcnow()
    quota, done = daily_quota(user), touches_today(user, now)
    if done >= quota:
        return QueueState(None, done, quota, EmptyReason.QUOTA_REACHED)
    task = db.session.scalar(
        _servable(user, now)
        .options(contains_eager(Task.lead))
        .order_by(Task.due_at, Task.id)
        .limit(1)
    )
    if task is not None:
        return QueueState(task, done, quota)
    return _why_empty(user, now, done, quota)


def _why_empty(user: User, now: datetime, done: int, quota: int) -> QueueState:
    pending = _pending(user)
    suppressed = db.session.scalar(
        pending.where(dnc.suppressed()).with_only_columns(sa.func.count(Task.id))
    )
    waiting = pending.where(~dnc.suppressed())
    next_due = db.session.scalar(waiting.with_only_columns(sa.func.min(Task.due_at)))
    if next_due is None:
        reason = EmptyReason.NO_TASKS
    elif db.session.scalar(
        waiting.where(Task.status == TaskStatus.OPEN.value).with_only_columns(sa.func.count())
    ):
        reason = EmptyReason.NOTHING_DUE
    else:
        reason = EmptyReason.ALL_SNOOZED
    return QueueState(None, done, quota, reason, next_due, suppressed or 0)


class Handled(enum.StrEnum):
    """What became of a request to finish a task."""

    APPLIED = "applied"
    REPEATED = "repeated"  # the same outcome again: already recorded, nothing to do
    ALREADY_HANDLED = "already_handled"  # finished differently, e.g. in another tab
    NOT_YOURS = "not_yours"


def finish_task(user: User, task_id: int, values: dict) -> Handled:
    """Apply ``values`` to the task if it is still the rep's and still pending."""
    changed = db.session.execute(
        sa.update(Task)
        .where(
            Task.id == task_id,
            Task.owner_id == user.id,
            Task.workspace_id == user.workspace_id,
            is_pending(),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed:
        return Handled.APPLIED
    # Re-read: the session may hold the task as it was before another tab changed it.
    task = db.session.get(Task, task_id, populate_existing=True)
    if task is None or task.owner_id != user.id or task.workspace_id != user.workspace_id:
        return Handled.NOT_YOURS
    same = task.status == values["status"] and task.outcome == values.get("outcome")
    return Handled.REPEATED if same else Handled.ALREADY_HANDLED


def log_outcome(
    user: User, task_id: int, outcome: SocialOutcome, now: datetime | None = None
) -> Handled:
    """Close the task with ``outcome`` and put the touch on the lead's timeline, once."""
    now = now or utcnow()
    handled = finish_task(
        user,
        task_id,
        {"status": TaskStatus.DONE.value, "outcome": outcome.value, "completed_at": now},
    )
    if handled is Handled.APPLIED:
        task = db.session.get(Task, task_id, populate_existing=True)
        network, action = Network(task.network), SocialAction(task.action)
        activity = record(
            task.lead,
            ActivityType.SOCIAL_TOUCH,
            user,
            f"{action.label} on {network.label}: {outcome.label.lower()}",
            task_id=task.id,
            network=network.value,
            action=action.value,
            outcome=outcome.value,
        )
        activity.occurred_at = now
    return handled


def skip_task(user: User, task_id: int, now: datetime | None = None) -> Handled:
    """Drop the task without a touch; it does not count toward the quota."""
    values = {"status": TaskStatus.SKIPPED.value, "completed_at": now or utcnow()}
    return finish_task(user, task_id, values)


def snooze_task(user: User, task_id: int, until: datetime, now: datetime | None = None) -> Handled:
    """Put the task aside until ``until``; it is due again then."""
    if until <= (now or utcnow()):
        raise TaskError("Snooze until a time in the future.")
    # A pending task may be snoozed again: the latest choice wins.
    values = {"status": TaskStatus.SNOOZED.value, "snoozed_until": until, "due_at": until}
    return finish_task(user, task_id, values)


def create_task(
    lead: Lead,
    network: Network,
    action: SocialAction,
    actor: User,
    due_at: datetime | None = None,
) -> Task:
    """Add one social task on a lead for its owner (or the creator when it has none).

    Raises TaskError when the lead has no usable profile on that network or already
    has the same task pending. The caller commits.
    """
    if problem := profile_url_problem(network, getattr(lead, network.lead_column)):
        raise TaskError(problem)
    already = db.session.scalar(
        sa.select(Task.id).where(
            Task.lead_id == lead.id,
            Task.network == network.value,
            Task.action == action.value,
            is_pending(),
        )
    )
    if already:
        raise TaskError(
            f"This lead already has a pending “{action.label}” task on {network.label}."
        )
    task = Task(
        workspace_id=lead.workspace_id,
        lead_id=lead.id,
        owner_id=lead.owner_id or actor.id,
        kind=TaskKind.SOCIAL.value,
        network=network.value,
        action=action.value,
        due_at=due_at or utcnow(),
        source=TaskSource.MANUAL.value,
        created_by_id=actor.id,
    )
    db.session.add(task)
    db.session.flush()
    return task


def lead_tasks(lead: Lead) -> list[Task]:
    """The lead's pending tasks, soonest first."""
    return list(
        db.session.scalars(
            sa.select(Task)
            .where(Task.lead_id == lead.id, is_pending())
            .order_by(Task.due_at, Task.id)
        )
    )


def move_pending_tasks(lead_ids: list[int], owner_id: int | None) -> int:
    """Hand the leads' pending tasks to their new owner (rotation calls this). Returns how many."""
    return db.session.execute(
        sa.update(Task)
        .where(Task.lead_id.in_(lead_ids), is_pending())
        .values(owner_id=owner_id)
        .execution_options(synchronize_session=False)
    ).rowcount
