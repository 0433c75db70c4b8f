"""Reading call metrics: rollups for whole UTC days and hours, call records for the rest.

A period in the viewer's zone rarely starts on a UTC midnight, so a window is split
(``Window.split``): whole UTC days come from a daily rollup, and the under-a-day
edges are split again (``Window.split_hours``): their whole UTC hours come from an
hourly rollup, and what is left (under an hour each, for half-hour zones and "now")
from the call records through the covering ``ix_call_attempts_metrics_window`` index.
An edge longer than half a day is read as its UTC day's rollup less the hours and
minutes outside it (sums subtract exactly), so no edge reads more than 12 hours.
A read filtered on one caller or list takes the edges from the records, through that
caller's or list's own index, which beats scanning every key's hourly rows. All parts
give the same sums as one GROUP BY over the records would; the tests compare them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from leads.calling_hours import utc_now
from leads.dial_models import CallAttempt, Callback
from leads.metrics import CALLBACK_GRACE, SUM_NAMES, Callbacks, Tally
from leads.metrics_cache import finished_until, remembered, rollup_token
from leads.metrics_models import HOURLY, CallerDayRollup, ListDayRollup, SlotDayRollup
from leads.metrics_periods import Period, Window
from leads.metrics_rollups import raw_keys, raw_sums, sum_columns

Key = tuple[Any, ...]
Sums = dict[Key, dict[str, int]]


def _filters(model: Any, where: dict[str, Any]) -> list[sa.ColumnElement[bool]]:
    return [model.__table__.c[name] == value for name, value in where.items()]


def _rollup_rows(model: Any, by: Sequence[str], *conditions: sa.ColumnElement[bool]) -> sa.Select:
    """A rollup's rows in a range, as they are: ``grouped`` adds all parts up in one GROUP BY,
    so grouping each part first would only sort the same rows twice."""
    # Table columns, not the mapped attributes: a Core statement skips the ORM's per-statement
    # set-up, which cost more than the database's work for a read of a few days.
    table = model.__table__.c
    columns = [table[name] for name in by]
    sums = [table[name] for name in sum_columns(model)]
    return sa.select(*columns, *sums).where(*conditions)


def _rollup_sql(
    model: Any, workspace_id: int, days: tuple, by: Sequence[str], where: dict[str, Any]
) -> sa.Select:
    span, first, end = days
    table = model.__table__.c
    return _rollup_rows(model, by, table.workspace_id == workspace_id, table.span == span,
                   table.day >= first, table.day < end, *_filters(model, where))  # fmt: skip


def _hour_sql(model: Any, workspace_id: int, hours: Window, by: Sequence[str]) -> sa.Select:
    table = model.__table__.c
    return _rollup_rows(model, by, table.workspace_id == workspace_id,
                   table.hour_start >= hours.start, table.hour_start < hours.end)  # fmt: skip


# A read and the sign its rows are counted with: -1 takes a part out of a whole day.
Read = tuple[sa.Select, int]


def _edge_reads(
    model: Any, workspace_id: int, edge: Window, by: Sequence[str], where: dict[str, Any]
) -> list[Read]:
    """An edge from the rollups and the call records: its whole hours and the minutes
    around them, or, when that is shorter, its UTC day less the hours and minutes
    outside it."""
    if where:
        return [(raw_query(model, workspace_id, edge, by, where), 1)]
    midnight = datetime.combine(edge.start.date(), time())
    day = Window(midnight, midnight + timedelta(days=1))
    if edge.end > day.end or edge.end - edge.start <= timedelta(hours=12):
        return _hour_reads(model, workspace_id, edge, by, 1)
    outside = (Window(day.start, edge.start), Window(edge.end, day.end))
    whole_day = (1, day.start.date(), day.end.date())
    reads = [(_rollup_sql(model, workspace_id, whole_day, by, {}), 1)]
    for part in outside:
        reads += _hour_reads(model, workspace_id, part, by, -1)
    return reads


def _hour_reads(
    model: Any, workspace_id: int, part: Window, by: Sequence[str], sign: int
) -> list[Read]:
    """A part's whole hours from the hourly rollup, the rest from the call records."""
    hours, rest = part.split_hours()
    reads = [(raw_query(model, workspace_id, piece, by, {}), sign) for piece in rest]
    if hours is not None:
        reads.append((_hour_sql(HOURLY[model], workspace_id, hours, by), sign))
    return reads


def _signed(query: sa.Select, sign: int, by: Sequence[str], names: Sequence[str]) -> sa.Select:
    if sign == 1:
        return query
    part = query.subquery()
    return sa.select(*(part.c[name] for name in by),
                     *((-part.c[name]).label(name) for name in names))  # fmt: skip


