"""The dial queue's tables: saved views, settings, outcomes, calls, callbacks, DNC audit."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models import User, enum_check, utcnow
from leads.models import JSONType, Lead


class SavedView(db.Model):
    """A named set of lead filters, private to its owner or shared with the workspace."""

    __tablename__ = "saved_views"
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "owner_id", "name"),
        sa.Index("ix_saved_views_workspace_shared", "workspace_id", "shared"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(120))
    shared: Mapped[bool] = mapped_column(default=False)
    # The leads page's query string as a dict, plus dial-only keys (attempts, outcome, field).
    filters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    owner: Mapped[User] = relationship()


class DialSettings(db.Model):
    """A workspace's dial rules; a missing row means the defaults in leads.dialing."""

    __tablename__ = "dial_settings"

    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"), primary_key=True)
    lease_minutes: Mapped[int] = mapped_column(default=5)
    recent_call_minutes: Mapped[int] = mapped_column(default=60)
    max_attempts: Mapped[int] = mapped_column(default=6)
    # Calling-hours rules (leads.calling_hours.DEFAULT_RULES has the shape); {} = defaults.
    calling_hours: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class OutcomeCategory(enum.StrEnum):
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    VOICEMAIL = "voicemail"
    WRONG_NUMBER = "wrong_number"
    GATEKEEPER = "gatekeeper"
    NOT_INTERESTED = "not_interested"
    CALL_BACK = "call_back"
    CONVERSATION = "conversation"
    MEETING_BOOKED = "meeting_booked"
    QUALIFIED = "qualified"
    DO_NOT_CALL = "do_not_call"


# The dial screen's outcome keys, in the order of the active outcomes.
SHORTCUT_KEYS = "1234567890-"


class DialOutcome(db.Model):
    """One disposition a caller can pick, with what it does to the lead."""

    __tablename__ = "dial_outcomes"
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "key"),
        enum_check("category", tuple(c.value for c in OutcomeCategory)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    key: Mapped[str] = mapped_column(sa.String(40))
    label: Mapped[str] = mapped_column(sa.String(80))
    category: Mapped[str] = mapped_column(sa.String(20))
    position: Mapped[int] = mapped_column(default=0)
    # None: the lead leaves the queue; otherwise it comes back after this many minutes.
    retry_minutes: Mapped[int | None]
    new_status: Mapped[str | None] = mapped_column(sa.String(20))
    do_not_contact: Mapped[bool] = mapped_column(default=False)
    needs_callback: Mapped[bool] = mapped_column(default=False)
    qualifies: Mapped[bool] = mapped_column(default=False)
    # A name cadences will listen for (e.g. "voicemail_left"); announced, not acted on here.
    cadence_event: Mapped[str | None] = mapped_column(sa.String(40))
    active: Mapped[bool] = mapped_column(default=True)

    @property
    def shortcut(self) -> str:
        """The key that picks this outcome on the dial screen: 1–9, then 0 and -."""
        in_range = self.active and 1 <= self.position <= len(SHORTCUT_KEYS)
        return SHORTCUT_KEYS[self.position - 1] if in_range else ""


class CallAttempt(db.Model):
    """One dialled call and its outcome: what call metrics read.

    The lease token is unique: a disposition submitted twice records one call.
    """

    __tablename__ = "call_attempts"
    __table_args__ = (
        enum_check("category", tuple(c.value for c in OutcomeCategory)),
        sa.Index("ix_call_attempts_workspace_started", "workspace_id", "started_at"),
        sa.Index("ix_call_attempts_caller_started", "caller_id", "started_at"),
        sa.Index("ix_call_attempts_lead_started", "lead_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    # Kept when the lead is deleted: call counts must not change afterwards.
    lead_id: Mapped[int | None] = mapped_column(sa.ForeignKey("leads.id", ondelete="SET NULL"))
    caller_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    lease_token: Mapped[str] = mapped_column(sa.String(32), unique=True)
    outcome: Mapped[str] = mapped_column(sa.String(40))
    category: Mapped[str] = mapped_column(sa.String(20))
    started_at: Mapped[datetime]
    duration_seconds: Mapped[int] = mapped_column(default=0)
    lead_local_hour: Mapped[int | None]
    lead_time_zone: Mapped[str | None] = mapped_column(sa.String(64))
    note: Mapped[str | None] = mapped_column(sa.Text)

    # Facts call metrics need, fixed when the call is recorded (leads.metrics_rollups):
    # the list and source stay even if the list is deleted or the lead moves.
    list_id: Mapped[int | None]
    source: Mapped[str | None] = mapped_column(sa.String(120))
    lead_local_weekday: Mapped[int | None]  # 0 = Monday
    attempt_number: Mapped[int | None]  # the lead's 1st, 2nd, … call
    first_connect: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    speed_to_lead_seconds: Mapped[int | None]  # on a lead's first call: since its assignment
    opens_hour: Mapped[bool] = mapped_column(default=False, server_default=sa.false())


class Callback(db.Model):
    """A promise to call a lead back at a set time; due ones lead their owner's queue."""

    __tablename__ = "callbacks"
    __table_args__ = (
        sa.Index(
            "ix_callbacks_open_owner_due", "owner_id", "due_at",
            sqlite_where=sa.text("done_at IS NULL"), postgresql_where=sa.text("done_at IS NULL"),
        ),
        sa.Index("ix_callbacks_lead_id", "lead_id"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("leads.id", ondelete="CASCADE"))
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    due_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(sa.String(500))
    # Set when a cadence's call step asked for the call (no foreign key: enrolments
    # live in a package above this one).
    enrollment_id: Mapped[int | None]

    lead: Mapped[Lead] = relationship()


class DncRemoval(db.Model):
    """The audit of a do-not-contact entry a manager took off the list."""

    __tablename__ = "dnc_removals"
    __table_args__ = (sa.Index("ix_dnc_removals_workspace_removed", "workspace_id", "removed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    kind: Mapped[str] = mapped_column(sa.String(10))
    value: Mapped[str] = mapped_column(sa.String(320))
    added_reason: Mapped[str | None] = mapped_column(sa.String(300))
    added_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    added_at: Mapped[datetime]
    removed_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    removed_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(sa.String(300))

    removed_by: Mapped[User | None] = relationship(foreign_keys=[removed_by_id])
