"""The dial queue: claim the next lead atomically, hold it on a lease, explain an empty queue.

Order: the caller's due callbacks, then fresh leads (oldest first), then retries
whose spacing has passed. Never served: leads on the do-not-contact list, outside
calling hours, called within the recent-call window, leased by someone else,
finished (max attempts or a final outcome), or outside what the caller may see.

Atomicity: on SQLite the request's transaction is BEGIN IMMEDIATE, so a claim
reads and writes under the one write lock; on PostgreSQL the candidates are read
FOR UPDATE SKIP LOCKED, so concurrent callers pass over each other's rows. The
claiming UPDATE repeats the conditions either way.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from flask import g, has_request_context

from app.extensions import db
from app.models import User
from leads.calling_hours import (
    closed_everywhere,
    is_callable,
    next_opening,
    place_of,
    utc_now,
    workspace_rules,
)
from leads.calling_zones import CA_PROVINCES, US_STATES, calling_code_zones
from leads.dial_models import Callback, DialSettings
from leads.dnc import suppressed
from leads.models import FRESH_PREDICATE, RETRY_PREDICATE, Lead
from leads.saved_views import view_query

FIRST_BATCH = 4
BATCH = 25
# A claim looks at most this many candidates per step before calling the step empty:
# the zone pre-filter in SQL keeps out-of-hours rows rare, so this is a safety cap.
MAX_CANDIDATES = 2_000
SUMMARY_CAP = 10_000

_PLACE_COLUMNS = (
    Lead.id, Lead.phone_time_zones, Lead.phone_region, Lead.phone_e164, Lead.country, Lead.state,
)  # fmt: skip


@dataclass(frozen=True)
class Rules:
    """A workspace's dial settings, read once per request."""

    lease: timedelta
    recent: timedelta
    max_attempts: int
    calling_hours: dict[str, Any]
    default_country: str

    @classmethod
    def for_user(cls, user: User) -> Rules:
        # Read once per request: a save-and-next asks for them several times.
        if has_request_context() and (cached := g.get("dial_rules")) is not None:
            return cached
        rules = cls._read(user)
        if has_request_context():
            g.dial_rules = rules
        return rules

    @classmethod
    def _read(cls, user: User) -> Rules:
        row = db.session.get(DialSettings, user.workspace_id) or DialSettings()
        return cls(
            lease=timedelta(minutes=row.lease_minutes or 5),
            recent=timedelta(minutes=row.recent_call_minutes or 60),
            max_attempts=row.max_attempts or 6,
            calling_hours=workspace_rules(row.calling_hours),
            default_country=user.workspace.default_region or "US",
        )


