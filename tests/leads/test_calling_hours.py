"""Calling hours at their edges: local clocks, state rules, DST days, zones that differ."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

import pytest

from leads.calling_hours import DEFAULT_RULES, is_callable, next_opening, place_of, workspace_rules
from leads.normalize import normalize_phone


def _lead(phone: str | None = None, state: str | None = None, country: str | None = None):
    number = normalize_phone(phone) if phone else None
    return SimpleNamespace(
        phone_e164=number.e164 if number else None,
        phone_region=number.region if number else None,
        phone_time_zones=list(number.time_zones) if number else [],
        country=country,
        state=state,
    )


NEW_YORK = _lead("+1 212 555 0100")
MIAMI = _lead("+1 305 555 0100")  # Florida: 08:00–20:00
HONOLULU = _lead("+1 808 555 0100")
PHOENIX = _lead("+1 602 555 0100")
BOISE = _lead("+1 208 555 0100")  # Idaho's area code rings in Mountain and Pacific time
TORONTO = _lead("+1 416 555 0100")


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("lead", "utc", "callable_"),
    [
        # New York in winter is UTC-5: 07:59, 08:00, 20:59, 21:00 local.
        (NEW_YORK, "2026-01-14 12:59", False),
        (NEW_YORK, "2026-01-14 13:00", True),
        (NEW_YORK, "2026-01-15 01:59", True),
        (NEW_YORK, "2026-01-15 02:00", False),
        # Florida stops at 20:00 local (also UTC-5 in winter).
        (MIAMI, "2026-01-15 00:59", True),
        (MIAMI, "2026-01-15 01:00", False),
        # Hawaii never shifts: UTC-10 in January and in July.
        (HONOLULU, "2026-01-14 17:59", False),
        (HONOLULU, "2026-01-14 18:00", True),
        (HONOLULU, "2026-07-14 18:00", True),
        (HONOLULU, "2026-07-15 06:59", True),
        (HONOLULU, "2026-07-15 07:00", False),
        # Arizona keeps UTC-7 in summer while Denver moves to UTC-6.
        (PHOENIX, "2026-07-14 14:59", False),
        (PHOENIX, "2026-07-14 15:00", True),
        (PHOENIX, "2026-07-15 03:59", True),
        (PHOENIX, "2026-07-15 04:00", False),
        # Boise (UTC-7) opens an hour before Los Angeles (UTC-8): wait for both.
        (BOISE, "2026-01-14 15:00", False),
        (BOISE, "2026-01-14 16:00", True),
        # ...and closes with Boise's 21:00, an hour before Los Angeles' 21:00.
        (BOISE, "2026-01-15 03:59", True),
        (BOISE, "2026-01-15 04:00", False),
    ],
)
def test_calling_hours_edges(lead, utc, callable_):
    assert is_callable(place_of(lead), _utc(utc)) is callable_


@pytest.mark.parametrize(
    ("utc", "callable_"),
    [
        # 8 March 2026: clocks jump from 02:00 EST to 03:00 EDT; 08:00 EDT is 12:00 UTC.
        ("2026-03-08 11:59", False),
        ("2026-03-08 12:00", True),
        ("2026-03-09 00:59", True),
        ("2026-03-09 01:00", False),
        # 1 November 2026: back to EST; 08:00 EST is 13:00 UTC.
        ("2026-11-01 12:59", False),
        ("2026-11-01 13:00", True),
        ("2026-11-02 01:59", True),
        ("2026-11-02 02:00", False),
    ],
)
def test_dst_change_days_follow_the_local_clock(utc, callable_):
    assert is_callable(place_of(NEW_YORK), _utc(utc)) is callable_


def test_canada_has_its_own_weekday_and_weekend_hours():
    toronto = place_of(TORONTO)
    # Wednesday 14 Jan 2026, Toronto UTC-5: 08:30 closed, 09:00 open, 21:29 open, 21:30 closed.
    assert not is_callable(toronto, _utc("2026-01-14 13:30"))
    assert is_callable(toronto, _utc("2026-01-14 14:00"))
    assert is_callable(toronto, _utc("2026-01-15 02:29"))
    assert not is_callable(toronto, _utc("2026-01-15 02:30"))
    # Saturday 17 Jan: 10:00–18:00.
    assert not is_callable(toronto, _utc("2026-01-17 14:59"))
    assert is_callable(toronto, _utc("2026-01-17 15:00"))
    assert not is_callable(toronto, _utc("2026-01-17 23:00"))


def test_state_from_the_address_applies_when_stricter():
    # A New York number whose address is in Washington state: WA's 20:00 end applies.
    lead = _lead("+1 212 555 0100", state="WA", country="US")
    assert is_callable(place_of(lead), _utc("2026-01-15 00:59"))
    assert not is_callable(place_of(lead), _utc("2026-01-15 01:00"))


def test_address_gives_the_zone_when_the_number_has_none():
    lead = _lead(state="Hawaii", country="US")
    place = place_of(lead)
    assert place.zones == ("Pacific/Honolulu",)
    assert not is_callable(place, _utc("2026-01-14 17:59"))
    assert is_callable(place, _utc("2026-01-14 18:00"))


def test_unknown_zone_waits_until_every_zone_of_the_country_is_open():
    lead = _lead(country="US")
    place = place_of(lead)
    assert "Pacific/Honolulu" in place.zones and "America/New_York" in place.zones
    # 13:00 in New York is 08:00 in Honolulu: the first minute every US zone is open.
    assert not is_callable(place, _utc("2026-01-14 17:59"))
    assert is_callable(place, _utc("2026-01-14 18:00"))


def test_next_opening_is_the_first_callable_minute():
    # 07:30 in New York: the next opening is 08:00 the same day.
    assert next_opening(place_of(NEW_YORK), _utc("2026-01-14 12:30")) == _utc("2026-01-14 13:00")
    # Saturday evening in Toronto: Sunday 10:00.
    assert next_opening(place_of(TORONTO), _utc("2026-01-17 23:30")) == _utc("2026-01-18 15:00")
    assert next_opening(place_of(BOISE), _utc("2026-01-14 12:00")) == _utc("2026-01-14 16:00")


def test_workspace_rules_replace_the_defaults():
    rules = workspace_rules(
        {"default": {"weekday": ["09:00", "17:00"], "weekend": ["10:00", "12:00"]}}
    )
    assert rules["subdivisions"] == DEFAULT_RULES["subdivisions"]
    assert not is_callable(place_of(NEW_YORK), _utc("2026-01-14 13:30"), rules)
    assert is_callable(place_of(NEW_YORK), _utc("2026-01-14 14:00"), rules)
    assert not is_callable(place_of(NEW_YORK), _utc("2026-01-14 22:00"), rules)
