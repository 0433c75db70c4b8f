"""Reporting periods in the viewer's time zone.

Day boundaries are the viewer's local midnights (``User.time_zone``, DST included):
"today" runs from this local midnight to now, "7 days" is today and the six local
days before it, a week starts on Monday, and a custom range covers whole local days
from its first date to its last, both included. Each period becomes a half-open UTC
window ``[start, end)`` over the calls' ``started_at``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PRESETS = {"today": 1, "7d": 7, "30d": 30, "90d": 90}
PRESET_LABELS = {"today": "Today", "7d": "7 days", "30d": "30 days", "90d": "90 days"}
DEFAULT_PRESET = "7d"
MAX_DAYS = 366


@dataclass(frozen=True)
class Window:
    """A half-open UTC interval [start, end) of naive UTC datetimes."""

    start: datetime
    end: datetime

    def split(self) -> tuple[tuple[date, date] | None, list[Window]]:
        """Whole UTC days inside the window (first, after-last) and the ragged edges.

        Whole days are read from the daily rollups; the edges (under a day each) from
        the hourly rollups and the call records, so any time zone's days add up exactly.
        """
        first = datetime.combine(self.start.date(), time())
        if first < self.start:
            first += timedelta(days=1)
        days, edges = self._around(first, datetime.combine(self.end.date(), time()))
        return (days.start.date(), days.end.date()) if days else None, edges

    def split_hours(self) -> tuple[Window | None, list[Window]]:
        """Whole UTC hours inside the window, and the rest (under an hour each)."""
        first = self.start.replace(minute=0, second=0, microsecond=0)
        if first < self.start:
            first += timedelta(hours=1)
        return self._around(first, self.end.replace(minute=0, second=0, microsecond=0))

    def _around(self, first: datetime, last: datetime) -> tuple[Window | None, list[Window]]:
        """The part [first, last) of the window, and what is left on either side of it."""
        if first >= last:
            return None, [self] if self.start < self.end else []
        rest = [Window(a, b) for a, b in ((self.start, first), (last, self.end)) if a < b]
        return Window(first, last), rest


@dataclass(frozen=True)
class Period:
    key: str  # a preset key or "custom"
    first_day: date  # local, inclusive
    last_day: date  # local, inclusive
    window: Window
    zone: ZoneInfo
    message: str = ""

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def label(self) -> str:
        if self.key in PRESET_LABELS:
            return PRESET_LABELS[self.key]
        return f"{self.first_day:%d %b %Y} – {self.last_day:%d %b %Y}"

    def query(self) -> dict[str, str]:
        """The query-string arguments that name this period (for links and exports)."""
        if self.key == "custom":
            return {"period": "custom", "from": self.first_day.isoformat(),
                    "to": self.last_day.isoformat()}  # fmt: skip
        return {"period": self.key}

    def local_days(self) -> Iterator[date]:
        for offset in range(self.days):
            yield self.first_day + timedelta(days=offset)

    def local_midnights(self) -> list[datetime]:
        """Where each local day starts, as naive UTC (the first may precede the window)."""
        return [_utc(day, self.zone) for day in self.local_days()]


def zone_of(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _utc(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone).astimezone(UTC).replace(tzinfo=None)


def days_period(
    key: str, first: date, last: date, zone: ZoneInfo, now: datetime, message: str = ""
) -> Period:
    """Whole local days first..last, cut at ``now`` (naive UTC) so the future is not counted."""
    end = min(_utc(last + timedelta(days=1), zone), max(now, _utc(first, zone)))
    return Period(key, first, last, Window(_utc(first, zone), end), zone, message)


def today(zone: ZoneInfo, now: datetime) -> date:
    return now.replace(tzinfo=UTC).astimezone(zone).date()


def preset(key: str, zone: ZoneInfo, now: datetime) -> Period:
    last = today(zone, now)
    return days_period(key, last - timedelta(days=PRESETS[key] - 1), last, zone, now)


def this_week(zone: ZoneInfo, now: datetime) -> Period:
    last = today(zone, now)
    return days_period("week", last - timedelta(days=last.weekday()), last, zone, now)


def parse_period(args: Mapping[str, str], zone: ZoneInfo, now: datetime) -> Period:
    """The period a query string asks for; bad input falls back with a message, never fails."""
    key = args.get("period", DEFAULT_PRESET)
    if key in PRESETS:
        return preset(key, zone, now)
    if key != "custom":
        return preset(DEFAULT_PRESET, zone, now)
    fallback = preset(DEFAULT_PRESET, zone, now)
    try:
        first = date.fromisoformat(args.get("from", "").strip())
        last = date.fromisoformat(args.get("to", "").strip())
    except ValueError:
        return _with_message(fallback, "Pick both dates of the custom range (showing 7 days).")
    if last < first:
        return _with_message(fallback, "The range ends before it starts (showing 7 days).")
    message = ""
    if (last - first).days + 1 > MAX_DAYS:
        first = last - timedelta(days=MAX_DAYS - 1)
        message = (
            f"Ranges are limited to {MAX_DAYS} days: showing the {MAX_DAYS} days "
            "up to the end date."
        )
    return days_period("custom", first, last, zone, now, message)


def _with_message(period: Period, message: str) -> Period:
    return Period(period.key, period.first_day, period.last_day, period.window, period.zone,
                  message)  # fmt: skip
