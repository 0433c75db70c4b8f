"""Delivering ledger rows to a stored CRM target: rows and leads become `HandoffItem`s.

The item carries the lead's fields and, when the pipeline target has delivered the
lead already, its deal (title, value, currency, stage). A lead whose pipeline deal
is not made yet goes out as contact and company only; its deal is not sent later,
the CRM's own pipeline takes over from there. External ids the CRM gave back are
kept on the ledger row on every outcome, so a retry updates what the first attempt
made instead of creating it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from leads.models import Lead
from sync.crm import HandoffItem, InvalidTarget, ItemResult, Outcome, target_for
from sync.crm_secrets import unseal
from sync.handoff import backoff_seconds
from sync.models import (
    OPEN_HANDOFF_STATES,
    CrmErasure,
    Deal,
    Handoff,
    HandoffState,
    Stage,
    StoredCrmTarget,
)
from sync.targets import Delivered, DeliveryResult, HandoffRow, NeedsAttention, RetryLater

# HubSpot's batch endpoints take 100 objects; the other kinds send one at a time anyway.
BATCH_SIZE = 100
LEAD_COLUMNS = (
    Lead.id, Lead.first_name, Lead.last_name, Lead.email, Lead.email_raw, Lead.phone_e164,
    Lead.company, Lead.title, Lead.website, Lead.city, Lead.state, Lead.country,
    Lead.custom_fields,
)  # fmt: skip


def deliver_to_crm(stored_id: int, rows: Sequence[HandoffRow]) -> list[DeliveryResult]:
    """Send the rows to the stored target; one result per row, in order."""
    stored = db.session.get(StoredCrmTarget, stored_id)
    if stored is None:
        return [NeedsAttention("The CRM target was deleted.") for _ in rows]
    try:
        crm = target_for(stored.kind, unseal(stored.settings), stored.field_mapping)
    except InvalidTarget as invalid:
        return [NeedsAttention(f"The target's settings are incomplete: {invalid}") for _ in rows]
    items = handoff_items(rows)
    _reuse_companies(stored.ledger_name, rows, items)
    db.session.commit()  # no lead-database transaction stays open while the vendor answers
    answers = {answer.key: answer for answer in crm.deliver(list(items.values()))}
    keep_external_ids(rows, answers)
    return [
        as_result(answers[row.idempotency_key], row.attempts) if row.idempotency_key in answers
        else NeedsAttention("The lead was deleted before it was sent.")
        for row in rows
    ]  # fmt: skip


def keep_external_ids(rows: Sequence[HandoffRow], answers: dict[str, ItemResult]) -> None:
    """Write the ids the vendor gave at once, before the results are recorded.

    CRM objects other than contacts are created, not upserted: a worker killed after
    the vendor answered but before the ledger recorded it would create them again.
    """
    updates = [
        {"b_id": row.id, "b_ids": {**row.external_ids, **answers[row.idempotency_key].external_ids}}
        for row in rows
        if row.idempotency_key in answers and answers[row.idempotency_key].external_ids
    ]
    if updates:
        db.session.execute(
            sa.update(Handoff.__table__)
            .where(Handoff.id == sa.bindparam("b_id"))
            # Not IN (...): an expanding parameter cannot run as executemany.
            .where(sa.or_(*(Handoff.state == state for state in OPEN_HANDOFF_STATES)))
            .values(external_ids=sa.bindparam("b_ids")),
            updates,
        )
        _tell_pending_deletes(rows, updates)
    db.session.commit()


def _tell_pending_deletes(rows: Sequence[HandoffRow], updates: list[dict]) -> None:
    """The person was erased while this delivery ran: the delete owed for it gets the ids."""
    keys = {row.id: CrmErasure.key_for(row.idempotency_key) for row in rows}
    db.session.execute(
        sa.update(CrmErasure.__table__)
        .where(CrmErasure.idempotency_key == sa.bindparam("b_key"))
        .where(sa.or_(*(CrmErasure.state == state for state in OPEN_HANDOFF_STATES)))
        .values(external_ids=sa.bindparam("b_ids")),
        [{"b_key": keys[update["b_id"]], "b_ids": update["b_ids"]} for update in updates],
    )


def as_result(answer: ItemResult, attempts: int) -> DeliveryResult:
    """The ledger's result for the library's; a retry waits at least the ledger's backoff.

    The library's ``retry_after`` is the wait it would have made itself (seconds): after
    it gave up, the ledger backs off further so an outage is not hammered.
    """
    if answer.outcome == Outcome.DELIVERED:
        return Delivered(answer.external_ids)
    if answer.outcome == Outcome.RETRY:
        delay = max(answer.retry_after or 0.0, backoff_seconds(attempts))
        return RetryLater(answer.message, delay, answer.external_ids)
    return NeedsAttention(answer.message, answer.external_ids)


def handoff_items(rows: Sequence[HandoffRow]) -> dict[str, HandoffItem]:
    """An item per row whose lead still exists, by idempotency key, in the rows' order."""
    lead_ids = [row.lead_id for row in rows]
    leads = {lead.id: lead for lead in db.session.execute(
        sa.select(*LEAD_COLUMNS).where(Lead.id.in_(lead_ids)))}  # fmt: skip
    deals = _pipeline_deals(lead_ids)
    return {
        row.idempotency_key: _item(row, leads[row.lead_id], deals.get(row.lead_id))
        for row in rows
        if row.lead_id in leads
    }


