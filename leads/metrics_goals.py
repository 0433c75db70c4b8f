"""Goals: daily and weekly targets per rep, team or workspace, their progress and history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import Team, User
from leads import metrics_queries as q
from leads.metrics import Tally, ratio, won_source
from leads.metrics_models import Goal, GoalCadence, GoalMetric
from leads.metrics_periods import Period, days_period, today
from leads.metrics_periods import zone_of as _zone_of

MAX_TARGET = 1_000_000_000
HISTORY = {GoalCadence.DAILY: 7, GoalCadence.WEEKLY: 6}


class GoalError(ValueError):
    """A goal the form must refuse, with the reason."""


@dataclass(frozen=True)
class Progress:
    goal: Goal
    label: str  # "Today", "This week", "Tue 24 Nov", "Week of 16 Nov"
    actual: int | None  # None: not measurable yet (won value before the pipeline lands)
    target: int

    @property
    def share(self) -> float | None:
        return None if self.actual is None else ratio(self.actual, self.target)

    @property
    def hit(self) -> bool:
        return self.actual is not None and self.actual >= self.target

    @property
    def bar_value(self) -> int:
        return min(self.actual or 0, self.target)


def goals_of(workspace_id: int, user: User | None = None) -> list[Goal]:
    """The workspace's goals, or those that apply to ``user`` (own, team's, workspace's)."""
    query = (
        sa.select(Goal)
        .where(Goal.workspace_id == workspace_id)
        .options(selectinload(Goal.user), selectinload(Goal.team))
        .order_by(
            Goal.user_id.is_(None), Goal.team_id.is_(None), Goal.cadence, Goal.metric, Goal.id
        )
    )
    if user is not None:
        query = query.where(sa.or_(
            Goal.user_id == user.id,
            sa.and_(Goal.team_id.is_not(None), Goal.team_id == user.team_id),
            sa.and_(Goal.user_id.is_(None), Goal.team_id.is_(None)),
        ))  # fmt: skip
    return list(db.session.scalars(query))


def save_goal(workspace_id: int, form: dict[str, str]) -> Goal:
    """Create or replace the goal for one subject, metric and cadence; the caller commits."""
    try:
        metric = GoalMetric(form.get("metric", ""))
        cadence = GoalCadence(form.get("cadence", ""))
    except ValueError:
        raise GoalError("Pick a metric and whether the goal is daily or weekly.") from None
    target = _target(form.get("target", ""))
    user_id, team_id = _subject(workspace_id, form.get("subject", ""))
    goal = db.session.scalar(sa.select(Goal).where(
        Goal.workspace_id == workspace_id, Goal.metric == metric.value,
        Goal.cadence == cadence.value, _same(Goal.user_id, user_id), _same(Goal.team_id, team_id),
    ))  # fmt: skip
    if goal is None:
        goal = Goal(workspace_id=workspace_id, user_id=user_id, team_id=team_id,
                    metric=metric.value, cadence=cadence.value, target=target)  # fmt: skip
        db.session.add(goal)
    goal.target = target
    db.session.flush()
    return goal


def _same(column: Any, value: int | None) -> sa.ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


def _target(text: str) -> int:
    try:
        target = int(text.replace(",", "").strip())
    except ValueError:
        raise GoalError("The target must be a whole number, e.g. 80.") from None
    if not 0 < target <= MAX_TARGET:
        raise GoalError("The target must be above zero.")
    return target


def _subject(workspace_id: int, text: str) -> tuple[int | None, int | None]:
    kind, _, raw_id = text.partition(":")
    if kind == "all":
        return None, None
    model = {"user": User, "team": Team}.get(kind)
    found = db.session.get(model, int(raw_id)) if model and raw_id.isdigit() else None
    if found is None or found.workspace_id != workspace_id:
        raise GoalError("Pick who the goal is for.")
    return (found.id, None) if model is User else (None, found.id)


def delete_goal(workspace_id: int, goal_id: int) -> bool:
    goal = db.session.get(Goal, goal_id)
    if goal is None or goal.workspace_id != workspace_id:
        return False
    db.session.delete(goal)
    return True


def _members(goal: Goal) -> set[int] | None:
    if goal.user_id is not None:
        return {goal.user_id}
    if goal.team_id is not None:
        return set(db.session.scalars(sa.select(User.id).where(User.team_id == goal.team_id)))
    return None  # the whole workspace


def measure(goal: Goal, period: Period) -> int | None:
    """The goal's metric over the period for the goal's subject."""
    if goal.metric == GoalMetric.WON_VALUE:
        source = won_source()
        return source(goal.workspace_id, period.window)[1] if source else None
    members = _members(goal)
    tally = Tally()
    caller = goal.user_id if members and len(members) == 1 and goal.user_id else None
    for (caller_id,), part in q.by_caller(goal.workspace_id, period.window, caller).items():
        if members is None or caller_id in members:
            tally.merge(part)
    return {GoalMetric.DIALS: tally.dials, GoalMetric.CONVERSATIONS: tally.conversations,
            GoalMetric.QUALIFIED: tally.qualified}[GoalMetric(goal.metric)]  # fmt: skip


def _period(goal: Goal, day: date, zone: Any, now: datetime) -> Period:
    if goal.cadence == GoalCadence.WEEKLY:
        first = day - timedelta(days=day.weekday())
        return days_period("week", first, first + timedelta(days=6), zone, now)
    return days_period("day", day, day, zone, now)


def progress(goal: Goal, viewer: User, now: datetime) -> Progress:
    zone = _zone_of(viewer.time_zone)
    period = _period(goal, today(zone, now), zone, now)
    label = "This week" if goal.cadence == GoalCadence.WEEKLY else "Today"
    return Progress(goal, label, measure(goal, period), goal.target)


def history(goal: Goal, viewer: User, now: datetime) -> list[Progress]:
    """The goal's last finished days or weeks, newest first: hit or missed."""
    zone = _zone_of(viewer.time_zone)
    step = timedelta(days=7 if goal.cadence == GoalCadence.WEEKLY else 1)
    day, past = today(zone, now), []
    for _ in range(HISTORY[GoalCadence(goal.cadence)]):
        day -= step
        period = _period(goal, day, zone, now)
        label = (f"Week of {period.first_day:%d %b}" if goal.cadence == GoalCadence.WEEKLY
                 else f"{period.first_day:%a %d %b}")  # fmt: skip
        past.append(Progress(goal, label, measure(goal, period), goal.target))
    return past