def lease_free(at: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(Lead.dial_lease_until.is_(None), Lead.dial_lease_until < at)


def held_lead(user: User, at: datetime | None = None) -> Lead | None:
    """The lead this user holds on a live lease, if any (one at a time)."""
    at = at or utc_now()
    return db.session.scalar(
        sa.select(Lead)
        .where(
            Lead.dial_leased_by_id == user.id,
            Lead.workspace_id == user.workspace_id,
            Lead.dial_lease_until >= at,
            # A contact put on the do-not-contact list leaves the screen at the next step.
            sa.not_(suppressed()),
        )
        .execution_options(populate_existing=True)
    )


@lru_cache(maxsize=1)
def _zone_universe() -> tuple[str, ...]:
    """Zones North American leads ring in: the ones worth excluding in SQL."""
    zones = {z for table in (US_STATES, CA_PROVINCES) for _, zs in table.values() for z in zs}
    return tuple(sorted(zones.union(calling_code_zones("US"))))


@lru_cache(maxsize=64)
def _closed_zones(minute: datetime, rules_json: str) -> list[str]:
    return closed_everywhere(_zone_universe(), minute, json.loads(rules_json))


def closed_zones(at: datetime, rules: dict[str, Any]) -> list[str]:
    """Zones where no rule allows calling now (per minute, cached): safe to exclude in SQL.

    A lead's exact rule (its country, its state, its other zones) is checked in
    Python afterwards; this only keeps plainly closed rows out of the scan.
    """
    minute = at.replace(second=0, microsecond=0)
    return _closed_zones(minute, json.dumps(rules, sort_keys=True))


# The moment of the claim and what depends on it travel as parameters, so the
# conditions below are built once per process: building them cost more than the query.
_AT = sa.bindparam("dial_at", type_=Lead.dial_lease_until.type)
_CALLED_BEFORE = sa.bindparam("dial_called_before", type_=Lead.dial_last_called_at.type)
_MAX_ATTEMPTS = sa.bindparam("dial_max_attempts", type_=sa.Integer())
_CLOSED_ZONES = sa.bindparam("dial_closed_zones", expanding=True, type_=Lead.time_zone.type)


@lru_cache(maxsize=1)
def _queue_conditions() -> tuple[sa.ColumnElement[bool], ...]:
    return (
        Lead.diallable.is_(True),
        lease_free(_AT),
        sa.not_(suppressed()),
        sa.or_(Lead.time_zone.is_(None), Lead.time_zone.not_in(_CLOSED_ZONES)),
    )


@lru_cache(maxsize=1)
def _step_conditions() -> dict[str, tuple[sa.ColumnElement[bool], ...]]:
    # A lead promised to someone's callback waits for that callback, not the retry pool.
    promised = sa.exists().where(Callback.lead_id == Lead.id, Callback.done_at.is_(None))
    return {
        "callbacks": (
            Callback.done_at.is_(None), Callback.due_at <= _AT, Lead.dial_done.is_(False),
        ),
        "fresh": (
            sa.text(FRESH_PREDICATE), sa.or_(Lead.dial_next_at.is_(None), Lead.dial_next_at <= _AT),
        ),
        "retries": (
            sa.text(RETRY_PREDICATE), Lead.dial_next_at <= _AT,
            Lead.dial_last_called_at <= _CALLED_BEFORE, Lead.dial_attempts < _MAX_ATTEMPTS,
            sa.not_(promised),
        ),
    }  # fmt: skip


def _queue(user: User, filters: dict[str, str]) -> sa.Select:
    return view_query(user, filters).with_only_columns(*_PLACE_COLUMNS).where(*_queue_conditions())


def _steps(user: User, filters: dict[str, str]) -> Iterator[sa.Select]:
    conditions = _step_conditions()
    # Due callbacks are the owner's whatever view is being dialled.
    yield (
        _queue(user, {})
        .join(Callback, Callback.lead_id == Lead.id)
        .where(Callback.owner_id == user.id, *conditions["callbacks"])
        .order_by(Callback.due_at)
    )
    base = _queue(user, filters)
    yield base.where(*conditions["fresh"]).order_by(Lead.id)
    yield base.where(*conditions["retries"]).order_by(Lead.dial_next_at)


def _step_parameters(at: datetime, rules: Rules) -> dict[str, Any]:
    return {
        _AT.key: at,
        _CALLED_BEFORE.key: at - rules.recent,
        _MAX_ATTEMPTS.key: rules.max_attempts,
        _CLOSED_ZONES.key: closed_zones(at, rules.calling_hours),
    }


def _batches() -> Iterator[tuple[int, int]]:
    """(offset, limit) pairs up to MAX_CANDIDATES: a small first batch, as the first
    candidate is nearly always taken (on PostgreSQL every row read is also locked)."""
    yield 0, FIRST_BATCH
    yield from ((offset, BATCH) for offset in range(FIRST_BATCH, MAX_CANDIDATES, BATCH))


@lru_cache(maxsize=1)
def _take_statement() -> sa.Update:
    leads = Lead.__table__
    return (
        sa.update(leads)
        .where(leads.c.id == sa.bindparam("take_id"), leads.c.dial_done.is_(False), lease_free(_AT))
        .values(
            dial_lease_token=sa.bindparam("take_token"),
            dial_leased_by_id=sa.bindparam("take_user"),
            dial_lease_until=sa.bindparam("take_until"),
        )
    )


def _take(lead_id: int, user: User, at: datetime, rules: Rules) -> bool:
    """Lease one lead to the user if it is still free: the conditional UPDATE decides."""
    result = db.session.execute(
        _take_statement(),
        {
            "take_id": lead_id, _AT.key: at, "take_token": secrets.token_hex(16),
            "take_user": user.id, "take_until": at + rules.lease,
        },
    )  # fmt: skip
    return result.rowcount == 1


def claim_next(
    user: User, filters: dict[str, str], at: datetime | None = None, holds_none: bool = False
) -> Lead | None:
    """The lead the user should call now, leased to them; the held one if they have one.

    ``holds_none`` skips looking for a held lead (the user just dispositioned the
    only one they held). The caller commits: that ends the lock that made the
    claim exclusive.
    """
    at = at or utc_now()
    if not holds_none and (lead := held_lead(user, at)) is not None:
        return lead
    rules = Rules.for_user(user)
    parameters = _step_parameters(at, rules)
    for step in _steps(user, filters):
        for offset, limit in _batches():
            rows = db.session.execute(
                step.limit(limit).offset(offset).with_for_update(skip_locked=True, of=Lead),
                parameters,
            ).all()
            for row in rows:
                place = place_of(row, rules.default_country)
                if is_callable(place, at, rules.calling_hours) and _take(row.id, user, at, rules):
                    return db.session.get(Lead, row.id, populate_existing=True)
            if len(rows) < limit:
                break
    return None


def release(lead: Lead, until: datetime | None = None) -> None:
    """Give a held lead back to the queue (skip), not before ``until``."""
    lead.dial_lease_token = lead.dial_leased_by_id = lead.dial_lease_until = None
    if until is not None:
        lead.dial_next_at = max(until, lead.dial_next_at or until)


@dataclass(frozen=True)
class QueueSummary:
    """Why a queue is empty: what is waiting, and for what."""

    waiting_for_hours: int
    next_callable_at: datetime | None
    suppressed: int
    retries_later: int
    next_retry_at: datetime | None


def summarize(user: User, filters: dict[str, str], at: datetime | None = None) -> QueueSummary:
    """Count what keeps leads out of the queue right now (each count capped)."""
    at = at or utc_now()
    rules = Rules.for_user(user)
    open_now = view_query(user, filters).where(
        Lead.diallable.is_(True), Lead.dial_done.is_(False), lease_free(at)
    )
    due = open_now.where(sa.or_(Lead.dial_next_at.is_(None), Lead.dial_next_at <= at))
    waiting, openings = 0, {}
    rows = db.session.execute(
        due.where(sa.not_(suppressed())).with_only_columns(*_PLACE_COLUMNS).limit(SUMMARY_CAP)
    )
    for row in rows:
        place = place_of(row, rules.default_country)
        # Leads share a handful of places: work each one out once.
        if place not in openings:
            openings[place] = next_opening(place, at, rules.calling_hours)
        if openings[place] != at:
            waiting += 1
    later_openings = [when for when in openings.values() if when is not None and when != at]
    opening = min(later_openings, default=None)
    later = open_now.where(Lead.dial_next_at > at).with_only_columns(Lead.dial_next_at)
    return QueueSummary(
        waiting_for_hours=waiting,
        next_callable_at=opening,
        suppressed=_count(due.where(suppressed())),
        retries_later=_count(later),
        next_retry_at=db.session.scalar(
            later.with_only_columns(sa.func.min(Lead.dial_next_at)).order_by(None)
        ),
    )


def _count(query: sa.Select) -> int:
    capped = query.with_only_columns(Lead.id).order_by(None).limit(SUMMARY_CAP).subquery()
    return db.session.scalar(sa.select(sa.func.count()).select_from(capped)) or 0
