"""The hand-off ledger (lead database) and the pipeline (its own database, the `pipeline` bind).

No foreign key crosses the two databases: pipeline rows name leads and users by id
only, and the ledger's idempotency key is the one value both sides share.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models import enum_check, utcnow
from leads.models import JSONType

# -- lead database: qualification and the ledger ----------------------------------------------


class QualificationCriteria(db.Model):
    """What a lead needs before a rep may promote it: filled fields and ticked checks."""

    __tablename__ = "qualification_criteria"

    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"), primary_key=True)
    required_fields: Mapped[list[str]] = mapped_column(JSONType, default=list)
    checklist: Mapped[list[str]] = mapped_column(JSONType, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class QualificationAnswers(db.Model):
    """A lead's answers to the checklist, e.g. {"Budget": true}."""

    __tablename__ = "qualification_answers"

    lead_id: Mapped[int] = mapped_column(
        sa.ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True
    )
    answers: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class HandoffState(enum.StrEnum):
    PENDING = "pending"  # waiting for its first delivery, or claimed by a worker now
    FAILED = "failed"  # the last attempt failed; retried at next_attempt_at
    DELIVERED = "delivered"
    NEEDS_ATTENTION = "needs_attention"  # a person must look: bad data or retries used up
    DISCARDED = "discarded"  # a person decided it should not be delivered

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


OPEN_HANDOFF_STATES = (HandoffState.PENDING.value, HandoffState.FAILED.value)


