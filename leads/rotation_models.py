"""Rotation rules, their pools of reps, and each rep's availability and caps."""

from __future__ import annotations

import enum
from datetime import date, datetime, time

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models import User, enum_check, utcnow


class RotationMethod(enum.StrEnum):
    ROUND_ROBIN = "round_robin"
    WEIGHTED = "weighted"
    LEAST_LOADED = "least_loaded"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


# Lead columns a rule may test, besides a custom field named on the rule.
CONDITION_COLUMNS = ("list_id", "source", "country", "state", "time_zone")


class RotationRule(db.Model):
    """If a lead matches every condition set here, one of the pool's reps gets it.

    Rules are tried by `position`; the fallback rule catches leads no rule matched
    and leads whose rule has nobody available.
    """

    __tablename__ = "rotation_rules"
    __table_args__ = (
        enum_check("method", tuple(m.value for m in RotationMethod)),
        sa.CheckConstraint("sla_hours IS NULL OR sla_hours > 0", name="sla_hours_positive"),
        sa.CheckConstraint("max_rotations >= 0", name="max_rotations_not_negative"),
        sa.Index("ix_rotation_rules_workspace_position", "workspace_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    name: Mapped[str] = mapped_column(sa.String(120))
    position: Mapped[int] = mapped_column(default=0)
    enabled: Mapped[bool] = mapped_column(default=True)
    is_fallback: Mapped[bool] = mapped_column(default=False)
    method: Mapped[str] = mapped_column(sa.String(20), default=RotationMethod.ROUND_ROBIN.value)
    list_id: Mapped[int | None] = mapped_column(sa.ForeignKey("lead_lists.id", ondelete="CASCADE"))
    source: Mapped[str | None] = mapped_column(sa.String(120))
    country: Mapped[str | None] = mapped_column(sa.String(2))
    state: Mapped[str | None] = mapped_column(sa.String(120))
    time_zone: Mapped[str | None] = mapped_column(sa.String(64))
    field_name: Mapped[str | None] = mapped_column(sa.String(120))
    field_value: Mapped[str | None] = mapped_column(sa.String(250))
    # No activity this many hours after assignment moves the lead on; None: never.
    sla_hours: Mapped[float | None] = mapped_column(sa.Float)
    max_rotations: Mapped[int] = mapped_column(default=2)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    members: Mapped[list[RotationMember]] = relationship(
        back_populates="rule", cascade="all, delete-orphan", order_by="RotationMember.user_id"
    )

    @property
    def method_label(self) -> str:
        return RotationMethod(self.method).label


class RotationMember(db.Model):
    """A rep in a rule's pool, with a weight and how many leads the pool gave them.

    `assigned` is the rotation's memory: the next lead goes to the member furthest
    behind their share (assigned / weight), so shares are exact and survive restarts.
    """

    __tablename__ = "rotation_members"
    __table_args__ = (sa.CheckConstraint("weight > 0", name="weight_positive"),)

    rule_id: Mapped[int] = mapped_column(
        sa.ForeignKey("rotation_rules.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    weight: Mapped[float] = mapped_column(sa.Float, default=1.0)
    assigned: Mapped[int] = mapped_column(default=0)

    rule: Mapped[RotationRule] = relationship(back_populates="members")
    user: Mapped[User] = relationship()


class RepSettings(db.Model):
    """A rep's availability for rotation: on or off, working hours, caps."""

    __tablename__ = "rep_settings"
    __table_args__ = (
        sa.CheckConstraint("daily_cap IS NULL OR daily_cap >= 0", name="daily_cap_not_negative"),
        sa.CheckConstraint("open_cap IS NULL OR open_cap >= 0", name="open_cap_not_negative"),
    )

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    accepts_leads: Mapped[bool] = mapped_column(default=True)
    # Local times in the user's own time zone; both None: any hour.
    work_start: Mapped[time | None]
    work_end: Mapped[time | None]
    # ISO weekdays the rep works, "12345" for Monday to Friday.
    work_days: Mapped[str] = mapped_column(sa.String(7), default="1234567")
    daily_cap: Mapped[int | None]
    open_cap: Mapped[int | None]


class RepAwayPeriod(db.Model):
    """Days (inclusive, in the rep's time zone) a rep receives no leads."""

    __tablename__ = "rep_away_periods"
    __table_args__ = (sa.CheckConstraint("ends_on >= starts_on", name="ends_after_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    note: Mapped[str | None] = mapped_column(sa.String(200))
