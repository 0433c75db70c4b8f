"""Dispositions: the outcome a caller gives a call, and everything that outcome does.

A disposition answers one claim, named by its lease token: a second submit of the
same token records nothing (the call is already there), and a token the caller no
longer holds (another tab, an expired lease taken by someone else) is refused.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import sqlalchemy as sa
from flask import g, has_request_context

from app.extensions import db
from app.models import User
from leads import dnc
from leads.calling_hours import Place, is_callable, local_hour, place_of, utc_now
from leads.dial_models import CallAttempt, Callback, DialOutcome, OutcomeCategory
from leads.dialing import Rules
from leads.metrics_rollups import call_facts, count_call
from leads.models import ActivityType, Lead, LeadStatus
from leads.normalize import _zone
from leads.signals import call_logged, lead_qualified
from leads.timeline import record

MAX_CALL_SECONDS = 4 * 3600
C = OutcomeCategory
# key, label, category, retry minutes (None: leaves the queue), new status, flags
DEFAULT_OUTCOMES = (
    ("no_answer", "No answer", C.NO_ANSWER, 240, None, ""),
    ("busy", "Busy", C.BUSY, 30, None, ""),
    ("voicemail", "Left voicemail", C.VOICEMAIL, 24 * 60, LeadStatus.CONTACTED, "cadence"),
    ("gatekeeper", "Gatekeeper", C.GATEKEEPER, 24 * 60, LeadStatus.CONTACTED, ""),
    ("call_back", "Call back", C.CALL_BACK, None, LeadStatus.CONNECTED, "callback"),
    ("conversation", "Conversation", C.CONVERSATION, 7 * 24 * 60, LeadStatus.CONNECTED, ""),
    ("not_interested", "Not interested", C.NOT_INTERESTED, None, LeadStatus.DISQUALIFIED, ""),
    ("meeting_booked", "Meeting booked", C.MEETING_BOOKED, None, LeadStatus.QUALIFIED, "qualify"),
    ("qualified", "Qualified", C.QUALIFIED, None, LeadStatus.QUALIFIED, "qualify"),
    ("wrong_number", "Wrong number", C.WRONG_NUMBER, None, None, ""),
    ("do_not_call", "Do not call", C.DO_NOT_CALL, None, LeadStatus.DISQUALIFIED, "dnc"),
)


class DispositionError(ValueError):
    """A disposition the form must refuse, with a message for the caller."""


class Result(enum.StrEnum):
    RECORDED = "recorded"
    ALREADY_RECORDED = "already_recorded"
    NOT_HELD = "not_held"


@dataclass(frozen=True)
class Disposition:
    token: str
    outcome_key: str
    note: str = ""
    duration_seconds: int = 0
    callback_local: str = ""  # "YYYY-MM-DDTHH:MM" in the lead's local time


@dataclass(frozen=True)
class Outcome:
    result: Result
    lead_id: int | None = None
    recorded: DialOutcome | None = None
    lead: Lead | None = None  # the called lead, kept for the announcements

    @property
    def qualified(self) -> bool:
        return bool(self.recorded and self.recorded.qualifies)


def outcomes(workspace_id: int) -> list[DialOutcome]:
    """The workspace's active outcomes by position, or the defaults when it has none stored."""
    # Read once per request: recording the call and drawing the next card both need them.
    if has_request_context() and (cached := g.get("dial_outcomes")) is not None:
        return cached
    rows = _load_outcomes(workspace_id)
    if has_request_context():
        g.dial_outcomes = rows
    return rows


def _load_outcomes(workspace_id: int) -> list[DialOutcome]:
    rows = list(
        db.session.scalars(
            sa.select(DialOutcome)
            .where(DialOutcome.workspace_id == workspace_id, DialOutcome.active.is_(True))
            .order_by(DialOutcome.position)
        )
    )
    return rows or default_outcomes(workspace_id)


