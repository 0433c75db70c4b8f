"""The internal target: leads become an account, a contact and a deal in the pipeline database.

Everything for a batch is written in one pipeline transaction with
INSERT … ON CONFLICT DO NOTHING on keys that name the lead: the account by company
name, the contact by lead id, the deal by the ledger's idempotency key. Delivering
the same ledger row again finds the rows the first delivery made.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from app.models import utcnow
from leads.models import Lead, display_name
from sync.handoff import pause_point
from sync.models import Account, Contact, Deal, DealActivity, Pipeline, Stage, StageOutcome
from sync.targets import Delivered, DeliveryResult, HandoffRow, NeedsAttention

DEFAULT_PIPELINE = "Sales"
DEFAULT_STAGES = (
    ("Qualified", StageOutcome.OPEN), ("Discovery", StageOutcome.OPEN),
    ("Proposal", StageOutcome.OPEN), ("Negotiation", StageOutcome.OPEN),
    ("Won", StageOutcome.WON), ("Lost", StageOutcome.LOST),
)  # fmt: skip
LEAD_COLUMNS = (
    Lead.id, Lead.first_name, Lead.last_name, Lead.full_name, Lead.company, Lead.title,
    Lead.email, Lead.email_raw, Lead.phone_e164, Lead.phone_raw, Lead.website, Lead.owner_id,
)  # fmt: skip


def _insert_ignoring_duplicates(connection: sa.Connection, table: sa.Table):
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


def ensure_default_pipeline(connection: sa.Connection, workspace_id: int) -> int:
    """The workspace's first pipeline, made with the default stages when it has none."""
    first = sa.select(Pipeline.id).where(Pipeline.workspace_id == workspace_id)
    pipeline_id = connection.scalar(first.order_by(Pipeline.position, Pipeline.id).limit(1))
    if pipeline_id is not None:
        return pipeline_id
    connection.execute(
        _insert_ignoring_duplicates(connection, Pipeline.__table__),
        {"workspace_id": workspace_id, "name": DEFAULT_PIPELINE, "position": 0,
         "created_at": utcnow()},
    )  # fmt: skip
    pipeline_id = connection.scalar(first.where(Pipeline.name == DEFAULT_PIPELINE))
    connection.execute(
        _insert_ignoring_duplicates(connection, Stage.__table__),
        [{"pipeline_id": pipeline_id, "name": name, "position": position, "outcome": outcome.value}
         for position, (name, outcome) in enumerate(DEFAULT_STAGES)],
    )  # fmt: skip
    return pipeline_id


def _entry_stage(connection: sa.Connection, pipeline_id: int) -> int:
    return connection.scalar(
        sa.select(Stage.id)
        .where(Stage.pipeline_id == pipeline_id, Stage.outcome == StageOutcome.OPEN.value)
        .order_by(Stage.position, Stage.id)
        .limit(1)
    )


def _account_name(lead: sa.Row) -> tuple[str, str]:
    if lead.company and lead.company.strip():
        name = lead.company.strip()
        return name, name.lower()[:250]
    # A person without a company buys for themselves: their own account.
    return display_name(lead), f"lead:{lead.id}"


def deliver_to_pipeline(rows: Sequence[HandoffRow]) -> list[DeliveryResult]:
    """Upsert account, contact and deal for each row; one result per row, in order."""
    leads = {
        lead.id: lead
        for lead in db.session.execute(
            sa.select(*LEAD_COLUMNS).where(Lead.id.in_([row.lead_id for row in rows]))
        )
    }
    db.session.commit()  # the lead database is not needed while the pipeline writes
    present = [row for row in rows if row.lead_id in leads]
    ids: dict[str, dict[str, Any]] = {}
    if present:
        with db.engines["pipeline"].begin() as connection:
            ids = _write(connection, present, leads)
    return [
        Delivered(ids[row.idempotency_key])
        if row.idempotency_key in ids
        else NeedsAttention("The lead was deleted before it reached the pipeline.")
        for row in rows
    ]


