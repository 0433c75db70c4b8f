"""Stored CRM targets: what an admin configured, as ledger targets, and their upkeep.

Each stored target is a ledger target named ``crm-<id>``. Leads qualified while it
is enabled get a row for it next to the pipeline's; leads qualified earlier are sent
only when an admin asks (`send_earlier_leads`), since a new CRM connection should not
surprise anyone with months of old leads.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models import utcnow
from leads.models import Lead
from sync.crm import CheckResult, InvalidTarget, target_for
from sync.crm_delivery import BATCH_SIZE, deliver_to_crm
from sync.crm_secrets import seal, unseal
from sync.handoff import QUALIFIED_STATUSES, open_handoffs
from sync.models import Handoff, StoredCrmTarget
from sync.targets import Target, TargetSource

LEDGER_PREFIX = "crm-"
BACKFILL_LIMIT = 100_000


def as_target(stored: StoredCrmTarget) -> Target:
    """The ledger's view of a stored target; the CRM library paces itself, so no per_minute."""
    return Target(
        stored.ledger_name, stored.name, partial(deliver_to_crm, stored.id),
        batch_size=BATCH_SIZE, paused=not stored.enabled,
    )  # fmt: skip


def _get(name: str) -> Target | None:
    if not name.startswith(LEDGER_PREFIX) or not name[len(LEDGER_PREFIX):].isdigit():
        return None
    stored = db.session.get(StoredCrmTarget, int(name[len(LEDGER_PREFIX):]))
    return as_target(stored) if stored else None


def _listing(workspace_id: int | None, enabled_only: bool) -> list[Target]:
    query = sa.select(StoredCrmTarget).order_by(StoredCrmTarget.id)
    if workspace_id is not None:
        query = query.where(StoredCrmTarget.workspace_id == workspace_id)
    if enabled_only:
        query = query.where(StoredCrmTarget.enabled.is_(True))
    return [as_target(stored) for stored in db.session.scalars(query)]


SOURCE = TargetSource(_get, _listing)


def workspace_targets(workspace_id: int) -> list[StoredCrmTarget]:
    return list(
        db.session.scalars(
            sa.select(StoredCrmTarget)
            .where(StoredCrmTarget.workspace_id == workspace_id)
            .order_by(StoredCrmTarget.name)
        )
    )


def save_target(
    stored: StoredCrmTarget, name: str, kind: str, settings: dict[str, Any], mapping: dict
) -> None:
    """Write the form's values onto the target (new or not); caller commits."""
    stored.name = name.strip()
    stored.kind = kind
    stored.settings = seal(settings)
    stored.field_mapping = mapping
    if stored.id is None:
        db.session.add(stored)


def set_enabled(stored: StoredCrmTarget, enabled: bool) -> None:
    """Start or stop handing new leads to the target; caller commits."""
    if enabled and not stored.enabled:
        stored.enabled_at = utcnow()
    stored.enabled = enabled


def check_connection(stored: StoredCrmTarget) -> CheckResult:
    """One harmless request to the vendor, with the vendor's own words on failure."""
    try:
        crm = target_for(stored.kind, unseal(stored.settings), stored.field_mapping)
    except InvalidTarget as invalid:
        return CheckResult(False, f"The settings are incomplete: {invalid}")
    return crm.check()


def send_earlier_leads(stored: StoredCrmTarget) -> int:
    """Open rows for the workspace's qualified leads the target has not had; caller commits."""
    has_row = sa.exists().where(Handoff.lead_id == Lead.id, Handoff.target == stored.ledger_name)
    lead_ids = db.session.scalars(
        sa.select(Lead.id)
        .where(Lead.workspace_id == stored.workspace_id, Lead.status.in_(QUALIFIED_STATUSES))
        .where(~has_row)
        .order_by(Lead.id)
        .limit(BACKFILL_LIMIT)
    ).all()
    return open_handoffs(stored.workspace_id, lead_ids, None, [as_target(stored)])