def _blocks(first: date, end: date) -> list[tuple[int, date, date]]:
    """Whole days [first, end) as rollup reads: whole ISO weeks, and the days around them."""
    monday = first + timedelta(days=-first.weekday() % 7)
    last_monday = end - timedelta(days=end.weekday())
    if monday >= last_monday:
        return [(1, first, end)]
    blocks = [(1, first, monday), (7, monday, last_monday), (1, last_monday, end)]
    return [block for block in blocks if block[1] < block[2]]


def raw_query(
    model: Any, workspace_id: int, window: Window, by: Sequence[str], where: dict[str, Any]
) -> sa.Select:
    """The GROUP BY over call records that a rollup's rows stand for, in one window."""
    keys, sums, calls = raw_keys(), raw_sums(), CallAttempt.__table__
    columns = [keys[name].label(name) for name in by]
    query = (
        sa.select(*columns, *(sums[n].label(n) for n in sum_columns(model)))
        .select_from(calls)
        .where(calls.c.workspace_id == workspace_id, calls.c.started_at >= window.start,
               calls.c.started_at < window.end,
               *(_raw_filter(name, value) for name, value in where.items()))
        .group_by(*columns)
    )  # fmt: skip
    return query


def _raw_filter(name: str, value: Any) -> sa.ColumnElement[bool]:
    # On the plain column, so the caller's or list's index can serve the window.
    column = CallAttempt.__table__.c[name] if name in ("caller_id", "list_id", "source") else None
    if column is None:
        return raw_keys()[name] == value
    return column.is_(None) if value in (0, "") else column == value


def grouped(model: Any, workspace_id: int, window: Window, by: Sequence[str],
            where: dict[str, Any] | None = None) -> Sums:
    """Sums of ``model``'s columns per ``by`` key over the window, from rollup + edges.

    The part of the window in finished UTC days is remembered (leads.metrics_cache), so
    a 90-day view reads the rollups for today alone once its finished days are known."""
    where = where or {}
    token, done, live = _finished_split(workspace_id, window)
    if token is None:
        return _grouped(model, workspace_id, window, by, where)
    names = sum_columns(model)
    key = (token, model.__tablename__, tuple(by), tuple(sorted(where.items())), done)
    finished = remembered(key, lambda: {
        k: tuple(sums[n] for n in names)
        for k, sums in _grouped(model, workspace_id, done, by, where).items()
    })  # fmt: skip
    totals = {k: dict(zip(names, values, strict=True)) for k, values in finished.items()}
    for k, sums in (_grouped(model, workspace_id, live, by, where) if live else {}).items():
        target = totals.setdefault(k, dict.fromkeys(names, 0))
        for name in names:
            target[name] += sums[name]
    return totals


def _finished_split(workspace_id: int, window: Window) -> tuple[str | None, Window, Window | None]:
    """The workspace's rollup token, the window's part in finished UTC days and the rest;
    no token (nothing to remember) when the window has no finished part."""
    cut = finished_until(utc_now())
    token = rollup_token(workspace_id) if window.start < cut else None
    if token is None:
        return None, window, None
    return token, Window(window.start, min(window.end, cut)), (
        Window(cut, window.end) if window.end > cut else None)  # fmt: skip


def _grouped(model: Any, workspace_id: int, window: Window, by: Sequence[str],
             where: dict[str, Any]) -> Sums:
    days, edges = window.split()
    reads = [(_rollup_sql(model, workspace_id, block, by, where), 1)
             for block in (_blocks(*days) if days else [])]  # fmt: skip
    for edge in edges:
        reads += _edge_reads(model, workspace_id, edge, by, where)
    totals: Sums = {}
    if not reads:
        return totals
    names = sum_columns(model)
    # The database adds the parts up: Python sees one row per key, not one per part.
    parts = sa.union_all(*(_signed(query, sign, by, names) for query, sign in reads)).subquery()
    keys = [parts.c[name] for name in by]
    query = (
        sa.select(*keys, *(sa.func.sum(parts.c[name]).label(name) for name in names))
        .group_by(*keys)
        # A key whose calls were all taken out again had no call in the window.
        .having(sa.func.sum(parts.c.calls) != 0)
    )  # fmt: skip
    # By position: a row's mapping view costs more than the database's work for it.
    width = len(by)
    for row in db.session.execute(query):
        totals[tuple(row[:width])] = dict(zip(names, map(int, row[width:]), strict=True))
    return totals


def project(rows: Sums, *positions: int) -> dict[Key, Tally]:
    """Tallies keyed by some parts of the rows' keys; the key's last part is the category."""
    parts: dict[Key, list[tuple[str, dict[str, int]]]] = defaultdict(list)
    for key, sums in rows.items():
        parts[tuple(key[p] for p in positions)].append((key[-1], sums))
    # Each tally's figures added up at once: a leaderboard projects thousands of rows, and
    # adding them one by one into Counters cost more than reading them.
    result = {}
    for target, rows_of in parts.items():
        by_category: dict[str, int] = {}
        for category, sums in rows_of:
            by_category[category] = by_category.get(category, 0) + sums["calls"]
        totals = {name: sum(sums[name] for _, sums in rows_of) for name in SUM_NAMES}
        result[target] = Tally(Counter(by_category), Counter(totals))
    return result


