"""Erasure on the hand-off side: the ledger, the pipeline database, the external CRMs.

In the erasure's transaction (`lead_erased`): the lead's ledger rows become deletes
owed to each external target that may hold the person (rows in `crm_erasures`,
carrying only the target's ids), the ledger rows and their log go, and the
pipeline's contact loses the person's data while its deals keep their value.
After the commit (`erasure_committed`) the deletes are queued; they are claimed,
retried with backoff and given up on as deliveries are, so a CRM that is down
gets its delete from the backlog once it is back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.models import utcnow
from leads.erasure import delete_lead_rows
from sync.crm import InvalidTarget, target_for
from sync.crm.base import HandoffItem
from sync.crm_delivery import as_result
from sync.crm_secrets import unseal
from sync.crm_targets import LEDGER_PREFIX
from sync.handoff import CLAIM_LEASE, ledger_values
from sync.models import (
    OPEN_HANDOFF_STATES,
    Contact,
    CrmErasure,
    Deal,
    DealActivity,
    Handoff,
    HandoffState,
    PipelineReceipt,
    QualificationAnswers,
    StoredCrmTarget,
)
from sync.targets import HandoffRow, NeedsAttention

ERASED_NAME = "Erased person"


def on_lead_erased(
    workspace_id: int, lead_ids: list[int], erasure_id: int, needles: Sequence[str], **_: object
) -> dict[str, int]:
    """Receiver of leads.signals.lead_erased; writes in the erasure's transaction."""
    counts = {"crm_deletes_queued": _owe_deletes(workspace_id, lead_ids, erasure_id)}
    counts |= delete_lead_rows(lead_ids, handoff_ledger_rows=Handoff,
                               qualification_answers=QualificationAnswers,
                               pipeline_receipts=PipelineReceipt)  # fmt: skip
    counts.update(_scrub_pipeline(workspace_id, lead_ids, needles))
    return counts


def _owe_deletes(workspace_id: int, lead_ids: list[int], erasure_id: int) -> int:
    """A delete per external ledger row that may have put the person in its CRM.

    A row never attempted sent nothing; every other one did, or may have (a worker
    can die after the vendor answered), so it is owed a delete with the ids known.
    """
    rows = db.session.execute(
        sa.select(
            Handoff.target, Handoff.idempotency_key, Handoff.external_ids, Handoff.state,
            Handoff.next_attempt_at,
        ).where(
            Handoff.lead_id.in_(lead_ids),
            Handoff.target.startswith(LEDGER_PREFIX),
            sa.or_(Handoff.attempts > 0, Handoff.state == HandoffState.DELIVERED.value),
        )
    ).all()  # fmt: skip
    now = utcnow()
    owed = [
        {"workspace_id": workspace_id, "erasure_id": erasure_id, "target": row.target,
         "idempotency_key": CrmErasure.key_for(row.idempotency_key),
         "state": HandoffState.PENDING.value, "attempts": 0,
         # A delivery in flight (its row leased) may still make the person at the CRM:
         # the delete waits for its lease, and learns the ids it reports meanwhile.
         "next_attempt_at": max(now, row.next_attempt_at) if row.state in OPEN_HANDOFF_STATES
         else now,
         "external_ids": dict(row.external_ids or {}), "created_at": now, "updated_at": now}
        for row in rows
    ]  # fmt: skip
    if owed:
        db.session.execute(sa.insert(CrmErasure.__table__), owed)
    return len(owed)


