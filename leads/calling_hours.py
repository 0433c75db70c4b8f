"""Calling hours in the lead's local time, with a clock tests and benchmarks can set.

A lead is callable only when every zone it may ring in is inside every rule that
applies to it (the country's, and the stricter state's), so an unknown zone or an
area code spanning zones errs on the side of not calling.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from flask import current_app, has_app_context

from leads import clock
from leads.calling_zones import country_zones, phone_subdivision, subdivision, subdivision_zones
from leads.normalize import _zone

# Windows are [start, end): at 21:00 a US lead is no longer callable.
DEFAULT_RULES: dict[str, Any] = {
    "default": {"weekday": ["08:00", "21:00"], "weekend": ["08:00", "21:00"]},
    "countries": {"CA": {"weekday": ["09:00", "21:30"], "weekend": ["10:00", "18:00"]}},
    "subdivisions": {
        code: {"weekday": ["08:00", "20:00"], "weekend": ["08:00", "20:00"]}
        for code in ("US-FL", "US-OK", "US-WA")
    },
}
NEXT_OPENING_HORIZON_DAYS = 8


def utc_now() -> datetime:
    """Now as naive UTC; ``DIAL_NOW`` (ISO, UTC) in the app config freezes it, else the
    application's clock (``leads.clock``) decides."""
    if has_app_context() and (frozen := current_app.config.get("DIAL_NOW")):
        return datetime.fromisoformat(frozen).replace(tzinfo=None)
    return clock.now()


@dataclass(frozen=True, slots=True)
class Place:
    """Where a lead's phone rings, as far as calling hours care."""

    zones: tuple[str, ...]
    country: str | None
    subdivisions: frozenset[str]

    @property
    def known(self) -> bool:
        return bool(self.zones)


def place_of(lead: Any, default_country: str = "US") -> Place:
    """The zones and states a lead's calling hours depend on (phone first, then address)."""
    country = lead.phone_region or lead.country or default_country
    subdivisions = set()
    if lead.phone_e164 and (code := phone_subdivision(lead.phone_e164)):
        subdivisions.add(code)
    if address := subdivision(lead.country or country, lead.state):
        subdivisions.add(address)
    zones = tuple(lead.phone_time_zones or ())
    if not zones and address:
        zones = subdivision_zones(address)
    if not zones:
        zones = country_zones(country)
    return Place(zones, country, frozenset(subdivisions))


def _window(rule: dict[str, Any], weekend: bool) -> tuple[time, time]:
    start, end = rule["weekend" if weekend else "weekday"]
    return time.fromisoformat(start), time.fromisoformat(end)


def _rules_for(place: Place, rules: dict[str, Any]) -> list[dict[str, Any]]:
    applicable = [rules.get("countries", {}).get(place.country) or rules["default"]]
    for code in place.subdivisions:
        if rule := rules.get("subdivisions", {}).get(code):
            applicable.append(rule)
    return applicable


def _inside(rule: dict[str, Any], local: datetime) -> bool:
    start, end = _window(rule, local.weekday() >= 5)
    return start <= local.time().replace(tzinfo=None) < end


def is_callable(place: Place, at: datetime, rules: dict[str, Any] = DEFAULT_RULES) -> bool:
    """True when it is inside calling hours in every zone and under every rule at ``at`` (UTC)."""
    if not place.known:
        return False
    moment = at.replace(tzinfo=UTC)
    applicable = _rules_for(place, rules)
    for name in place.zones:
        zone = _zone(name)
        if zone is None:
            return False
        local = moment.astimezone(zone)
        if not all(_inside(rule, local) for rule in applicable):
            return False
    return True


def closed_everywhere(zones: tuple[str, ...], at: datetime, rules: dict[str, Any]) -> list[str]:
    """Of ``zones``, those where no country's rule (nor the default) allows a call at ``at``."""
    candidates = [rules["default"], *rules.get("countries", {}).values()]
    moment = at.replace(tzinfo=UTC)
    closed = []
    for name in zones:
        if (zone := _zone(name)) is not None:
            local = moment.astimezone(zone)
            if not any(_inside(rule, local) for rule in candidates):
                closed.append(name)
    return closed


def next_opening(
    place: Place, after: datetime, rules: dict[str, Any] = DEFAULT_RULES
) -> datetime | None:
    """The first moment (naive UTC) at or after ``after`` when the lead is callable."""
    if is_callable(place, after, rules):
        return after
    starts = []
    moment = after.replace(tzinfo=UTC)
    for name in place.zones:
        zone = _zone(name)
        if zone is None:
            return None
        today = moment.astimezone(zone).date()
        for offset in range(NEXT_OPENING_HORIZON_DAYS):
            day = today + timedelta(days=offset)
            for rule in _rules_for(place, rules):
                start, _ = _window(rule, day.weekday() >= 5)
                local = datetime.combine(day, start, tzinfo=zone)
                starts.append(local.astimezone(UTC).replace(tzinfo=None))
    for candidate in sorted(s for s in starts if s > after):
        if is_callable(place, candidate, rules):
            return candidate
    return None


def local_hour(place: Place, at: datetime) -> int | None:
    """The lead's wall-clock hour at ``at`` in its first zone, for call metrics."""
    zone = _zone(place.zones[0]) if place.zones else None
    return at.replace(tzinfo=UTC).astimezone(zone).hour if zone else None


def workspace_rules(stored: dict[str, Any] | None) -> dict[str, Any]:
    """A workspace's rules over the defaults: each top-level key it sets replaces the default's."""
    return {**DEFAULT_RULES, **(stored or {})}