def _write(connection: sa.Connection, rows: Sequence[HandoffRow], leads: dict) -> dict:
    now = utcnow()
    workspaces = {row.workspace_id for row in rows}
    pipelines = {ws: ensure_default_pipeline(connection, ws) for ws in workspaces}
    stages = {ws: _entry_stage(connection, pid) for ws, pid in pipelines.items()}
    accounts = _upsert_accounts(connection, rows, leads, now)
    contacts = _upsert_contacts(connection, rows, leads, accounts, now)
    currency = current_app.config.get("DEFAULT_CURRENCY", "USD")
    deal_rows = []
    for row in rows:
        lead = leads[row.lead_id]
        account_id = accounts[(row.workspace_id, _account_name(lead)[1])]
        deal_rows.append({
            "workspace_id": row.workspace_id, "handoff_key": row.idempotency_key,
            "lead_id": lead.id, "account_id": account_id,
            "contact_id": contacts[(row.workspace_id, lead.id)],
            "pipeline_id": pipelines[row.workspace_id], "stage_id": stages[row.workspace_id],
            "title": _account_name(lead)[0], "value": 0, "currency": currency,
            "owner_id": lead.owner_id, "outcome": StageOutcome.OPEN.value,
            "created_at": now, "updated_at": now,
        })  # fmt: skip
    connection.execute(_insert_ignoring_duplicates(connection, Deal.__table__), deal_rows)
    keys = [row.idempotency_key for row in rows]
    deals = connection.execute(
        sa.select(Deal.handoff_key, Deal.id, Deal.account_id, Deal.contact_id)
        .where(Deal.handoff_key.in_(keys))
    ).all()
    _record_created(connection, keys, now)
    pause_point("writing")  # everything written, nothing committed yet
    return {
        deal.handoff_key: {"deal_id": deal.id, "account_id": deal.account_id,
                           "contact_id": deal.contact_id}
        for deal in deals
    }  # fmt: skip


def _upsert_accounts(connection, rows, leads, now) -> dict[tuple[int, str], int]:
    wanted = {}
    for row in rows:
        lead = leads[row.lead_id]
        name, key = _account_name(lead)
        wanted[(row.workspace_id, key)] = {"workspace_id": row.workspace_id, "name": name[:250],
                                           "name_key": key, "website": lead.website,
                                           "created_at": now}  # fmt: skip
    connection.execute(
        _insert_ignoring_duplicates(connection, Account.__table__), list(wanted.values())
    )
    found = connection.execute(
        sa.select(Account.workspace_id, Account.name_key, Account.id).where(
            sa.tuple_(Account.workspace_id, Account.name_key).in_(list(wanted))
        )
    )
    return {(ws, key): account_id for ws, key, account_id in found}


def _upsert_contacts(connection, rows, leads, accounts, now) -> dict[tuple[int, int], int]:
    values = []
    for row in rows:
        lead = leads[row.lead_id]
        values.append({
            "workspace_id": row.workspace_id, "lead_id": lead.id,
            "account_id": accounts[(row.workspace_id, _account_name(lead)[1])],
            "name": display_name(lead)[:250], "title": lead.title,
            "email": lead.email or lead.email_raw, "phone": lead.phone_e164, "created_at": now,
        })  # fmt: skip
    connection.execute(_insert_ignoring_duplicates(connection, Contact.__table__), values)
    found = connection.execute(
        sa.select(Contact.workspace_id, Contact.lead_id, Contact.id).where(
            Contact.lead_id.in_([row.lead_id for row in rows])
        )
    )
    return {(ws, lead_id): contact_id for ws, lead_id, contact_id in found}


def _record_created(connection: sa.Connection, keys: list[str], now) -> None:
    """A "created" activity per new deal, in the deal's transaction: never twice."""
    already = sa.exists().where(DealActivity.deal_id == Deal.id, DealActivity.kind == "created")
    source = sa.select(
        Deal.id, Deal.lead_id, sa.literal("created"), sa.literal("Deal created from the lead"),
        sa.literal(now), sa.literal(now), sa.literal_column("'{}'"),
    ).where(Deal.handoff_key.in_(keys), ~already)  # fmt: skip
    # The lead's timeline has the hand-off already: mark the row as carried back.
    columns = ["deal_id", "lead_id", "kind", "summary", "occurred_at", "lead_synced_at", "data"]
    connection.execute(
        sa.insert(DealActivity.__table__).from_select(columns, source)
    )
