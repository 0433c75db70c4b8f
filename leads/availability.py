"""Who can take a lead right now: active, not away, inside working hours, under caps."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from app.extensions import db
from app.models import User
from leads.models import Lead, LeadStatus
from leads.rotation_models import RepAwayPeriod, RepSettings

# A lead still waiting on its rep; capped by `open_cap`.
OPEN_STATUSES = (LeadStatus.NEW.value, LeadStatus.CONTACTED.value, LeadStatus.CONNECTED.value)


@dataclass
class RepCapacity:
    """What one rep can take in this batch; counts move as the batch hands leads out."""

    user_id: int
    name: str
    unavailable: str | None = None  # why the rep takes nothing now
    daily_left: int | None = None  # None: no cap
    open_left: int | None = None
    open_leads: int = 0

    def can_take(self) -> bool:
        return self.unavailable is None and self.daily_left != 0 and self.open_left != 0

    def why_not(self) -> str:
        if self.unavailable:
            return self.unavailable
        return "reached the daily cap" if self.daily_left == 0 else "reached the open-lead cap"

    def take(self) -> None:
        self.open_leads += 1
        if self.daily_left is not None:
            self.daily_left -= 1
        if self.open_left is not None:
            self.open_left -= 1


@dataclass
class Capacities:
    by_user: dict[int, RepCapacity] = field(default_factory=dict)

    def get(self, user_id: int) -> RepCapacity:
        return self.by_user.get(user_id) or RepCapacity(user_id, "?", unavailable="unknown user")


def _local(now: datetime, zone_name: str) -> datetime:
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return now.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)


def _in_hours(local: datetime, start: time | None, end: time | None) -> bool:
    if start is None or end is None:
        return True
    moment = local.time()
    if start <= end:
        return start <= moment < end
    return moment >= start or moment < end  # a shift across midnight


def unavailable_reason(
    user: Any, settings: RepSettings | None, away: bool, now: datetime
) -> str | None:
    """Why the user takes no leads at ``now`` (naive UTC), or None when they can."""
    if not user.active:
        return "disabled"
    if settings is None:
        return "away" if away else None
    if not settings.accepts_leads:
        return "not taking leads"
    if away:
        return "away"
    local = _local(now, user.time_zone)
    if str(local.isoweekday()) not in settings.work_days:
        return "not a working day"
    if not _in_hours(local, settings.work_start, settings.work_end):
        return "outside working hours"
    return None


def _grouped_counts(user_ids: list[int], *conditions: sa.ColumnElement[bool]) -> dict[int, int]:
    rows = db.session.execute(
        sa.select(Lead.owner_id, sa.func.count())
        .where(Lead.owner_id.in_(user_ids), *conditions)
        .group_by(Lead.owner_id)
    )
    return {owner: count for owner, count in rows}


def _assigned_today(users: list[Any], now: datetime) -> dict[int, int]:
    counts: dict[int, int] = {}
    for user in users:  # each rep's day starts at their own midnight
        local = _local(now, user.time_zone)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        since = (midnight.astimezone(ZoneInfo("UTC"))).replace(tzinfo=None)
        counts[user.id] = (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(Lead)
                .where(
                    Lead.workspace_id == user.workspace_id,
                    Lead.owner_id == user.id,
                    Lead.assigned_at >= since,
                )
            )
            or 0
        )
    return counts


def load_capacities(user_ids: Iterable[int], now: datetime, count_open: bool = False) -> Capacities:
    """Availability and caps of the given users at ``now``.

    Open leads are counted only where a cap or least-loaded picking needs them:
    counting is the one part of a batch that grows with the table.
    """
    ids = sorted(set(user_ids))
    if not ids:
        return Capacities()
    # Plain rows, not User objects: this runs for every batch of every rotation job.
    users = db.session.execute(
        sa.select(User.id, User.name, User.active, User.time_zone, User.workspace_id).where(
            User.id.in_(ids)
        )
    ).all()
    settings = {
        s.user_id: s
        for s in db.session.scalars(sa.select(RepSettings).where(RepSettings.user_id.in_(ids)))
    }
    away = _away_today(users, now)
    daily_capped = [u for u in users if (s := settings.get(u.id)) and s.daily_cap is not None]
    today = _assigned_today(daily_capped, now)
    need_open = count_open or any(s.open_cap is not None for s in settings.values())
    open_counts = _grouped_counts(ids, Lead.status.in_(OPEN_STATUSES)) if need_open else {}
    capacities = Capacities()
    for user in users:
        rep = settings.get(user.id)
        capacity = RepCapacity(
            user.id, user.name, unavailable_reason(user, rep, user.id in away, now),
            open_leads=open_counts.get(user.id, 0),
        )  # fmt: skip
        if rep is not None and rep.daily_cap is not None:
            capacity.daily_left = max(rep.daily_cap - today.get(user.id, 0), 0)
        if rep is not None and rep.open_cap is not None:
            capacity.open_left = max(rep.open_cap - capacity.open_leads, 0)
        capacities.by_user[user.id] = capacity
    return capacities


def _away_today(users: list[Any], now: datetime) -> set[int]:
    if not users:
        return set()
    # Local dates differ by at most a day from UTC; narrow in SQL, decide per user.
    utc_day = now.date()
    periods = db.session.scalars(
        sa.select(RepAwayPeriod).where(
            RepAwayPeriod.user_id.in_([u.id for u in users]),
            RepAwayPeriod.starts_on <= utc_day + timedelta(days=1),
            RepAwayPeriod.ends_on >= utc_day - timedelta(days=1),
        )
    ).all()
    zones = {u.id: u.time_zone for u in users}
    return {
        p.user_id
        for p in periods
        if p.starts_on <= _local(now, zones[p.user_id]).date() <= p.ends_on
    }
