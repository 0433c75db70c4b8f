"""Tasks on a lead (social touches today; calls and generic to-dos from cadences later)
and the daily social quota of each rep."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models import enum_check, utcnow
from leads.models import Lead


class TaskKind(enum.StrEnum):
    SOCIAL = "social"
    CALL = "call"
    GENERIC = "generic"


class TaskStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    SKIPPED = "skipped"
    SNOOZED = "snoozed"
    CANCELLED = "cancelled"


# A task in one of these states is still waiting for its rep. Written out literally:
# SQLite uses a partial index only when the query repeats its condition word for word,
# which a bound parameter never does.
PENDING_SQL = "status IN ('open', 'snoozed')"


def is_pending() -> sa.ColumnElement[bool]:
    """The task is still waiting for its rep (open, or snoozed)."""
    return sa.text(f"tasks.{PENDING_SQL}")


class Network(enum.StrEnum):
    LINKEDIN = "linkedin"
    X = "x"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {"linkedin": "LinkedIn", "x": "X", "other": "Other profile"}[self.value]

    @property
    def lead_column(self) -> str:
        """The lead's column holding its profile address on this network."""
        return {"linkedin": "linkedin_url", "x": "x_url", "other": "other_profile_url"}[self.value]


class SocialAction(enum.StrEnum):
    VIEW = "view"
    CONNECT = "connect"
    MESSAGE = "message"
    COMMENT = "comment"

    @property
    def label(self) -> str:
        return {
            "view": "View profile",
            "connect": "Connect",
            "message": "Send a message",
            "comment": "Comment on a post",
        }[self.value]


class SocialOutcome(enum.StrEnum):
    DONE = "done"
    NO_PROFILE = "no_profile"
    CONNECTED = "connected"
    REPLIED = "replied"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class TaskSource(enum.StrEnum):
    MANUAL = "manual"
    BULK = "bulk"
    CADENCE = "cadence"


def _values(kind: type[enum.StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in kind)


class Task(db.Model):
    """One thing a rep should do to a lead, due at a time, done once."""

    __tablename__ = "tasks"
    __table_args__ = (
        enum_check("kind", _values(TaskKind)),
        enum_check("status", _values(TaskStatus)),
        enum_check("source", _values(TaskSource)),
        sa.CheckConstraint(
            f"network IS NULL OR network IN {_values(Network)}", name="network_valid"
        ),
        sa.CheckConstraint(
            f"action IS NULL OR action IN {_values(SocialAction)}", name="action_valid"
        ),
        sa.CheckConstraint(
            f"outcome IS NULL OR outcome IN {_values(SocialOutcome)}", name="outcome_valid"
        ),
        sa.CheckConstraint(
            "kind <> 'social' OR (network IS NOT NULL AND action IS NOT NULL)",
            name="social_has_network_and_action",
        ),
        sa.CheckConstraint(
            "status <> 'snoozed' OR snoozed_until IS NOT NULL", name="snoozed_has_until"
        ),
        # One pending task per lead, network and action: bulk creation run twice, or
        # by two people at once, adds nothing the second time.
        sa.Index(
            "uq_tasks_pending_social",
            "lead_id",
            "network",
            "action",
            unique=True,
            sqlite_where=sa.text(f"{PENDING_SQL} AND kind = 'social'"),
            postgresql_where=sa.text(f"{PENDING_SQL} AND kind = 'social'"),
        ),  # fmt: skip
        # The queue and its badge: a rep's pending tasks of a kind, soonest first.
        sa.Index(
            "ix_tasks_owner_pending",
            "owner_id",
            "kind",
            "due_at",
            sqlite_where=sa.text("status IN ('open', 'snoozed')"),
            postgresql_where=sa.text("status IN ('open', 'snoozed')"),
        ),  # fmt: skip
        # The quota: what a rep completed since local midnight.
        sa.Index("ix_tasks_owner_kind_completed_at", "owner_id", "kind", "completed_at"),
        sa.Index("ix_tasks_lead_id_status", "lead_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("leads.id", ondelete="CASCADE"))
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(sa.String(10), default=TaskKind.SOCIAL.value)
    status: Mapped[str] = mapped_column(sa.String(10), default=TaskStatus.OPEN.value)
    network: Mapped[str | None] = mapped_column(sa.String(10))
    action: Mapped[str | None] = mapped_column(sa.String(10))
    outcome: Mapped[str | None] = mapped_column(sa.String(12))
    # When the task may be served: set again when it is snoozed, so one index
    # orders open and snoozed tasks alike.
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    snoozed_until: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    source: Mapped[str] = mapped_column(sa.String(10), default=TaskSource.MANUAL.value)
    # Set by the cadence runner for tasks a cadence step created (no foreign key:
    # enrolments live in a package above this one).
    enrollment_id: Mapped[int | None]
    # What to do, for generic tasks (a cadence step's instructions, a reminder's text).
    note: Mapped[str | None] = mapped_column(sa.String(500))
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    lead: Mapped[Lead] = relationship()

    @property
    def network_label(self) -> str:
        return Network(self.network).label if self.network else ""

    @property
    def action_label(self) -> str:
        return SocialAction(self.action).label if self.action else ""

    @property
    def profile_url(self) -> str | None:
        return getattr(self.lead, Network(self.network).lead_column) if self.network else None


class SocialQuota(db.Model):
    """How many social touches a rep makes a day: a row without user is the workspace's
    default, a row with one overrides it for that rep."""

    __tablename__ = "social_quotas"
    __table_args__ = (
        sa.CheckConstraint("daily_limit >= 0 AND daily_limit <= 10000", name="daily_limit_range"),
        sa.UniqueConstraint("workspace_id", "user_id"),
        # NULLs never collide in a unique constraint: the default needs its own index.
        sa.Index(
            "uq_social_quotas_workspace_default",
            "workspace_id",
            unique=True,
            sqlite_where=sa.text("user_id IS NULL"),
            postgresql_where=sa.text("user_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    daily_limit: Mapped[int]
    updated_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