def tallies(
    model: Any,
    workspace_id: int,
    window: Window,
    by: Sequence[str],
    where: dict[str, Any] | None = None,
) -> dict[Key, Tally]:
    """Tallies per ``by`` key (category is grouped on too and folded into each tally)."""
    rows = grouped(model, workspace_id, window, [*by, "category"], where)
    return project(rows, *range(len(by)))


def by_caller(workspace_id: int, window: Window, caller_id: int | None = None) -> dict[Key, Tally]:
    where = {"caller_id": caller_id} if caller_id is not None else {}
    return tallies(CallerDayRollup, workspace_id, window, ["caller_id"], where)


def caller_outcome_sums(workspace_id: int, window: Window) -> Sums:
    """One read serves the leaderboard, the totals and the outcome breakdown (``project``)."""
    by = ["caller_id", "outcome", "category"]
    return grouped(CallerDayRollup, workspace_id, window, by)


def list_source_sums(workspace_id: int, window: Window) -> Sums:
    """One read serves the list and the source breakdowns (``project``)."""
    return grouped(ListDayRollup, workspace_id, window, ["list_id", "source", "category"])


def total(workspace_id: int, window: Window, caller_id: int | None = None) -> Tally:
    overall = Tally()
    for tally in by_caller(workspace_id, window, caller_id).values():
        overall.merge(tally)
    return overall


def heatmap(
    workspace_id: int, window: Window, list_id: int | None = None
) -> dict[tuple[int, int], dict[str, int]]:
    """Calls and connects per (lead's local weekday, hour); unknown zones left out."""
    where = {"list_id": list_id} if list_id is not None else {}
    cells = grouped(SlotDayRollup, workspace_id, window, ["weekday", "hour"], where)
    return {key: sums for key, sums in cells.items() if key[0] >= 0 and key[1] >= 0}


def callbacks(owner_ids: Sequence[int], window: Window) -> dict[int, Callbacks]:
    """Callbacks due in the window per owner, and how many were kept."""
    kept = sa.and_(Callback.done_at.is_not(None),
                   Callback.done_at <= Callback.due_at + CALLBACK_GRACE)  # fmt: skip
    query = (
        sa.select(Callback.owner_id, sa.func.count(),
                  sa.func.coalesce(sa.func.sum(sa.case((kept, 1), else_=0)), 0))
        .where(Callback.owner_id.in_(owner_ids), Callback.due_at >= window.start,
               Callback.due_at < window.end)
        .group_by(Callback.owner_id)
    )  # fmt: skip
    return {owner: Callbacks(due, kept) for owner, due, kept in db.session.execute(query)}


def calls_by_local_day(workspace_id: int, caller_id: int, period: Period) -> dict[date, Tally]:
    """One caller's tallies per local day, counted by the database: a CASE on the local
    midnights (DST included, as UTC instants) names each call's day. The counts of
    finished UTC days are remembered, as ``grouped`` does."""
    days = list(period.local_days())
    started = CallAttempt.started_at
    later_days = [(started < midnight, index) for index, midnight in
                  enumerate(period.local_midnights()[1:])]  # fmt: skip
    day = sa.case(*later_days, else_=len(days) - 1) if later_days else sa.literal(0)

    def counts(window: Window) -> list[tuple[int, str, int]]:
        calls = (
            sa.select(day.label("day"), CallAttempt.category)
            .where(CallAttempt.caller_id == caller_id, CallAttempt.workspace_id == workspace_id,
                   started >= window.start, started < window.end)
            .subquery()
        )  # fmt: skip
        query = sa.select(calls.c.day, calls.c.category, sa.func.count()).group_by(
            calls.c.day, calls.c.category
        )
        return [tuple(row) for row in db.session.execute(query)]

    token, done, live = _finished_split(workspace_id, period.window)
    if token is None:
        rows = counts(done)
    else:
        key = (token, "local days", caller_id, str(period.zone), period.first_day, days[-1], done)
        rows = remembered(key, lambda: counts(done)) + (counts(live) if live else [])
    tallies: dict[date, Tally] = defaultdict(Tally)
    for index, category, count in rows:
        tallies[days[index]].add(category, count, {})
    return tallies


def latest_call(workspace_id: int) -> datetime | None:
    return db.session.scalar(
        sa.select(sa.func.max(CallAttempt.started_at)).where(
            CallAttempt.workspace_id == workspace_id
        )
    )