def _reuse_companies(target_name: str, rows: Sequence[HandoffRow], items: dict) -> None:
    """Give items the company id an earlier delivery of the same company got.

    The vendors create companies (HubSpot and Pipedrive have no upsert on a name);
    without this, every batch would make its own copy of a company seen before.
    """
    workspaces = {row.workspace_id for row in rows}
    names = {item.company.strip().lower() for item in items.values() if item.company}
    if not names:
        return
    earlier = db.session.execute(
        sa.select(Lead.workspace_id, sa.func.lower(Lead.company), Handoff.external_ids)
        .join(Handoff, Handoff.lead_id == Lead.id)
        .where(Lead.workspace_id.in_(workspaces), sa.func.lower(Lead.company).in_(names))
        .where(Handoff.target == target_name)
    ).all()
    known = {(ws, name): ids["company"] for ws, name, ids in earlier if ids.get("company")}
    for row in rows:
        item = items.get(row.idempotency_key)
        if item and item.company and "company" not in item.external_ids:
            company_id = known.get((row.workspace_id, item.company.strip().lower()))
            if company_id:
                item.external_ids["company"] = str(company_id)


def _item(row: HandoffRow, lead: sa.Row, deal: sa.Row | None) -> HandoffItem:
    item = HandoffItem(
        key=row.idempotency_key, email=lead.email or lead.email_raw,
        first_name=lead.first_name, last_name=lead.last_name, phone=lead.phone_e164,
        company=lead.company, title=lead.title, website=lead.website, city=lead.city,
        state=lead.state, country=lead.country, custom=dict(lead.custom_fields or {}),
        external_ids={k: str(v) for k, v in (row.external_ids or {}).items()},
    )  # fmt: skip
    if deal is not None:
        item.deal_name, item.deal_value = deal.title, deal.value
        item.deal_currency, item.deal_stage = deal.currency, deal.stage.lower()
    return item


def _pipeline_deals(lead_ids: list[int]) -> dict[int, Any]:
    """The deals the pipeline target made for these leads, by lead id."""
    delivered = db.session.execute(
        sa.select(Handoff.lead_id, Handoff.external_ids).where(
            Handoff.lead_id.in_(lead_ids), Handoff.target == "pipeline",
            Handoff.state == HandoffState.DELIVERED.value,
        )  # fmt: skip
    ).all()
    deal_ids = {ids["deal_id"]: lead_id for lead_id, ids in delivered if ids.get("deal_id")}
    if not deal_ids:
        return {}
    deals = db.session.execute(
        sa.select(Deal.id, Deal.title, Deal.value, Deal.currency, Stage.name.label("stage"))
        .join(Stage, Stage.id == Deal.stage_id)
        .where(Deal.id.in_(list(deal_ids)))
    ).all()
    return {deal_ids[deal.id]: deal for deal in deals}
