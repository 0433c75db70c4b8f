"""Call metrics' tables: daily and hourly rollups of the call records, and goals.

A rollup row sums the calls that share its key over one UTC day (``span`` 1) or one
ISO week, Monday to Sunday (``span`` 7, ``day`` its Monday): a 90-day period reads
about a dozen weeks and a dozen days instead of 90 days. The hourly rollups (one row
per UTC hour and key) serve the ragged edges of a period in the viewer's zone, which
start and end inside a UTC day. Missing keys are stored as 0 (no caller, no list) or
"" (no source), never NULL, because a unique key with a NULL in it never collides and
the upsert would add rows instead of counting into one.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models import Team, User, enum_check, utcnow
from leads.dial_models import CallAttempt, Callback
from leads.metrics import SUM_NAMES

# Drill-downs and raw windows read the call records by these (besides dial_models' own).
CALL_METRIC_INDEXES = (
    # Covers the raw GROUP BY over a window's ragged edges: every column a rollup sums
    # or keys on, so up to a day of calls is read from the index alone, in time order.
    sa.Index("ix_call_attempts_metrics_window", *(getattr(CallAttempt, name) for name in (
        "workspace_id", "started_at", "caller_id", "category", "outcome", "list_id", "source",
        "lead_local_weekday", "lead_local_hour", "duration_seconds", "opens_hour",
        "attempt_number", "first_connect", "speed_to_lead_seconds",
    ))),
    sa.Index("ix_call_attempts_list_started", CallAttempt.workspace_id, CallAttempt.list_id,
             CallAttempt.started_at),
    sa.Index("ix_call_attempts_source_started", CallAttempt.workspace_id, CallAttempt.source,
             CallAttempt.started_at),
    sa.Index("ix_callbacks_owner_due", Callback.owner_id, Callback.due_at),
)  # fmt: skip


class _CallSums:
    """The additive figures every call rollup keeps."""

    calls: Mapped[int] = mapped_column(default=0)
    talk_seconds: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    active_hours: Mapped[int] = mapped_column(default=0)
    first_calls: Mapped[int] = mapped_column(default=0)
    first_connects: Mapped[int] = mapped_column(default=0)
    first_connect_attempts: Mapped[int] = mapped_column(default=0)
    speed_to_lead_calls: Mapped[int] = mapped_column(default=0)
    speed_to_lead_seconds: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class CallerDayRollup(_CallSums, db.Model):
    """Calls per UTC day × caller × outcome: leaderboards, rep and outcome breakdowns."""

    __tablename__ = "call_caller_day_rollups"
    __table_args__ = (
        # One caller's days (their own dashboard, goals). Covering: a secondary index that
        # needs look-ups loses to the key's day range, which reads every caller's rows.
        sa.Index(
            "ix_call_caller_day_rollups_caller",
            "workspace_id",
            "caller_id",
            "span",
            "day",
            "outcome",
            "category",
            "calls",
            *SUM_NAMES,
        ),
        # Clustered on the key: a day range is one contiguous read, no row look-ups.
        {"sqlite_with_rowid": False},
    )

    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"), primary_key=True)
    span: Mapped[int] = mapped_column(primary_key=True)  # days: 1 or 7
    day: Mapped[date] = mapped_column(primary_key=True)
    caller_id: Mapped[int] = mapped_column(primary_key=True)
    outcome: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    category: Mapped[str] = mapped_column(sa.String(20), primary_key=True)


class ListDayRollup(_CallSums, db.Model):
    """Calls per UTC day × list × source × outcome: the marketer's view."""

    __tablename__ = "call_list_day_rollups"
    __table_args__ = ({"sqlite_with_rowid": False},)

    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"), primary_key=True)
    span: Mapped[int] = mapped_column(primary_key=True)  # days: 1 or 7
    day: Mapped[date] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    outcome: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    category: Mapped[str] = mapped_column(sa.String(20), primary_key=True)


