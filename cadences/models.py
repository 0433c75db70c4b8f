"""Cadences, their steps, enrolments, step runs, senders and the template library."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models import User, enum_check, utcnow


class StepKind(enum.StrEnum):
    CALL = "call"  # a task in the owner's dial queue
    EMAIL = "email"
    SOCIAL = "social"  # a task in the owner's social queue
    TASK = "task"  # a generic task
    WAIT = "wait"

    @property
    def label(self) -> str:
        return {"social": "Social touch", "task": "Generic task"}.get(
            self.value, self.value.capitalize()
        )


TASK_KINDS = (StepKind.CALL.value, StepKind.SOCIAL.value, StepKind.TASK.value)


class WaitUnit(enum.StrEnum):
    BUSINESS_DAYS = "business_days"
    HOURS = "hours"


class EnrollmentStatus(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    FINISHED = "finished"
    EXITED = "exited"


# An enrolment in one of these holds the lead: one running cadence per lead.
RUNNING_STATUSES = (EnrollmentStatus.ACTIVE.value, EnrollmentStatus.PAUSED.value)


class ExitReason(enum.StrEnum):
    REPLIED = "replied"
    UNSUBSCRIBED = "unsubscribed"
    DO_NOT_CONTACT = "do_not_contact"
    QUALIFIED = "qualified"
    HANDED_OFF = "handed_off"
    DISQUALIFIED = "disqualified"
    BOUNCED = "bounced"
    ERASED = "erased"
    REMOVED = "removed"  # taken out by a person


class RunStatus(enum.StrEnum):
    """A step run's life; ``sending`` is the only state in which SMTP may be talking."""

    SENDING = "sending"
    RETRY = "retry"  # SMTP refused or was unreachable; the message was not accepted
    SENT = "sent"
    HELD = "held"  # an email waiting for the rep's review
    DONE = "done"  # a task created or a wait started
    SKIPPED = "skipped"  # the lead lacks what the step needs
    UNCONFIRMED = "unconfirmed"  # the worker died while SMTP talked; never resent
    BOUNCED = "bounced"
    CANCELLED = "cancelled"  # the lead stopped being contactable before the send


class Cadence(db.Model):
    __tablename__ = "cadences"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    name: Mapped[str] = mapped_column(sa.String(200))
    paused: Mapped[bool] = mapped_column(default=False)
    sender_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("mail_senders.id", ondelete="SET NULL")
    )
    # Leads an import adds to this list are enrolled when the import finishes.
    auto_enroll_list_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("lead_lists.id", ondelete="SET NULL")
    )
    # Local time of the lead when the lead has no zone of its own.
    default_time_zone: Mapped[str] = mapped_column(sa.String(64), default="America/New_York")
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    steps: Mapped[list[CadenceStep]] = relationship(
        order_by="CadenceStep.position", cascade="all, delete-orphan", back_populates="cadence"
    )
    sender: Mapped[MailSender | None] = relationship()
    assign_rule: Mapped[AssignRule | None] = relationship(cascade="all, delete-orphan")