@lru_cache(maxsize=64)
def default_outcomes(workspace_id: int) -> list[DialOutcome]:
    """The outcomes a workspace has until it stores its own (not added to the session).

    Calls keep the outcome's key and category, not a row id, so nothing needs them
    stored, and a read-only request can show them without writing. Built once per
    workspace: they are never added to a session nor changed.
    """
    return [
        DialOutcome(
            workspace_id=workspace_id,
            key=key,
            label=label,
            category=category.value,
            position=position,
            retry_minutes=retry,
            new_status=status.value if status else None,
            do_not_contact=flag == "dnc",
            needs_callback=flag == "callback",
            qualifies=flag == "qualify",
            cadence_event="voicemail_left" if flag == "cadence" else None,
            active=True,
        )  # fmt: skip
        for position, (key, label, category, retry, status, flag) in enumerate(DEFAULT_OUTCOMES, 1)
    ]


def callback_time(place: Place, text: str, at: datetime, rules: Rules) -> datetime:
    """A callback typed in the lead's local time as naive UTC; refuses past or closed times."""
    zone = _zone(place.zones[0]) if place.zones else None
    if zone is None:
        raise DispositionError("This lead's time zone is unknown: a callback cannot be set.")
    try:
        local = datetime.fromisoformat(text.strip()).replace(tzinfo=zone)
    except ValueError:
        raise DispositionError("Pick the callback's date and time.") from None
    due = local.astimezone(UTC).replace(tzinfo=None)
    if due <= at:
        raise DispositionError("That callback time is in the past for this lead.")
    if not is_callable(place, due, rules.calling_hours):
        raise DispositionError("That callback time is outside calling hours for this lead.")
    return due


def _held(user: User, token: str) -> Lead | None:
    return db.session.scalar(
        sa.select(Lead)
        .where(Lead.dial_lease_token == token, Lead.dial_leased_by_id == user.id)
        .with_for_update()
        # The row as the lock finds it, not as this session last saw it.
        .execution_options(populate_existing=True)
    )


def dispose(user: User, entry: Disposition, at: datetime | None = None) -> Outcome:
    """Record the call and apply the outcome's effects; the caller commits.

    Raises DispositionError for input the form must show again.
    """
    at = at or utc_now()
    lead = _held(user, entry.token) if entry.token else None
    if lead is None:
        done = db.session.scalar(
            sa.select(CallAttempt.lead_id).where(CallAttempt.lease_token == entry.token)
        )
        return Outcome(Result.ALREADY_RECORDED if done else Result.NOT_HELD, done)
    outcome = next((o for o in outcomes(user.workspace_id) if o.key == entry.outcome_key), None)
    if outcome is None:
        raise DispositionError(_unknown_outcome(user.workspace_id, entry.outcome_key))
    rules = Rules.for_user(user)
    place = place_of(lead, rules.default_country)
    due = callback_time(place, entry.callback_local, at, rules) if outcome.needs_callback else None
    duration = min(max(entry.duration_seconds, 0), MAX_CALL_SECONDS)
    _record_call(lead, user, outcome, entry, place, at, duration)
    _apply(lead, user, outcome, at, rules, due, entry.note)
    return Outcome(Result.RECORDED, lead.id, outcome, lead)


def _unknown_outcome(workspace_id: int, key: str) -> str:
    turned_off = key and db.session.scalar(
        sa.select(DialOutcome.label).where(
            DialOutcome.workspace_id == workspace_id, DialOutcome.key == key
        )
    )
    if turned_off:
        return f"The outcome “{turned_off}” was turned off in the settings: pick another."
    return "Pick an outcome for this call."


def _record_call(lead, user, outcome, entry, place, at, duration) -> None:
    started = at - timedelta(seconds=duration)
    facts = call_facts(lead, user.id, outcome.category, started, place)  # metrics
    call = CallAttempt(
        workspace_id=lead.workspace_id, lead_id=lead.id, caller_id=user.id,
        lease_token=entry.token, outcome=outcome.key, category=outcome.category,
        started_at=started, duration_seconds=duration,
        lead_local_hour=local_hour(place, started),
        lead_time_zone=place.zones[0] if place.zones else None,
        note=entry.note.strip() or None, **facts,
    )  # fmt: skip
    db.session.add(call)
    count_call(call)  # metrics: the daily rollups, in this same transaction
    minutes, seconds = divmod(duration, 60)
    summary = f"Called: {outcome.label}" + (f" ({minutes}:{seconds:02d})" if duration else "")
    record(
        lead, ActivityType.CALL, user, summary,
        outcome=outcome.key, category=outcome.category, duration_seconds=duration,
        text=entry.note.strip() or None,
    )  # fmt: skip


