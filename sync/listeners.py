"""Reactions to what the leads package announces."""

from __future__ import annotations

import logging

from redis.exceptions import RedisError

from app.extensions import db
from leads.models import Lead
from sync.erasure import due_targets as erasure_targets
from sync.handoff import open_handoffs
from sync.jobs import queue_delivery, queue_erasures
from sync.targets import enabled_targets

log = logging.getLogger(__name__)


def on_lead_qualified(lead: Lead, user_id: int | None = None, **_: object) -> None:
    """Open the lead's hand-off after a qualifying disposition was committed.

    Idempotent (one row per lead and target). Should this process die before it
    runs, the sweep finds the qualified lead without a row and opens it.
    """
    open_handoffs(lead.workspace_id, [lead.id], user_id)
    db.session.commit()
    queue_deliveries(lead.workspace_id)


def queue_deliveries(workspace_id: int | None = None) -> None:
    """Queue delivery for every enabled target; a lost enqueue is caught by the sweep."""
    try:
        for target in enabled_targets(workspace_id):
            queue_delivery(target.name)
    except RedisError:
        log.warning("could not queue hand-off delivery; the sweep will", exc_info=True)


def on_erasure_committed(workspace_id: int, **_: object) -> None:
    """Queue the deletes an erasure owes external CRMs; a lost enqueue is caught by the sweep."""
    targets = erasure_targets()
    db.session.commit()  # ends the read: SQLite would hold its write lock until then
    try:
        for target in targets:
            queue_erasures(target)
    except RedisError:
        log.warning("could not queue CRM deletes; the sweep will", exc_info=True)