class AssignRule(db.Model):
    """Enrol a lead in the cadence when it is assigned to a rep and matches the rule.

    Empty fields match every lead. Deleting the list or team deletes the rule, so it
    never silently widens to every lead.
    """

    __tablename__ = "cadence_assign_rules"

    cadence_id: Mapped[int] = mapped_column(
        sa.ForeignKey("cadences.id", ondelete="CASCADE"), primary_key=True
    )
    list_id: Mapped[int | None] = mapped_column(sa.ForeignKey("lead_lists.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(sa.ForeignKey("teams.id", ondelete="CASCADE"))


class CadenceStep(db.Model):
    __tablename__ = "cadence_steps"
    __table_args__ = (
        enum_check("kind", tuple(k.value for k in StepKind)),
        enum_check("wait_unit", tuple(u.value for u in WaitUnit)),
        sa.CheckConstraint("wait_amount > 0", name="wait_amount_positive"),
        sa.Index("ix_cadence_steps_cadence_id_position", "cadence_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cadence_id: Mapped[int] = mapped_column(sa.ForeignKey("cadences.id", ondelete="CASCADE"))
    position: Mapped[int]
    kind: Mapped[str] = mapped_column(sa.String(10))
    wait_amount: Mapped[int] = mapped_column(default=1)
    wait_unit: Mapped[str] = mapped_column(sa.String(16), default=WaitUnit.BUSINESS_DAYS.value)
    # Minutes after local midnight; the step waits for this window in the lead's zone.
    window_start: Mapped[int] = mapped_column(default=8 * 60)
    window_end: Mapped[int] = mapped_column(default=18 * 60)
    business_days_only: Mapped[bool] = mapped_column(default=True)
    hold_for_review: Mapped[bool] = mapped_column(default=False)
    instructions: Mapped[str | None] = mapped_column(sa.Text)
    # Social steps: the network to work on (None: the lead's first usable profile) and
    # the action asked for (None: view the profile). Checked by the builder.
    network: Mapped[str | None] = mapped_column(sa.String(10))
    social_action: Mapped[str | None] = mapped_column(sa.String(10))

    cadence: Mapped[Cadence] = relationship(back_populates="steps")
    variants: Mapped[list[EmailVariant]] = relationship(
        order_by="EmailVariant.label", cascade="all, delete-orphan"
    )

    @property
    def kind_label(self) -> str:
        return StepKind(self.kind).label


class EmailVariant(db.Model):
    """One version (A, B, …) of an email step; enrolments are split evenly between them."""

    __tablename__ = "cadence_email_variants"
    __table_args__ = (sa.UniqueConstraint("step_id", "label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(sa.ForeignKey("cadence_steps.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(sa.String(4))
    subject: Mapped[str] = mapped_column(sa.String(500))
    body: Mapped[str] = mapped_column(sa.Text)


class Enrollment(db.Model):
    """A lead going through a cadence; ``position`` and ``due_at`` are the runner's truth."""

    __tablename__ = "cadence_enrollments"
    __table_args__ = (
        enum_check("status", tuple(s.value for s in EnrollmentStatus)),
        enum_check("exit_reason", tuple(r.value for r in ExitReason)),
        # One running cadence per lead, decided by the database.
        sa.Index(
            "uq_cadence_enrollments_running_lead",
            "lead_id",
            unique=True,
            sqlite_where=sa.text("status IN ('active', 'paused')"),
            postgresql_where=sa.text("status IN ('active', 'paused')"),
        ),
        # The tick's query: active enrolments by due time, nothing else in the index.
        sa.Index(
            "ix_cadence_enrollments_due",
            "due_at",
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        ),
        sa.Index("ix_cadence_enrollments_cadence_id_status", "cadence_id", "status"),
        sa.Index("ix_cadence_enrollments_owner_id_enrolled_at", "owner_id", "enrolled_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cadence_id: Mapped[int] = mapped_column(sa.ForeignKey("cadences.id", ondelete="CASCADE"))
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("leads.id", ondelete="CASCADE"))
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(sa.String(10), default=EnrollmentStatus.ACTIVE.value)
    exit_reason: Mapped[str | None] = mapped_column(sa.String(20))
    position: Mapped[int] = mapped_column(default=0)
    due_at: Mapped[datetime | None]
    # Set by the tick when it hands the enrolment to a job; a lost job's lease runs out
    # and the next tick picks the enrolment again (Redis may forget, SQL does not).
    lease_until: Mapped[datetime | None]
    variant_seed: Mapped[int] = mapped_column(default=0)
    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]

    cadence: Mapped[Cadence] = relationship()
    owner: Mapped[User | None] = relationship()


class StepRun(db.Model):
    """The one run of a step for an enrolment: the unique row is the claim."""

    __tablename__ = "cadence_step_runs"
    __table_args__ = (
        sa.UniqueConstraint("enrollment_id", "step_id"),
        enum_check("status", tuple(s.value for s in RunStatus)),
        sa.Index("ix_cadence_step_runs_step_id_status", "step_id", "status"),
        sa.Index("ix_cadence_step_runs_sender_started", "sender_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("cadence_enrollments.id", ondelete="CASCADE")
    )
    step_id: Mapped[int] = mapped_column(sa.ForeignKey("cadence_steps.id", ondelete="CASCADE"))
    lead_id: Mapped[int] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(sa.String(12))
    variant_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("cadence_email_variants.id", ondelete="SET NULL")
    )
    sender_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("mail_senders.id", ondelete="SET NULL")
    )
    message_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    # The link in the message; random and stored, so no secret rotation can break it.
    unsubscribe_token: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    replied_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]


class MailSender(db.Model):
    """An SMTP account a cadence sends from, with its postal address and send limits."""

    __tablename__ = "mail_senders"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "from_email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    from_name: Mapped[str] = mapped_column(sa.String(200))
    from_email: Mapped[str] = mapped_column(sa.String(320))
    postal_address: Mapped[str] = mapped_column(sa.String(500))
    smtp_host: Mapped[str] = mapped_column(sa.String(255))
    smtp_port: Mapped[int] = mapped_column(default=587)
    smtp_username: Mapped[str | None] = mapped_column(sa.String(320))
    smtp_password: Mapped[str | None] = mapped_column(sa.String(500))
    starttls: Mapped[bool] = mapped_column(default=True)
    max_per_hour: Mapped[int] = mapped_column(default=100)
    max_per_day: Mapped[int] = mapped_column(default=500)


class EmailTemplate(db.Model):
    """A reusable subject and body in the library."""

    __tablename__ = "cadence_email_templates"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    name: Mapped[str] = mapped_column(sa.String(200))
    subject: Mapped[str] = mapped_column(sa.String(500))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Holiday(db.Model):
    """A day that is not a business day for the workspace's cadences."""

    __tablename__ = "cadence_holidays"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    day: Mapped[date]
    name: Mapped[str] = mapped_column(sa.String(120), default="")


class ReminderKind(enum.StrEnum):
    BIRTHDAY = "birthday"
    FOLLOW_UP = "follow_up"


class Reminder(db.Model):
    """A dated nudge for the lead's owner; the unique (lead, kind, day) row makes it once."""

    __tablename__ = "cadence_reminders"
    __table_args__ = (
        sa.UniqueConstraint("lead_id", "kind", "day"),
        enum_check("kind", tuple(k.value for k in ReminderKind)),
        sa.Index(
            "ix_cadence_reminders_due",
            "due_at",
            sqlite_where=sa.text("announced_at IS NULL"),
            postgresql_where=sa.text("announced_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("leads.id", ondelete="CASCADE"))
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(sa.String(10))
    day: Mapped[date]
    due_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    announced_at: Mapped[datetime | None]


class BirthdayMode(enum.StrEnum):
    TASK = "task"
    EMAIL = "email"


class BirthdaySettings(db.Model):
    """What a workspace does on a lead's birthday; no row means a task for the owner."""

    __tablename__ = "cadence_birthday_settings"
    __table_args__ = (
        enum_check("mode", tuple(m.value for m in BirthdayMode)),
        sa.CheckConstraint(
            "mode = 'task' OR (template_id IS NOT NULL AND sender_id IS NOT NULL)",
            name="email_complete",
        ),
    )

    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"), primary_key=True)
    mode: Mapped[str] = mapped_column(sa.String(10), default=BirthdayMode.TASK.value)
    template_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cadence_email_templates.id"))
    sender_id: Mapped[int | None] = mapped_column(sa.ForeignKey("mail_senders.id"))


class BirthdayEmailStatus(enum.StrEnum):
    DUE = "due"
    SENDING = "sending"
    RETRY = "retry"
    SENT = "sent"
    UNCONFIRMED = "unconfirmed"
    BOUNCED = "bounced"
    CANCELLED = "cancelled"  # not contactable (or no address) when its turn came


class BirthdayEmail(db.Model):
    """The one birthday email of a reminder: the reminder's row makes it once a year,
    this row's status makes the send at most once (as a step run does)."""

    __tablename__ = "cadence_birthday_emails"
    __table_args__ = (
        enum_check("status", tuple(s.value for s in BirthdayEmailStatus)),
        sa.Index(
            "ix_cadence_birthday_emails_pending",
            "due_at",
            sqlite_where=sa.text("status IN ('due', 'retry')"),
            postgresql_where=sa.text("status IN ('due', 'retry')"),
        ),
    )

    reminder_id: Mapped[int] = mapped_column(
        sa.ForeignKey("cadence_reminders.id", ondelete="CASCADE"), primary_key=True
    )
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(sa.String(12))
    template_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("cadence_email_templates.id", ondelete="SET NULL")
    )
    sender_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("mail_senders.id", ondelete="SET NULL")
    )
    message_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    unsubscribe_token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    due_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