def _scrub_pipeline(workspace_id: int, lead_ids: list[int], needles: Sequence[str]) -> dict:
    """The contact keeps its place (its deals point at it) but nothing about the person."""
    in_workspace = (Contact.workspace_id == workspace_id, Contact.lead_id.in_(lead_ids))
    contacts = db.session.execute(
        sa.update(Contact)
        .where(*in_workspace)
        .values(name=ERASED_NAME, title=None, email=None, phone=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    deals = db.session.scalars(
        sa.select(Deal).where(Deal.workspace_id == workspace_id, Deal.lead_id.in_(lead_ids))
    ).all()
    scrubbed = {"pipeline_contacts": contacts, "pipeline_deal_titles": 0,
                "pipeline_accounts": 0, "pipeline_deal_activities": 0}  # fmt: skip
    for deal in deals:
        if _mentions(deal.title, needles):
            deal.title = f"{ERASED_NAME} (deal #{deal.id})"
            scrubbed["pipeline_deal_titles"] += 1
        account = deal.account
        if _mentions(account.name, needles) or _mentions(account.website, needles):
            # An account named after the person (a lead without a company) is theirs.
            account.name, account.name_key = ERASED_NAME, f"erased-{account.id}"
            account.website = None
            scrubbed["pipeline_accounts"] += 1
    deal_ids = [deal.id for deal in deals]
    for activity in db.session.scalars(
        sa.select(DealActivity).where(DealActivity.deal_id.in_(deal_ids))
    ):
        if _mentions(activity.summary, needles) or _mentions(str(activity.data), needles):
            activity.summary, activity.data = "Erased", {}
            scrubbed["pipeline_deal_activities"] += 1
    db.session.flush()
    return scrubbed


def _mentions(text: str | None, needles: Sequence[str]) -> bool:
    lowered = (text or "").lower()
    return bool(lowered) and any(needle in lowered for needle in needles)


def due_targets(now: datetime | None = None) -> list[str]:
    return list(
        db.session.scalars(sa.select(CrmErasure.target).distinct().where(*_due(now or utcnow())))
    )


def _due(now: datetime) -> tuple[sa.ColumnElement[bool], ...]:
    return (CrmErasure.state.in_(OPEN_HANDOFF_STATES), CrmErasure.next_attempt_at <= now)


def deliver_erasures(target: str, now: datetime | None = None, batch_size: int = 100) -> int:
    """Send one target's due deletes, batch by batch; returns how many it confirmed."""
    done = 0
    while rows := _claim(target, batch_size, now or utcnow()):
        results = _send(target, rows)
        done += _record(rows, results, now or utcnow())
        if len(rows) < batch_size:
            break
    return done


def _claim(target: str, limit: int, now: datetime) -> list[HandoffRow]:
    rows = db.session.execute(
        sa.select(
            CrmErasure.id,
            CrmErasure.workspace_id,
            CrmErasure.idempotency_key,
            CrmErasure.attempts,
            CrmErasure.external_ids,
        )  # fmt: skip
        .where(CrmErasure.target == target, *_due(now))
        .order_by(CrmErasure.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    claimed = [HandoffRow(r.id, r.workspace_id, 0, r.idempotency_key, r.attempts + 1,
                          dict(r.external_ids or {})) for r in rows]  # fmt: skip
    if claimed:
        db.session.execute(
            sa.update(CrmErasure)
            .where(CrmErasure.id.in_([row.id for row in claimed]))
            .values(attempts=CrmErasure.attempts + 1, next_attempt_at=now + CLAIM_LEASE)
        )
    db.session.commit()
    return claimed


def _send(target: str, rows: list[HandoffRow]) -> list:
    stored = db.session.get(StoredCrmTarget, _stored_id(target))
    if stored is None:
        return [NeedsAttention("The CRM target was deleted; remove the person there by hand.")
                for _ in rows]  # fmt: skip
    try:
        crm = target_for(stored.kind, unseal(stored.settings), stored.field_mapping)
    except InvalidTarget as invalid:
        return [NeedsAttention(f"The target's settings are incomplete: {invalid}") for _ in rows]
    db.session.commit()  # no transaction stays open while the vendor answers
    items = [HandoffItem(key=row.idempotency_key, external_ids=row.external_ids) for row in rows]
    answers = {answer.key: answer for answer in crm.erase(items)}
    return [as_result(answers[row.idempotency_key], row.attempts) for row in rows]


def _stored_id(target: str) -> int:
    suffix = target.removeprefix(LEDGER_PREFIX)
    return int(suffix) if suffix.isdigit() else 0


def _record(rows: list[HandoffRow], results: list, now: datetime) -> int:
    """Write each outcome once; rows someone else finished meanwhile are left alone."""
    still_open = set(
        db.session.scalars(
            sa.select(CrmErasure.id)
            .where(CrmErasure.id.in_([row.id for row in rows]))
            .where(CrmErasure.state.in_(OPEN_HANDOFF_STATES))
            .with_for_update()
        )
    )
    updates = [
        {"b_id": row.id, **ledger_values(row, result, now)}
        for row, result in zip(rows, results, strict=True)
        if row.id in still_open
    ]
    if updates:
        db.session.execute(
            sa.update(CrmErasure.__table__).where(CrmErasure.id == sa.bindparam("b_id")), updates
        )
    db.session.commit()
    return sum(update["state"] == HandoffState.DELIVERED.value for update in updates)


def backlog(workspace_id: int) -> dict[str, dict[str, int]]:
    """Deletes per target and state, for the Sync page."""
    rows = db.session.execute(
        sa.select(CrmErasure.target, CrmErasure.state, sa.func.count())
        .where(CrmErasure.workspace_id == workspace_id)
        .group_by(CrmErasure.target, CrmErasure.state)
    ).all()
    counts: dict[str, dict[str, int]] = {}
    for target, state, count in rows:
        counts.setdefault(target, {})[state] = count
    return counts
