"""Keeping the daily call rollups: on every recorded call, and rebuilt from the records.

Each recorded call adds itself to three rollup rows (caller, list, slot) with an
upsert in the transaction that inserts the call, so a dashboard never sees one
without the other. ``rebuild`` recomputes a workspace's rollups from the call
records with the same GROUP BY the tests compare the dashboards against.

Figures of finished UTC days are remembered (leads.metrics_cache): anything else that
changes the rollup rows of a day already ended must call ``figures_changed`` in its
transaction, as ``count_call`` (for a late call) and ``rebuild`` do.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from leads.calling_hours import Place, utc_now
from leads.dial_models import CallAttempt
from leads.metrics import CONNECTED, SUM_NAMES
from leads.metrics_cache import figures_changed, note_call
from leads.metrics_models import HOURLY, CallerDayRollup, ListDayRollup, SlotDayRollup
from leads.models import Activity, ActivityType, Lead
from leads.normalize import _zone

CONNECTED_VALUES = tuple(c.value for c in CONNECTED)


def call_facts(
    lead: Lead, caller_id: int, category: str, started: datetime, place: Place
) -> dict[str, Any]:
    """The metric columns of a call about to be recorded; run before the call is added."""
    zone = _zone(place.zones[0]) if place.zones else None
    connected = sa.func.count().filter(CallAttempt.category.in_(CONNECTED_VALUES))
    earlier, connected_before = db.session.execute(
        sa.select(sa.func.count(), connected).where(CallAttempt.lead_id == lead.id)
    ).one()
    attempt = earlier + 1
    hour = started.replace(minute=0, second=0, microsecond=0)
    busy_hour = db.session.scalar(
        sa.select(CallAttempt.id).where(
            CallAttempt.caller_id == caller_id,
            CallAttempt.started_at >= hour,
            CallAttempt.started_at < hour + timedelta(hours=1),
        ).limit(1)
    )  # fmt: skip
    weekday = started.replace(tzinfo=UTC).astimezone(zone).weekday() if zone else None
    return {
        "list_id": lead.list_id,
        "source": lead.source,
        "lead_local_weekday": weekday,
        "attempt_number": attempt,
        "first_connect": category in CONNECTED_VALUES and not connected_before,
        "speed_to_lead_seconds": _speed_to_lead(lead, started) if attempt == 1 else None,
        "opens_hour": busy_hour is None,
    }


def _speed_to_lead(lead: Lead, started: datetime) -> int | None:
    # The first assignment activity stands for "assigned" until rotation records its own.
    assigned = db.session.scalar(
        sa.select(sa.func.min(Activity.occurred_at)).where(
            Activity.lead_id == lead.id, Activity.type == ActivityType.ASSIGNMENT.value
        )
    )
    if assigned is None or assigned > started:
        return None
    return int((started - assigned).total_seconds())


def _as_int(flag: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
    return sa.case((flag, 1), else_=0)


@cache  # built once: a window's reads would otherwise build the same expressions each time
def raw_keys() -> dict[str, sa.ColumnElement[Any]]:
    """Rollup key names → the call-record expression they roll up (NULL stored as 0 / "")."""
    c = CallAttempt.__table__.c
    return {
        "caller_id": sa.func.coalesce(c.caller_id, 0),
        "list_id": sa.func.coalesce(c.list_id, 0),
        "source": sa.func.coalesce(c.source, ""),
        "outcome": c.outcome,
        "category": c.category,
        "weekday": sa.func.coalesce(c.lead_local_weekday, -1),
        "hour": sa.func.coalesce(c.lead_local_hour, -1),
    }


@cache
def raw_sums() -> dict[str, sa.ColumnElement[Any]]:
    """Aggregates over call records matching each rollup column, by name."""
    c = CallAttempt.__table__.c
    return {
        "calls": sa.func.count(),
        "talk_seconds": sa.func.coalesce(sa.func.sum(c.duration_seconds), 0),
        "active_hours": sa.func.coalesce(sa.func.sum(_as_int(c.opens_hour)), 0),
        "first_calls": sa.func.coalesce(sa.func.sum(_as_int(c.attempt_number == 1)), 0),
        "first_connects": sa.func.coalesce(sa.func.sum(_as_int(c.first_connect)), 0),
        "first_connect_attempts": sa.func.coalesce(
            sa.func.sum(sa.case((c.first_connect, c.attempt_number), else_=0)), 0
        ),
        "speed_to_lead_calls": sa.func.count(c.speed_to_lead_seconds),
        "speed_to_lead_seconds": sa.func.coalesce(sa.func.sum(c.speed_to_lead_seconds), 0),
        "connects": sa.func.coalesce(sa.func.sum(_as_int(c.category.in_(CONNECTED_VALUES))), 0),
    }


ROLLUP_KEYS = {
    CallerDayRollup: ("caller_id", "outcome", "category"),
    ListDayRollup: ("list_id", "source", "outcome", "category"),
    SlotDayRollup: ("list_id", "weekday", "hour"),
}
CALL_SUM_COLUMNS = ("calls", *SUM_NAMES)
SLOT_SUM_COLUMNS = ("calls", "connects")


def sum_columns(model: type) -> tuple[str, ...]:
    return SLOT_SUM_COLUMNS if model in (SlotDayRollup, HOURLY[SlotDayRollup]) else CALL_SUM_COLUMNS


def _call_values(call: CallAttempt) -> dict[str, Any]:
    connected = call.category in CONNECTED_VALUES
    return {
        "caller_id": call.caller_id or 0, "list_id": call.list_id or 0,
        "source": call.source or "", "outcome": call.outcome, "category": call.category,
        "weekday": -1 if call.lead_local_weekday is None else call.lead_local_weekday,
        "hour": -1 if call.lead_local_hour is None else call.lead_local_hour,
        "calls": 1, "talk_seconds": call.duration_seconds or 0,
        "active_hours": int(bool(call.opens_hour)), "first_calls": int(call.attempt_number == 1),
        "first_connects": int(bool(call.first_connect)),
        "first_connect_attempts": call.attempt_number or 0 if call.first_connect else 0,
        "speed_to_lead_calls": int(call.speed_to_lead_seconds is not None),
        "speed_to_lead_seconds": call.speed_to_lead_seconds or 0,
        "connects": int(connected),
    }  # fmt: skip


def count_call(call: CallAttempt) -> None:
    """Add a just-recorded call to its rollup rows (day, week, hour); the caller commits."""
    values = _call_values(call)
    day = call.started_at.date()
    hour = call.started_at.replace(minute=0, second=0, microsecond=0)
    connection = db.session.connection()
    dialect = connection.dialect.name
    for model, keys in ROLLUP_KEYS.items():
        row = {"workspace_id": call.workspace_id, **{name: values[name] for name in keys},
               **{name: values[name] for name in sum_columns(model)}}  # fmt: skip
        week = day - timedelta(days=day.weekday())
        days = [{**row, "span": 1, "day": day}, {**row, "span": 7, "day": week}]
        connection.execute(_upsert(model, dialect), days)
        connection.execute(_upsert(HOURLY[model], dialect), {**row, "hour_start": hour})
    note_call(call.workspace_id, call.started_at, utc_now())


@cache
def _upsert(model: Any, dialect: str) -> Any:
    """INSERT … ON CONFLICT (the row's key) DO UPDATE adding the sums, built once per table.

    Every call runs six of these: building them afresh (the ``excluded`` alias copies
    every column) cost more than the database work they do.
    """
    table, sums = model.__table__, sum_columns(model)
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    return insert.on_conflict_do_update(
        index_elements=[column.name for column in table.primary_key],
        set_={name: table.c[name] + insert.excluded[name] for name in sums},
    )


def day_of(column: sa.ColumnElement[datetime]) -> sa.ColumnElement[Any]:
    """The UTC date of a timestamp, as each database stores a Date column."""
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.cast(column, sa.Date)
    return sa.func.date(column)


def week_of(day: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The Monday starting a date's ISO week, as each database stores a Date column."""
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.cast(sa.func.date_trunc("week", day), sa.Date)
    return sa.func.date(day, "-6 days", "weekday 1")


def hour_of(column: sa.ColumnElement[datetime]) -> sa.ColumnElement[Any]:
    """A timestamp cut to its UTC hour, as each database stores a DateTime column."""
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.func.date_trunc("hour", column)
    # SQLite compares DateTime values as text: the same format SQLAlchemy stores.
    return sa.func.strftime("%Y-%m-%d %H:00:00.000000", column)


def rebuild(workspace_id: int) -> int:
    """Recompute the workspace's rollups from its call records; returns the calls counted.

    The way to bring the figures in line after call records were changed or removed by
    other means than recording a call: it also forgets every remembered figure."""
    keys, sums = raw_keys(), raw_sums()
    day = day_of(CallAttempt.started_at)
    for model, names in ROLLUP_KEYS.items():
        db.session.execute(sa.delete(model).where(model.workspace_id == workspace_id))
        columns = ["workspace_id", "span", "day", *names, *sum_columns(model)]
        select = (
            sa.select(CallAttempt.workspace_id, sa.literal(1), day, *(keys[n] for n in names),
                      *(sums[n] for n in sum_columns(model)))
            .where(CallAttempt.workspace_id == workspace_id)
            .group_by(CallAttempt.workspace_id, day, *(keys[n] for n in names))
        )  # fmt: skip
        db.session.execute(sa.insert(model).from_select(columns, select))
        week, key_columns = week_of(model.day), [getattr(model, n) for n in names]
        weeks = (
            sa.select(model.workspace_id, sa.literal(7), week, *key_columns,
                      *(sa.func.sum(getattr(model, n)) for n in sum_columns(model)))
            .where(model.workspace_id == workspace_id, model.span == 1)
            .group_by(model.workspace_id, week, *key_columns)
        )  # fmt: skip
        db.session.execute(sa.insert(model).from_select(columns, weeks))
        _rebuild_hours(HOURLY[model], workspace_id, names)
    figures_changed(workspace_id)
    return db.session.scalar(
        sa.select(sa.func.count()).where(CallAttempt.workspace_id == workspace_id)
    ) or 0  # fmt: skip


def _rebuild_hours(model: Any, workspace_id: int, names: tuple[str, ...]) -> None:
    keys, sums, hour = raw_keys(), raw_sums(), hour_of(CallAttempt.started_at)
    db.session.execute(sa.delete(model).where(model.workspace_id == workspace_id))
    select = (
        sa.select(CallAttempt.workspace_id, hour, *(keys[n] for n in names),
                  *(sums[n] for n in sum_columns(model)))
        .where(CallAttempt.workspace_id == workspace_id)
        .group_by(CallAttempt.workspace_id, hour, *(keys[n] for n in names))
    )  # fmt: skip
    columns = ["workspace_id", "hour_start", *names, *sum_columns(model)]
    db.session.execute(sa.insert(model).from_select(columns, select))