class Handoff(db.Model):
    """One lead on its way to one target (the pipeline database or an external CRM).

    Written in the transaction that qualifies the lead; delivered by a job. The
    target stores ``idempotency_key`` under a unique constraint, so delivering the
    same row twice finds what the first delivery made instead of making it again.
    """

    __tablename__ = "handoffs"
    __table_args__ = (
        sa.UniqueConstraint("lead_id", "target"),
        enum_check("state", tuple(s.value for s in HandoffState)),
        # The delivery job's query: due rows of one target, oldest first.
        sa.Index("ix_handoffs_due", "target", "state", "next_attempt_at", "id"),
        # The Sync page's counts and the rate budget.
        sa.Index("ix_handoffs_workspace_target_state", "workspace_id", "target", "state"),
        sa.Index("ix_handoffs_target_delivered_at", "target", "delivered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("leads.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(sa.String(40))
    idempotency_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    state: Mapped[str] = mapped_column(sa.String(20), default=HandoffState.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    external_ids: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    qualified_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    delivered_at: Mapped[datetime | None]

    @property
    def state_label(self) -> str:
        return HandoffState(self.state).label


class HandoffAttempt(db.Model):
    """The per-lead sync log: every delivery attempt and what came of it."""

    __tablename__ = "handoff_attempts"
    __table_args__ = (sa.Index("ix_handoff_attempts_handoff_id_id", "handoff_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(sa.ForeignKey("handoffs.id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(sa.String(20))
    message: Mapped[str | None] = mapped_column(sa.Text)


class CrmErasure(db.Model):
    """A delete an external target owes for an erased person: the ledger run backwards.

    Holds only the target's own ids (no personal data), claimed, retried and given
    up on exactly as hand-off rows are (sync.erasure_delivery).
    """

    __tablename__ = "crm_erasures"
    __table_args__ = (
        enum_check("state", tuple(s.value for s in HandoffState)),
        sa.Index("ix_crm_erasures_due", "target", "state", "next_attempt_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    erasure_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("lead_erasures.id", ondelete="SET NULL")
    )
    target: Mapped[str] = mapped_column(sa.String(40))
    idempotency_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    state: Mapped[str] = mapped_column(sa.String(20), default=HandoffState.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    external_ids: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    delivered_at: Mapped[datetime | None]

    @staticmethod
    def key_for(handoff_key: str) -> str:
        """The delete's key, made from the hand-off's: a receiver can match the two."""
        return f"erase-{handoff_key}"[:64]


class CrmTargetKind(enum.StrEnum):
    HUBSPOT = "hubspot"
    PIPEDRIVE = "pipedrive"
    WEBHOOK = "webhook"


class StoredCrmTarget(db.Model):
    """An external CRM a workspace hands qualified leads to, as an admin configured it.

    ``settings`` holds the token or signing secret: the pages never render it back.
    Its ledger rows are named ``crm-<id>``. ``enabled_at`` is when it last started
    taking leads: leads qualified before then are sent only when an admin asks.
    """

    __tablename__ = "crm_targets"
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "name"),
        enum_check("kind", tuple(k.value for k in CrmTargetKind)),
        # The sweep: every enabled target, whatever the workspace.
        sa.Index("ix_crm_targets_enabled", "enabled", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    kind: Mapped[str] = mapped_column(sa.String(20))
    name: Mapped[str] = mapped_column(sa.String(100))
    enabled: Mapped[bool] = mapped_column(default=False)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    field_mapping: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    enabled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def ledger_name(self) -> str:
        return f"crm-{self.id}"


class PipelineReceipt(db.Model):
    """A deal activity already applied to its lead: the inbound half of exactly once.

    Inserted in the transaction that changes the lead; a second delivery of the
    same activity conflicts on the key and changes nothing.
    """

    __tablename__ = "pipeline_receipts"

    deal_activity_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


# -- pipeline database -----------------------------------------------------------------------


class StageOutcome(enum.StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class Pipeline(db.Model):
    __bind_key__ = "pipeline"
    __tablename__ = "pipelines"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int]
    name: Mapped[str] = mapped_column(sa.String(120))
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    stages: Mapped[list[Stage]] = relationship(order_by="Stage.position")


class Stage(db.Model):
    __bind_key__ = "pipeline"
    __tablename__ = "stages"
    __table_args__ = (
        sa.UniqueConstraint("pipeline_id", "name"),
        enum_check("outcome", tuple(o.value for o in StageOutcome)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(sa.ForeignKey("pipelines.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(80))
    position: Mapped[int] = mapped_column(default=0)
    outcome: Mapped[str] = mapped_column(sa.String(10), default=StageOutcome.OPEN.value)


class Account(db.Model):
    """A company (or, for a lead without one, the person) deals are made with."""

    __bind_key__ = "pipeline"
    __tablename__ = "accounts"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "name_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int]
    name: Mapped[str] = mapped_column(sa.String(250))
    # Lower-cased name: two leads from one company share one account.
    name_key: Mapped[str] = mapped_column(sa.String(250))
    website: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Contact(db.Model):
    __bind_key__ = "pipeline"
    __tablename__ = "contacts"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "lead_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int]
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    lead_id: Mapped[int]  # the lead it came from, in the lead database
    name: Mapped[str] = mapped_column(sa.String(250))
    title: Mapped[str | None] = mapped_column(sa.String(250))
    email: Mapped[str | None] = mapped_column(sa.String(320))
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    account: Mapped[Account] = relationship()


class Deal(db.Model):
    __bind_key__ = "pipeline"
    __tablename__ = "deals"
    __table_args__ = (
        enum_check("outcome", tuple(o.value for o in StageOutcome)),
        sa.CheckConstraint("value >= 0", name="value_not_negative"),
        # The board: one pipeline's deals by stage, most recently moved first.
        sa.Index("ix_deals_pipeline_stage_updated", "pipeline_id", "stage_id", "updated_at"),
        sa.Index("ix_deals_contact_id", "contact_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int]
    handoff_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    lead_id: Mapped[int]
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"))
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id"))
    pipeline_id: Mapped[int] = mapped_column(sa.ForeignKey("pipelines.id"))
    stage_id: Mapped[int] = mapped_column(sa.ForeignKey("stages.id"))
    title: Mapped[str] = mapped_column(sa.String(250))
    value: Mapped[Decimal] = mapped_column(sa.Numeric(14, 2), default=Decimal(0))
    currency: Mapped[str] = mapped_column(sa.String(3), default="USD")
    owner_id: Mapped[int | None]  # a user of the lead database
    expected_close: Mapped[date | None]
    outcome: Mapped[str] = mapped_column(sa.String(10), default=StageOutcome.OPEN.value)
    lost_reason: Mapped[str | None] = mapped_column(sa.String(500))
    closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    account: Mapped[Account] = relationship()
    contact: Mapped[Contact] = relationship()
    stage: Mapped[Stage] = relationship()
    pipeline: Mapped[Pipeline] = relationship()


class DealActivity(db.Model):
    """What happened to a deal; rows with a lead_id flow back to the lead (the outbox).

    ``lead_synced_at`` is set once the lead side has a receipt for the row, so the
    job that carries activities back reads only the rows still to carry.
    """

    __bind_key__ = "pipeline"
    __tablename__ = "deal_activities"
    __table_args__ = (
        sa.Index("ix_deal_activities_deal_id_id", "deal_id", "id"),
        sa.Index("ix_deal_activities_unsynced", "lead_synced_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(sa.ForeignKey("deals.id", ondelete="CASCADE"))
    lead_id: Mapped[int | None]
    kind: Mapped[str] = mapped_column(sa.String(20))
    summary: Mapped[str] = mapped_column(sa.String(500))
    actor_id: Mapped[int | None]
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    lead_synced_at: Mapped[datetime | None]
