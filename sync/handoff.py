"""The hand-off ledger: rows written with the qualification, delivered by jobs, exactly once.

A delivery claims due rows (pushing their next attempt out by a lease, so other
workers leave them alone), lets the target deliver them, then records each result
in one lead-database transaction. A worker killed anywhere in between leaves the
rows claimed; once the lease runs out they are due again, and the target's upsert
on the idempotency key finds what the first attempt made.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from app.database import insert_ignoring_duplicates
from app.extensions import db
from app.models import utcnow
from leads.models import Activity, ActivityType, Lead, LeadStatus
from sync.models import OPEN_HANDOFF_STATES, Handoff, HandoffAttempt, HandoffState
from sync.targets import (
    Delivered,
    DeliveryResult,
    HandoffRow,
    NeedsAttention,
    RetryLater,
    Target,
    enabled_targets,
)

# A claimed row is left alone this long; a worker that died holding it loses it then.
CLAIM_LEASE = timedelta(minutes=5)
BACKOFF_BASE_SECONDS = 30
BACKOFF_CAP_SECONDS = 3600
# After this many failed attempts (about a day with the cap) a person must look.
MAX_ATTEMPTS = 30
QUALIFIED_STATUSES = (
    LeadStatus.QUALIFIED.value, LeadStatus.HANDED_OFF.value,
    LeadStatus.WON.value, LeadStatus.LOST.value,
)  # fmt: skip


def open_handoffs(
    workspace_id: int,
    lead_ids: Iterable[int],
    user_id: int | None,
    targets: Sequence[Target] | None = None,
) -> int:
    """Add a pending ledger row per lead and target (by default the workspace's enabled
    ones); existing rows stay. Caller commits."""
    targets = enabled_targets(workspace_id) if targets is None else targets
    rows = [
        {
            "workspace_id": workspace_id,
            "lead_id": lead_id,
            "target": target.name,
            "idempotency_key": uuid.uuid4().hex,
            "state": HandoffState.PENDING.value,
            "attempts": 0,
            "next_attempt_at": utcnow(),
            "external_ids": {},
            "qualified_by_id": user_id,
            "created_at": utcnow(),
            "updated_at": utcnow(),
        }
        for lead_id in lead_ids
        for target in targets
    ]
    if not rows:
        return 0
    # RETURNING names the inserted rows alone; rowcount is -1 for executemany on PostgreSQL.
    inserted = insert_ignoring_duplicates(Handoff.__table__).returning(Handoff.id)
    return len(db.session.scalars(inserted, rows).all())


def open_missing_handoffs(limit: int = 1000) -> int:
    """Ledger rows for qualified leads that have none: the process that qualified them
    may have died between its commit and the signal's listener. Caller commits."""
    added = 0
    for target in enabled_targets():
        missing = db.session.execute(
            sa.select(Lead.workspace_id, Lead.id)
            .where(
                Lead.status == LeadStatus.QUALIFIED.value,
                ~sa.exists().where(Handoff.lead_id == Lead.id, Handoff.target == target.name),
            )
            .order_by(Lead.id)
            .limit(limit)
        ).all()
        for workspace_id, lead_id in missing:
            added += open_handoffs(workspace_id, [lead_id], None)
    return added


def backoff_seconds(attempts: int) -> float:
    """Capped exponential backoff with jitter, so a recovered target is not stampeded."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0))
    return ceiling * random.uniform(0.5, 1.0)


def due_count(target: str, now: datetime | None = None) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).where(*_due(target, now or utcnow()))
    ) or 0


def _due(target: str, now: datetime) -> tuple[sa.ColumnElement[bool], ...]:
    return (
        Handoff.target == target,
        Handoff.state.in_(OPEN_HANDOFF_STATES),
        Handoff.next_attempt_at <= now,
    )


def rate_budget(target: Target, now: datetime) -> int:
    """How many rows may go out now without passing the target's per-minute limit."""
    if target.per_minute is None:
        return target.batch_size
    recent = db.session.scalar(
        sa.select(sa.func.count()).where(
            Handoff.target == target.name, Handoff.delivered_at > now - timedelta(minutes=1)
        )
    )
    return max(0, min(target.batch_size, target.per_minute - (recent or 0)))