class SlotDayRollup(db.Model):
    """Calls and connects per UTC day × list × the lead's local weekday and hour: the heatmap."""

    __tablename__ = "call_slot_day_rollups"
    __table_args__ = ({"sqlite_with_rowid": False},)

    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"), primary_key=True)
    span: Mapped[int] = mapped_column(primary_key=True)  # days: 1 or 7
    day: Mapped[date] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(primary_key=True)
    weekday: Mapped[int] = mapped_column(primary_key=True)
    hour: Mapped[int] = mapped_column(primary_key=True)
    calls: Mapped[int] = mapped_column(default=0)
    connects: Mapped[int] = mapped_column(default=0)


class CallerHourRollup(_CallSums, db.Model):
    """Calls per UTC hour × caller × outcome: the whole hours of a period's ragged edges."""

    __tablename__ = "call_caller_hour_rollups"
    __table_args__ = ({"sqlite_with_rowid": False},)

    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"), primary_key=True)
    hour_start: Mapped[datetime] = mapped_column(primary_key=True)
    caller_id: Mapped[int] = mapped_column(primary_key=True)
    outcome: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    category: Mapped[str] = mapped_column(sa.String(20), primary_key=True)


class ListHourRollup(_CallSums, db.Model):
    """Calls per UTC hour × list × source × outcome."""

    __tablename__ = "call_list_hour_rollups"
    __table_args__ = ({"sqlite_with_rowid": False},)

    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"), primary_key=True)
    hour_start: Mapped[datetime] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    outcome: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    category: Mapped[str] = mapped_column(sa.String(20), primary_key=True)


class SlotHourRollup(db.Model):
    """Calls and connects per UTC hour × list × the lead's local weekday and hour."""

    __tablename__ = "call_slot_hour_rollups"
    __table_args__ = ({"sqlite_with_rowid": False},)

    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"), primary_key=True)
    hour_start: Mapped[datetime] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(primary_key=True)
    weekday: Mapped[int] = mapped_column(primary_key=True)
    hour: Mapped[int] = mapped_column(primary_key=True)
    calls: Mapped[int] = mapped_column(default=0)
    connects: Mapped[int] = mapped_column(default=0)


class RollupVersion(db.Model):
    """Names the state of a workspace's finished days: a new token whenever a call lands in
    a UTC day that has already ended (or the rollups are rebuilt), so figures cached for
    finished days (leads.metrics_cache) are never served after they changed."""

    __tablename__ = "metric_rollup_versions"

    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"), primary_key=True)
    # Random rather than a counter: a cache key from another database (a restored backup,
    # a test's fresh one) with the same workspace id can never match it.
    token: Mapped[str] = mapped_column(sa.String(32))


# The hourly rollup standing beside each daily one, with the same keys and sums.
HOURLY = {CallerDayRollup: CallerHourRollup, ListDayRollup: ListHourRollup,
          SlotDayRollup: SlotHourRollup}  # fmt: skip


class GoalMetric(enum.StrEnum):
    DIALS = "dials"
    CONVERSATIONS = "conversations"
    QUALIFIED = "qualified"
    WON_VALUE = "won_value"

    @property
    def label(self) -> str:
        return "Won deal value" if self is GoalMetric.WON_VALUE else self.value.capitalize()


class GoalCadence(enum.StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


class Goal(db.Model):
    """A daily or weekly target for one rep, one team, or (neither set) the whole workspace."""

    __tablename__ = "metric_goals"
    __table_args__ = (
        enum_check("metric", tuple(m.value for m in GoalMetric)),
        enum_check("cadence", tuple(c.value for c in GoalCadence)),
        sa.CheckConstraint("target > 0", name="target_positive"),
        sa.CheckConstraint("user_id IS NULL OR team_id IS NULL", name="one_subject"),
        sa.Index("ix_metric_goals_workspace_user", "workspace_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(sa.ForeignKey("teams.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(sa.String(20))
    cadence: Mapped[str] = mapped_column(sa.String(10))
    target: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User | None] = relationship()
    team: Mapped[Team | None] = relationship()

    @property
    def subject(self) -> str:
        if self.user is not None:
            return self.user.name
        return f"Team {self.team.name}" if self.team is not None else "Whole workspace"
