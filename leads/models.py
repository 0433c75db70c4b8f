"""Leads, lead lists and the activity timeline."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models import User, enum_check, utcnow


class LeadStatus(enum.StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    CONNECTED = "connected"
    QUALIFIED = "qualified"
    HANDED_OFF = "handed_off"
    # Set by the pipeline when the lead's deal is won or lost.
    WON = "won"
    LOST = "lost"
    DISQUALIFIED = "disqualified"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class ActivityType(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    NOTE = "note"
    CALL = "call"
    EMAIL = "email"
    SOCIAL_TOUCH = "social_touch"
    ASSIGNMENT = "assignment"
    STATUS_CHANGE = "status_change"
    STAGE_CHANGE = "stage_change"
    IMPORTED = "imported"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


# JSON on PostgreSQL is stored as JSONB so later issues can index custom fields.
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def display_name(lead: Any) -> str:
    """How a lead is called on screen: its name, else its company, email or phone."""
    name = lead.full_name or " ".join(p for p in (lead.first_name, lead.last_name) if p)
    return name or lead.company or lead.email or lead.phone_raw or f"Lead #{lead.id}"


# Claim-next walks only the rows still in the queue: a plain index would make every
# claim step over all the leads already worked (64 ms a claim after 50k calls versus
# 18 µs). The predicates are literal SQL so a query repeating them can use the index.
FRESH_PREDICATE = "dial_attempts = 0 AND dial_done = false"
RETRY_PREDICATE = "dial_attempts > 0 AND dial_done = false"
DIAL_QUEUE_INDEXES = (
    sa.Index(
        "ix_leads_dial_fresh_owner", "workspace_id", "owner_id", "id",
        sqlite_where=sa.text(FRESH_PREDICATE), postgresql_where=sa.text(FRESH_PREDICATE),
    ),
    sa.Index(
        "ix_leads_dial_fresh", "workspace_id", "id",
        sqlite_where=sa.text(FRESH_PREDICATE), postgresql_where=sa.text(FRESH_PREDICATE),
    ),
    sa.Index(
        "ix_leads_dial_retry_owner", "workspace_id", "owner_id", "dial_next_at",
        sqlite_where=sa.text(RETRY_PREDICATE), postgresql_where=sa.text(RETRY_PREDICATE),
    ),
    sa.Index(
        "ix_leads_dial_retry", "workspace_id", "dial_next_at",
        sqlite_where=sa.text(RETRY_PREDICATE), postgresql_where=sa.text(RETRY_PREDICATE),
    ),
    sa.Index("ix_leads_dial_lease_token", "dial_lease_token", unique=True),
    # Who holds what: only leased rows are in it.
    sa.Index(
        "ix_leads_dial_leased_by", "dial_leased_by_id",
        sqlite_where=sa.text("dial_leased_by_id IS NOT NULL"),
        postgresql_where=sa.text("dial_leased_by_id IS NOT NULL"),
    ),
)  # fmt: skip


class LeadList(db.Model):
    __tablename__ = "lead_lists"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.Text)
    call_script: Mapped[str | None] = mapped_column(sa.Text)
    # The secret in this list's public capture form and API URL; None turns capture off.
    capture_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Lead(db.Model):
    __tablename__ = "leads"
    __table_args__ = (
        # Dedupe lives in the database: two concurrent writers cannot both insert
        # the same person. NULLs never collide, so leads without one are fine.
        sa.UniqueConstraint("workspace_id", "phone_e164"),
        sa.UniqueConstraint("workspace_id", "email_key"),
        sa.UniqueConstraint("workspace_id", "external_id"),
        enum_check("status", tuple(s.value for s in LeadStatus)),
        # The leads page sorts newest first within a workspace, optionally filtered;
        # each index serves one filter with the same order so a page is a range scan.
        sa.Index("ix_leads_workspace_id_id", "workspace_id", "id"),
        sa.Index("ix_leads_workspace_status_id", "workspace_id", "status", "id"),
        sa.Index("ix_leads_workspace_owner_id", "workspace_id", "owner_id", "id"),
        sa.Index("ix_leads_workspace_list_id", "workspace_id", "list_id", "id"),
        sa.Index("ix_leads_workspace_time_zone_id", "workspace_id", "time_zone", "id"),
        # Rotation: the managers' escalation queue. The SLA sweep reads a workspace's
        # leads without an index of its own: one on assigned_at made every assignment
        # three times as slow (measured: 1.0 s against 3.0 s per 50,000 leads).
        sa.Index("ix_leads_workspace_escalated_at", "workspace_id", "escalated_at"),
        # Prefix search on names (see leads.queries.NAME_SEARCH_COLUMNS).
        *(
            sa.Index(f"ix_leads_search_{name}", "workspace_id", sa.func.lower(sa.text(name)))
            for name in ("first_name", "last_name", "full_name", "company")
        ),
        *DIAL_QUEUE_INDEXES,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    first_name: Mapped[str | None] = mapped_column(sa.String(120))
    last_name: Mapped[str | None] = mapped_column(sa.String(120))
    full_name: Mapped[str | None] = mapped_column(sa.String(250))
    company: Mapped[str | None] = mapped_column(sa.String(250))
    title: Mapped[str | None] = mapped_column(sa.String(250))

    phone_raw: Mapped[str | None] = mapped_column(sa.String(64))
    phone_e164: Mapped[str | None] = mapped_column(sa.String(20))
    phone_extension: Mapped[str | None] = mapped_column(sa.String(16))
    phone_region: Mapped[str | None] = mapped_column(sa.String(2))
    phone_type: Mapped[str | None] = mapped_column(sa.String(32))
    # Every zone the number may ring in; `time_zone` is the first, for filtering.
    phone_time_zones: Mapped[list[str]] = mapped_column(JSONType, default=list)
    time_zone: Mapped[str | None] = mapped_column(sa.String(64))
    diallable: Mapped[bool] = mapped_column(default=False)
    # Further numbers (mobile, other) as [{"kind", "raw", "e164", "extension"}]; the
    # primary phone above is the one dialled and deduplicated on.
    other_phones: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)

    email_raw: Mapped[str | None] = mapped_column(sa.String(320))
    email: Mapped[str | None] = mapped_column(sa.String(320))
    email_key: Mapped[str | None] = mapped_column(sa.String(320))
    email_valid: Mapped[bool] = mapped_column(default=False)

    website: Mapped[str | None] = mapped_column(sa.String(500))
    linkedin_url: Mapped[str | None] = mapped_column(sa.String(500))
    x_url: Mapped[str | None] = mapped_column(sa.String(500))
    other_profile_url: Mapped[str | None] = mapped_column(sa.String(500))
    city: Mapped[str | None] = mapped_column(sa.String(120))
    state: Mapped[str | None] = mapped_column(sa.String(120))
    country: Mapped[str | None] = mapped_column(sa.String(2))
    birthday: Mapped[date | None]
    notes: Mapped[str | None] = mapped_column(sa.Text)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    status: Mapped[str] = mapped_column(sa.String(20), default=LeadStatus.NEW.value)
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    list_id: Mapped[int | None] = mapped_column(sa.ForeignKey("lead_lists.id", ondelete="SET NULL"))
    source: Mapped[str | None] = mapped_column(sa.String(120))
    external_id: Mapped[str | None] = mapped_column(sa.String(200))
    # Set while the import that created the lead is running: such leads stay out of
    # every view until the import finishes, so a crashed import shows nothing half-done.
    pending_import_id: Mapped[int | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    # Rotation (leads.rotation): when the owner got the lead, through which rule,
    # how often the SLA sweep moved it on, and when it went to the managers instead.
    # No foreign key on the rule: SQLite cannot add one to an existing table without
    # rebuilding it; deleting a rule clears the column itself (leads.rotation_rules).
    assigned_at: Mapped[datetime | None]
    rotation_rule_id: Mapped[int | None]
    rotation_count: Mapped[int] = mapped_column(default=0, server_default="0")
    escalated_at: Mapped[datetime | None]
    # The dial queue's state (leads.dialing). The lease token is handed to the
    # caller who holds the lead and names the claim a disposition answers.
    dial_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    dial_last_outcome: Mapped[str | None] = mapped_column(sa.String(40))
    dial_last_called_at: Mapped[datetime | None]
    dial_next_at: Mapped[datetime | None]
    dial_done: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    dial_lease_token: Mapped[str | None] = mapped_column(sa.String(32))
    # No foreign key: SQLite cannot add one to the existing table (see migration 0007_dialing).
    dial_leased_by_id: Mapped[int | None]
    dial_lease_until: Mapped[datetime | None]

    owner: Mapped[User | None] = relationship()
    lead_list: Mapped[LeadList | None] = relationship()

    @property
    def display_name(self) -> str:
        return display_name(self)

    @property
    def status_label(self) -> str:
        return LeadStatus(self.status).label


class Activity(db.Model):
    """One thing that happened to a lead: the timeline, the audit trail and the metrics source."""

    __tablename__ = "activities"
    __table_args__ = (
        enum_check("type", tuple(t.value for t in ActivityType)),
        sa.Index("ix_activities_lead_id_occurred_at", "lead_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("leads.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(sa.String(20))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    summary: Mapped[str] = mapped_column(sa.String(500))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    actor: Mapped[User | None] = relationship()

    @property
    def type_label(self) -> str:
        return ActivityType(self.type).label


class ContactKind(enum.StrEnum):
    PHONE = "phone"
    EMAIL = "email"


class DoNotContact(db.Model):
    """A phone number or email address nobody may contact, whichever lead carries it.

    Keyed by the normalized value, not by lead, so it outlives deleted leads and
    stops future imports too.
    """

    __tablename__ = "do_not_contact"
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "kind", "value"),
        enum_check("kind", tuple(k.value for k in ContactKind)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    kind: Mapped[str] = mapped_column(sa.String(10))
    value: Mapped[str] = mapped_column(sa.String(320))
    reason: Mapped[str | None] = mapped_column(sa.String(300))
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ImportStatus(enum.StrEnum):
    UPLOADED = "uploaded"  # stored and sniffed; the marketer is mapping columns
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNDOING = "undoing"
    UNDONE = "undone"

    @property
    def label(self) -> str:
        return self.value.capitalize()


ACTIVE_IMPORT_STATUSES = (
    ImportStatus.QUEUED.value, ImportStatus.RUNNING.value, ImportStatus.UNDOING.value,
)  # fmt: skip


class DuplicatePolicy(enum.StrEnum):
    """What an imported row does to the lead it duplicates."""

    SKIP = "skip"
    FILL = "fill"  # only fields that are empty on the lead
    OVERWRITE = "overwrite"


class SuppressionPolicy(enum.StrEnum):
    """What happens to rows on the do-not-contact list."""

    SUPPRESS = "suppress"  # imported; the list keeps them out of every queue
    SKIP = "skip"


class ImportRun(db.Model):
    """One uploaded file and what importing it did; SQL holds the truth, not Redis."""

    __tablename__ = "import_runs"
    __table_args__ = (
        enum_check("status", tuple(s.value for s in ImportStatus)),
        enum_check("duplicate_policy", tuple(p.value for p in DuplicatePolicy)),
        enum_check("suppression_policy", tuple(p.value for p in SuppressionPolicy)),
        sa.Index("ix_import_runs_workspace_id_id", "workspace_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(sa.String(20), default=ImportStatus.UPLOADED.value)
    original_name: Mapped[str] = mapped_column(sa.String(255))
    # A generated name under instance/imports/: never derived from user input, never served.
    stored_name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    file_size: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    source_format: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    mapping: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    default_region: Mapped[str] = mapped_column(sa.String(2), default="US")
    duplicate_policy: Mapped[str] = mapped_column(sa.String(10), default=DuplicatePolicy.SKIP.value)
    suppression_policy: Mapped[str] = mapped_column(
        sa.String(10), default=SuppressionPolicy.SUPPRESS.value
    )
    list_id: Mapped[int | None] = mapped_column(sa.ForeignKey("lead_lists.id", ondelete="SET NULL"))
    source: Mapped[str | None] = mapped_column(sa.String(120))
    total_estimate: Mapped[int | None]
    # `processed` is also the resume cursor: records before it are done for good.
    processed: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    suppressed: Mapped[int] = mapped_column(default=0)
    errors: Mapped[int] = mapped_column(default=0)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    undo_report: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    created_by: Mapped[User | None] = relationship()
    lead_list: Mapped[LeadList | None] = relationship()

    @property
    def status_label(self) -> str:
        return ImportStatus(self.status).label

    @property
    def finished(self) -> bool:
        return self.status not in (ImportStatus.UPLOADED, *ACTIVE_IMPORT_STATUSES)


class ImportChange(db.Model):
    """What an import did to one lead, so it can be undone exactly.

    `before` holds the fields an update replaced, with their old values; `stamp` is
    the updated_at the import wrote, so undo can tell whether anyone touched the
    lead since.
    """

    __tablename__ = "import_changes"
    __table_args__ = (
        sa.UniqueConstraint("import_run_id", "lead_id"),
        enum_check("action", ("created", "updated")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    import_run_id: Mapped[int] = mapped_column(
        sa.ForeignKey("import_runs.id", ondelete="CASCADE"), index=True
    )
    lead_id: Mapped[int] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(sa.String(10))
    before: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    stamp: Mapped[datetime]


class ImportRowError(db.Model):
    """A rejected row with its line and reason: the downloadable error file."""

    __tablename__ = "import_row_errors"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_run_id: Mapped[int] = mapped_column(
        sa.ForeignKey("import_runs.id", ondelete="CASCADE"), index=True
    )
    line: Mapped[int]
    raw: Mapped[str] = mapped_column(sa.Text)
    reason: Mapped[str] = mapped_column(sa.String(500))


class MappingTemplate(db.Model):
    """A saved column mapping a marketer reuses for files from the same source."""

    __tablename__ = "mapping_templates"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    name: Mapped[str] = mapped_column(sa.String(120))
    mapping: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LeadConsent(db.Model):
    """Proof of a lead's consent: the exact text agreed to, when, from where."""

    __tablename__ = "lead_consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    list_id: Mapped[int | None] = mapped_column(sa.ForeignKey("lead_lists.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(sa.Text)
    given_at: Mapped[datetime] = mapped_column(default=utcnow)
    ip_address: Mapped[str | None] = mapped_column(sa.String(64))
    source_url: Mapped[str | None] = mapped_column(sa.String(500))
    user_agent: Mapped[str | None] = mapped_column(sa.String(300))
