"""When a step may run: the clock seam, send windows in the lead's zone, business days."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app

from leads import clock


def now() -> datetime:
    """The runner's clock (naive UTC): the CADENCE_NOW setting when a test sets it, else
    the application's clock (``leads.clock``, which rotation's tests move too)."""
    fixed = current_app.config.get("CADENCE_NOW")
    return fixed if isinstance(fixed, datetime) else clock.now()


def zone(name: str | None, fallback: str) -> ZoneInfo:
    for candidate in (name, fallback, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def is_business_day(day: date, holidays: Collection[date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_business_days(
    start: datetime, days: int, tz: ZoneInfo, holidays: Collection[date]
) -> datetime:
    """``days`` business days after ``start`` (naive UTC), the same local time of day."""
    local = start.replace(tzinfo=UTC).astimezone(tz)
    day, left = local.date(), days
    while left:
        day += timedelta(days=1)
        if is_business_day(day, holidays):
            left -= 1
    moved = datetime.combine(day, local.time().replace(tzinfo=None), tzinfo=tz)
    return _naive_utc(moved)


def next_window_open(
    moment: datetime,
    tz: ZoneInfo,
    start_minute: int,
    end_minute: int,
    business_days_only: bool,
    holidays: Collection[date],
) -> datetime:
    """``moment`` itself when it falls inside the window, else the window's next opening."""
    local = moment.replace(tzinfo=UTC).astimezone(tz)
    minute = local.hour * 60 + local.minute
    day = local.date()
    allowed = not business_days_only or is_business_day(day, holidays)
    if allowed and start_minute <= minute < end_minute:
        return moment
    if not allowed or minute >= end_minute:
        day += timedelta(days=1)
        while business_days_only and not is_business_day(day, holidays):
            day += timedelta(days=1)
    opening = datetime.combine(day, time(start_minute // 60, start_minute % 60), tzinfo=tz)
    return _naive_utc(opening)


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)