def claim_due(target: Target, limit: int, now: datetime) -> list[HandoffRow]:
    """Take up to ``limit`` due rows, oldest first, and lease them; commits."""
    rows = db.session.execute(
        sa.select(
            Handoff.id, Handoff.workspace_id, Handoff.lead_id, Handoff.idempotency_key,
            Handoff.attempts, Handoff.external_ids,
        )  # fmt: skip
        .where(*_due(target.name, now))
        .order_by(Handoff.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    claimed = [HandoffRow(*row[:4], row.attempts + 1, row.external_ids) for row in rows]
    if claimed:
        db.session.execute(
            sa.update(Handoff)
            .where(Handoff.id.in_([row.id for row in claimed]))
            .values(attempts=Handoff.attempts + 1, next_attempt_at=now + CLAIM_LEASE)
        )
    db.session.commit()
    return claimed


def record_results(
    target: Target,
    rows: Sequence[HandoffRow],
    results: Sequence[DeliveryResult],
    now: datetime,
) -> int:
    """Write what the target said, once per row, with the lead's timeline; commits.

    Rows another worker finished meanwhile are skipped: the lock taken on the still
    open rows decides who records, so an activity is never written twice.
    """
    still_open = set(
        db.session.scalars(
            sa.select(Handoff.id)
            .where(Handoff.id.in_([row.id for row in rows]))
            .where(Handoff.state.in_(OPEN_HANDOFF_STATES))
            .with_for_update()
        )
    )
    pairs = [(row, result) for row, result in zip(rows, results, strict=True)
             if row.id in still_open]  # fmt: skip
    updates, attempts, delivered = [], [], []
    for row, result in pairs:
        values = ledger_values(row, result, now)
        updates.append({"b_id": row.id, **values})
        attempts.append({"handoff_id": row.id, "occurred_at": now, "outcome": values["state"],
                         "message": values["last_error"]})  # fmt: skip
        if isinstance(result, Delivered):
            delivered.append((row, result))
    if updates:
        db.session.execute(
            sa.update(Handoff.__table__).where(Handoff.id == sa.bindparam("b_id")), updates
        )
        db.session.execute(sa.insert(HandoffAttempt.__table__), attempts)
    _mark_leads_delivered(target, delivered, now)
    db.session.commit()
    return len(delivered)


def ledger_values(row: HandoffRow, result: DeliveryResult, now: datetime) -> dict:
    if isinstance(result, Delivered):
        return {"state": HandoffState.DELIVERED.value, "external_ids": result.external_ids,
                "last_error": None, "delivered_at": now, "updated_at": now,
                "next_attempt_at": now}  # fmt: skip
    # Ids a failed attempt learned are kept: the next attempt updates, never creates again.
    external_ids = {**row.external_ids, **(result.external_ids or {})}
    if isinstance(result, RetryLater) and row.attempts < MAX_ATTEMPTS:
        delay = result.delay if result.delay is not None else backoff_seconds(row.attempts)
        return {"state": HandoffState.FAILED.value, "external_ids": external_ids,
                "last_error": result.message[:2000], "delivered_at": None, "updated_at": now,
                "next_attempt_at": now + timedelta(seconds=delay)}  # fmt: skip
    message = result.message if isinstance(result, NeedsAttention) else (
        f"Gave up after {row.attempts} attempts: {result.message}"
    )
    return {"state": HandoffState.NEEDS_ATTENTION.value, "external_ids": external_ids,
            "last_error": message[:2000], "delivered_at": None, "updated_at": now,
            "next_attempt_at": now}  # fmt: skip


def _mark_leads_delivered(
    target: Target, delivered: Sequence[tuple[HandoffRow, Delivered]], now: datetime
) -> None:
    if not delivered:
        return
    summaries = {row.lead_id: _delivered_summary(target, result) for row, result in delivered}
    db.session.execute(
        sa.insert(Activity.__table__),
        [{"lead_id": lead_id, "type": ActivityType.STATUS_CHANGE.value, "occurred_at": now,
          "summary": summary, "data": {"target": target.name}}
         for lead_id, summary in summaries.items()],
    )  # fmt: skip
    if target.hands_off:
        db.session.execute(
            sa.update(Lead)
            .where(Lead.id.in_(summaries), Lead.status == LeadStatus.QUALIFIED.value)
            .values(status=LeadStatus.HANDED_OFF.value, updated_at=now)
        )


def _delivered_summary(target: Target, result: Delivered) -> str:
    deal = result.external_ids.get("deal_id")
    return f"Handed off to {target.label}" + (f" as deal #{deal}" if deal else "")


def deliver_due(target: Target, now: datetime | None = None, max_batches: int = 50) -> int:
    """Deliver the target's due rows batch by batch, within its rate limit; returns delivered."""
    delivered = 0
    if target.paused:
        return 0
    for _ in range(max_batches):
        moment = now or utcnow()
        rows = claim_due(target, rate_budget(target, moment), moment)
        if not rows:
            break
        pause_point("claimed")
        results = target.deliver(rows)
        pause_point("delivered")
        delivered += record_results(target, rows, results, now or utcnow())
    return delivered


def deliver_lead_now(lead_id: int, target: Target) -> None:
    """Deliver one lead's row at once (a rep waits on the page); the job is the fallback."""
    row = db.session.scalar(
        sa.select(Handoff)
        .where(Handoff.lead_id == lead_id, Handoff.target == target.name)
        .where(Handoff.state.in_(OPEN_HANDOFF_STATES))
    )
    if row is None:
        return
    claimed = HandoffRow(row.id, row.workspace_id, row.lead_id, row.idempotency_key,
                         row.attempts + 1, row.external_ids)  # fmt: skip
    row.attempts = claimed.attempts
    row.next_attempt_at = utcnow() + CLAIM_LEASE
    db.session.commit()
    record_results(target, [claimed], target.deliver([claimed]), utcnow())


def retry(handoff: Handoff) -> None:
    """Send a failed, stuck or discarded row again now; caller commits."""
    handoff.state = HandoffState.PENDING.value
    handoff.next_attempt_at = utcnow()
    handoff.attempts = 0
    handoff.last_error = None


def discard(handoff: Handoff, reason: str) -> None:
    """Stop trying to deliver a row; caller commits."""
    handoff.state = HandoffState.DISCARDED.value
    handoff.last_error = reason
    db.session.add(HandoffAttempt(handoff_id=handoff.id, outcome="discarded", message=reason))


def pause_point(name: str) -> None:
    """Hold a delivery at a named point when the environment asks, so tests can kill it there.

    ``LEADLINE_HANDOFF_PAUSE_AT=<name>`` and ``LEADLINE_HANDOFF_PAUSE_FILE=<path>``: the
    worker writes the file when it reaches the point, then waits to be killed.
    """
    if os.environ.get("LEADLINE_HANDOFF_PAUSE_AT") != name:
        return
    Path(os.environ["LEADLINE_HANDOFF_PAUSE_FILE"]).write_text(str(os.getpid()))
    time.sleep(120)
