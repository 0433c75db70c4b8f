"""RQ entry points of the hand-off: thin, re-read the ledger, safe to run twice."""

from __future__ import annotations

import logging
import time

from redis.exceptions import RedisError

from app.extensions import db
from app.queue import enqueue, job
from sync.erasure import deliver_erasures as deliver_due_erasures
from sync.erasure import due_targets as erasure_targets
from sync.handoff import deliver_due, due_count, open_missing_handoffs
from sync.inbound import carry_back
from sync.targets import get_target, known_targets

log = logging.getLogger(__name__)


def _bucket() -> int:
    # One job id per target and minute: a queued delivery is not queued twice, and a
    # finished one (RQ keeps its id a while) does not block the next minute's.
    return int(time.time() // 60)


def queue_delivery(target: str) -> None:
    """Ask a worker to deliver the target's due rows (the sweep asks again if Redis forgets)."""
    enqueue("sync.jobs.deliver_handoffs", target, job_id=f"sync-deliver-{target}-{_bucket()}")


def queue_erasures(target: str) -> None:
    """Ask a worker to send the target's due deletes of erased people."""
    enqueue("sync.jobs.deliver_erasures", target, job_id=f"sync-erase-{target}-{_bucket()}")


def queue_carry_back() -> None:
    enqueue("sync.jobs.carry_back_deal_activities", job_id=f"sync-carry-back-{_bucket()}")


def flow_back() -> None:
    """Carry deal changes back to their leads now, after a person's change was committed.

    The lead should follow at once; the job (and the sweep behind it) carries on if
    this process cannot.
    """
    try:
        carry_back()
    except Exception:
        db.session.rollback()
        log.warning("carrying deal changes back failed; the job will retry", exc_info=True)
    try:
        queue_carry_back()
    except RedisError:
        log.warning("could not queue the carry-back job; the sweep will", exc_info=True)


@job
def deliver_handoffs(target_name: str) -> int:
    """Deliver one target's due ledger rows in batches; returns how many were delivered."""
    target = get_target(target_name)
    return deliver_due(target) if target else 0


@job
def deliver_erasures(target_name: str) -> int:
    """Send one target's due deletes; returns how many the target confirmed."""
    return deliver_due_erasures(target_name)


@job
def carry_back_deal_activities() -> int:
    """Carry deal changes back to their leads until none are left."""
    carried = total = carry_back()
    while carried:
        carried = carry_back()
        total += carried
    return total


@job
def sweep_handoffs() -> int:
    """From SQL: open missing ledger rows, queue due deliveries and deal changes to carry back."""
    opened = open_missing_handoffs()
    db.session.commit()
    for target in known_targets():
        if due_count(target.name):
            queue_delivery(target.name)
    for target in erasure_targets():
        queue_erasures(target)
    queue_carry_back()
    return opened
