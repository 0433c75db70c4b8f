"""Demo calls: a month of dialling by the demo callers, so a fresh install shows charts."""

from __future__ import annotations

import random
from datetime import UTC, timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import Role, User, UserRole, utcnow
from app.users import default_workspace
from leads.dial_models import CallAttempt
from leads.dispositions import DEFAULT_OUTCOMES
from leads.metrics import CONNECTED
from leads.metrics_rollups import rebuild
from leads.models import Lead
from leads.normalize import _zone

DEMO_TOKEN_PREFIX = "demo"
DAYS = 30
CALLS_PER_CALLER_DAY = 40
# How often each outcome comes up on a cold-calling floor, by outcome key.
WEIGHTS = {"no_answer": 50, "voicemail": 18, "busy": 5, "gatekeeper": 6, "wrong_number": 2,
           "not_interested": 7, "call_back": 4, "conversation": 5, "meeting_booked": 2,
           "qualified": 1, "do_not_call": 0.5}  # fmt: skip


def seed_demo_calls(seed: int) -> int:
    """Add demo calls on weekdays of the last 30 days, once; returns how many were added."""
    workspace = default_workspace()
    if db.session.scalar(sa.select(CallAttempt.id).where(
            CallAttempt.lease_token.like(f"{DEMO_TOKEN_PREFIX}%")).limit(1)):  # fmt: skip
        return 0
    callers = list(db.session.scalars(sa.select(User.id).join(UserRole).where(
        User.workspace_id == workspace.id, UserRole.role == Role.CALLER.value)))  # fmt: skip
    leads = list(db.session.execute(
        sa.select(Lead.id, Lead.list_id, Lead.source, Lead.time_zone)
        .where(Lead.workspace_id == workspace.id, Lead.diallable.is_(True)).limit(2000)
    ))  # fmt: skip
    if not callers or not leads:
        return 0
    rows = list(_rows(random.Random(seed), workspace.id, callers, leads))
    db.session.execute(sa.insert(CallAttempt), rows)
    rebuild(workspace.id)
    db.session.commit()
    return len(rows)


def _rows(rng: random.Random, workspace_id: int, callers: list[int], leads: list):
    outcomes = {key: category.value for key, _label, category, *_ in DEFAULT_OUTCOMES}
    keys, weights = list(WEIGHTS), list(WEIGHTS.values())
    today = utcnow().replace(hour=13, minute=0, second=0, microsecond=0)
    attempts: dict[int, int] = {}
    connected: set[int] = set()
    busy_hours: set[tuple[int, object]] = set()
    number = 0
    for back in range(DAYS, -1, -1):
        day = today - timedelta(days=back)
        if day.weekday() >= 5:
            continue
        for caller in callers:
            for minute in sorted(rng.sample(range(8 * 60), CALLS_PER_CALLER_DAY)):
                lead_id, list_id, source, zone_name = rng.choice(leads)
                started = day + timedelta(minutes=minute, seconds=rng.randrange(60))
                outcome = rng.choices(keys, weights)[0]
                attempts[lead_id] = attempts.get(lead_id, 0) + 1
                zone = _zone(zone_name) if zone_name else None
                local = started.replace(tzinfo=UTC).astimezone(zone) if zone else None
                reached = outcomes[outcome] in CONNECTED
                first_connect = reached and lead_id not in connected
                connected.update([lead_id] if reached else [])
                hour = (caller, started.replace(minute=0, second=0))
                opens_hour = hour not in busy_hours
                busy_hours.add(hour)
                number += 1
                yield {
                    "workspace_id": workspace_id, "lead_id": lead_id, "caller_id": caller,
                    "lease_token": f"{DEMO_TOKEN_PREFIX}{number:028d}", "outcome": outcome,
                    "category": outcomes[outcome], "started_at": started,
                    "duration_seconds": rng.randrange(20, 400) if reached else rng.randrange(40),
                    "lead_local_hour": local.hour if local else None,
                    "lead_local_weekday": local.weekday() if local else None,
                    "lead_time_zone": zone_name, "list_id": list_id, "source": source,
                    "attempt_number": attempts[lead_id],
                    "first_connect": first_connect, "opens_hour": opens_hour,
                }  # fmt: skip
