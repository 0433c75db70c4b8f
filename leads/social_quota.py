"""The daily social quota: how many touches a rep makes a day, counted from local midnight."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from app.extensions import db
from app.models import Role, User, UserRole, utcnow
from leads.tasks import SocialQuota, Task, TaskKind, TaskStatus

DEFAULT_DAILY_QUOTA = 25
MAX_DAILY_QUOTA = 10_000


def _zone(user: User) -> ZoneInfo:
    try:
        return ZoneInfo(user.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def day_bounds(user: User, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The rep's current local day as naive UTC times (how the database stores them)."""
    today = local_date(user, now)
    return local_time(user, today, 0), local_time(user, today + timedelta(days=1), 0)


def in_zone(user: User, moment: datetime) -> datetime:
    """A naive UTC time from the database as the rep's wall-clock time."""
    return moment.replace(tzinfo=UTC).astimezone(_zone(user))


def local_date(user: User, now: datetime | None = None) -> date:
    """Today in the rep's zone."""
    return (now or utcnow()).replace(tzinfo=UTC).astimezone(_zone(user)).date()


def local_time(user: User, day: date, hour: int) -> datetime:
    """``hour`` o'clock on ``day`` in the rep's zone, as naive UTC."""
    zone = _zone(user)
    return datetime.combine(day, time(hour), zone).astimezone(UTC).replace(tzinfo=None)


def workspace_default(workspace_id: int) -> int:
    limit = db.session.scalar(
        sa.select(SocialQuota.daily_limit).where(
            SocialQuota.workspace_id == workspace_id, SocialQuota.user_id.is_(None)
        )
    )
    return DEFAULT_DAILY_QUOTA if limit is None else limit


def daily_quota(user: User) -> int:
    """The rep's own limit when a manager set one, else the workspace's default."""
    override = db.session.scalar(
        sa.select(SocialQuota.daily_limit).where(
            SocialQuota.workspace_id == user.workspace_id, SocialQuota.user_id == user.id
        )
    )
    return workspace_default(user.workspace_id) if override is None else override


def touches_today(user: User, now: datetime | None = None) -> int:
    """Social tasks the rep logged an outcome for since local midnight."""
    start, end = day_bounds(user, now)
    return (
        db.session.scalar(
            sa.select(sa.func.count(Task.id)).where(
                Task.owner_id == user.id,
                Task.kind == TaskKind.SOCIAL.value,
                Task.completed_at >= start,
                Task.completed_at < end,
                Task.status == TaskStatus.DONE.value,
            )
        )
        or 0
    )


def quota_overrides(workspace_id: int) -> dict[int, int]:
    """{user id: daily limit} for reps whose limit differs from the default."""
    return dict(
        db.session.execute(
            sa.select(SocialQuota.user_id, SocialQuota.daily_limit).where(
                SocialQuota.workspace_id == workspace_id, SocialQuota.user_id.is_not(None)
            )
        ).all()
    )


def quota_reps(workspace_id: int) -> list[User]:
    """Active reps of the workspace, by name: the people a quota applies to."""
    return list(
        db.session.scalars(
            sa.select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(
                User.workspace_id == workspace_id,
                User.active.is_(True),
                UserRole.role == Role.REP.value,
            )
            .order_by(User.name)
        )
    )


def set_quotas(
    workspace_id: int, default: int, overrides: dict[int, int | None], actor: User
) -> None:
    """Store the workspace default and per-rep limits (None removes a rep's override).

    The caller commits. ``overrides`` names only users of this workspace: the view
    builds it from the workspace's own users.
    """
    rows = {
        row.user_id: row
        for row in db.session.scalars(
            sa.select(SocialQuota).where(SocialQuota.workspace_id == workspace_id)
        )
    }
    wanted: dict[int | None, int | None] = {None: default, **overrides}
    for user_id, limit in wanted.items():
        row = rows.get(user_id)
        if limit is None:
            if row is not None:
                db.session.delete(row)
        elif row is None:
            db.session.add(
                SocialQuota(
                    workspace_id=workspace_id,
                    user_id=user_id,
                    daily_limit=limit,
                    updated_by_id=actor.id,
                )
            )
        elif row.daily_limit != limit:
            row.daily_limit, row.updated_by_id = limit, actor.id