def _apply(lead, user, outcome, at, rules, due, note) -> None:
    # Before the lead's changes, so they go out in one UPDATE rather than two.
    db.session.execute(
        sa.update(Callback)
        .where(Callback.lead_id == lead.id, Callback.done_at.is_(None), Callback.due_at <= at)
        .values(done_at=at)
    )
    lead.dial_attempts += 1
    lead.dial_last_outcome = outcome.key
    lead.dial_last_called_at = at
    lead.dial_lease_token = lead.dial_leased_by_id = lead.dial_lease_until = None
    if due is not None:
        db.session.add(Callback(lead_id=lead.id, owner_id=user.id, due_at=due, note=note[:500]))
        lead.dial_next_at = due
    elif outcome.retry_minutes is None or lead.dial_attempts >= rules.max_attempts:
        lead.dial_done = True
    else:
        spacing = max(timedelta(minutes=outcome.retry_minutes), rules.recent)
        lead.dial_next_at = at + spacing
    if outcome.new_status and lead.status != outcome.new_status:
        old = lead.status
        lead.status = outcome.new_status
        record(lead, ActivityType.STATUS_CHANGE, user, f"Status {old} → {lead.status}",
               old=old, new=lead.status)  # fmt: skip
    if outcome.do_not_contact:
        dnc.add_lead(lead, user, f"Disposition: {outcome.label}")


def announce(outcome: Outcome, user: User) -> None:
    """Tell the packages above what a committed call did."""
    if outcome.recorded is None or not (call_logged.receivers or lead_qualified.receivers):
        return
    called = outcome.lead or db.session.get(Lead, outcome.lead_id)
    recorded = outcome.recorded
    call_logged.send(
        called, user_id=user.id, outcome=recorded.key, category=recorded.category,
        cadence_event=recorded.cadence_event,
    )  # fmt: skip
    if outcome.qualified:
        lead_qualified.send(called, user_id=user.id)


def idempotency_token(user: User, key: str) -> str:
    """The lease token standing for a client's idempotency key: one call per user and key."""
    return hashlib.sha256(f"{user.id}:{key}".encode()).hexdigest()[:32]


def dispose_lead(
    user: User, lead_id: int, idempotency_key: str, entry: Disposition, at: datetime | None = None
) -> Outcome:
    """Record a call on a lead the user may see, without a dial-screen claim (the API).

    The idempotency key names the call, as a claim's token does on the dial screen, so a
    retried request records it once: the second finds the call and changes nothing.
    The lead is claimed for the user and disposed of by `dispose`, so the call counts
    and acts exactly as one made on the dial screen. The caller commits.
    """
    at = at or utc_now()
    token = idempotency_token(user, idempotency_key)
    lead = db.session.scalar(sa.select(Lead).where(Lead.id == lead_id).with_for_update())
    # Looked for under the lead's lock: a concurrent retry waits, then finds the call.
    done = db.session.scalar(sa.select(CallAttempt.lead_id).where(CallAttempt.lease_token == token))
    if done is not None:
        return Outcome(Result.ALREADY_RECORDED, done)
    held_by_other = (
        lead.dial_leased_by_id not in (None, user.id)
        and lead.dial_lease_until is not None
        and lead.dial_lease_until > at
    )
    if held_by_other:
        raise DispositionError("Someone is calling this lead on the dial screen; try again later.")
    lead.dial_lease_token, lead.dial_leased_by_id = token, user.id
    lead.dial_lease_until = at + timedelta(minutes=1)
    db.session.flush()
    return dispose(user, replace(entry, token=token), at)


def open_callbacks(user: User, limit: int = 100) -> list[Callback]:
    """The user's callbacks not yet made, soonest first."""
    return list(
        db.session.scalars(
            sa.select(Callback)
            .where(Callback.owner_id == user.id, Callback.done_at.is_(None))
            .order_by(Callback.due_at)
            .limit(limit)
        )
    )


def due_callback_count(user: User, at: datetime | None = None) -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count(Callback.id)).where(
                Callback.owner_id == user.id,
                Callback.done_at.is_(None),
                Callback.due_at <= (at or utc_now()),
            )
        )
        or 0
    )
