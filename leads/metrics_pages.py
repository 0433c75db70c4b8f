"""The dashboards' contents: figures from leads.metrics_queries laid out as tables."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import url_for

from app.extensions import db
from app.models import Role, User, UserRole
from leads import metrics_queries as q
from leads.metrics import Callbacks, FunnelStage, Tally, funnel, ratio, won_source
from leads.metrics_periods import Period
from leads.metrics_tables import (
    TALLY_COLUMNS,
    Cell,
    Table,
    duration,
    number,
    percent,
    tally_cells,
)
from leads.models import Lead, LeadList, LeadStatus

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
BEST_SLOT_MIN_CALLS = 10  # a slot with fewer calls is too noisy to recommend


def calls_url(period: Period) -> str:
    """The drill-down page for the period; figures add their filters and group to it."""
    return url_for("leads.metrics_calls", **period.query())


def drill_link(period: Period | str, group: str, **filters: object) -> str:
    return _linker(period, **filters)(group)


def workspace_people(workspace_id: int) -> dict[int, User]:
    """Everyone who may appear on a leaderboard, by id."""
    users = db.session.scalars(sa.select(User).where(User.workspace_id == workspace_id))
    return {user.id: user for user in users}


def people_names(workspace_id: int) -> dict[int, str]:
    """Everyone who may appear on a leaderboard: names by id, as plain values (no objects
    that could be expired and reloaded one by one)."""
    query = sa.select(User.id, User.name).where(User.workspace_id == workspace_id)
    return {row[0]: row[1] for row in db.session.execute(query)}


def dialers(workspace_id: int) -> set[int]:
    """Active callers and reps: they are listed even with no calls (a zero is news)."""
    return set(db.session.scalars(
        sa.select(User.id).join(UserRole).where(
            User.workspace_id == workspace_id, User.active.is_(True),
            UserRole.role.in_((Role.CALLER.value, Role.REP.value)))
    ))  # fmt: skip


@dataclass
class Summary:
    tally: Tally
    callbacks: Callbacks
    speed_to_lead: Cell


def summary(
    workspace_id: int, period: Period, people: list[int], callers: dict[q.Key, Tally]
) -> Summary:
    """The period's totals, from the leaderboard's tallies (``q.by_caller``)."""
    tally = Tally()
    for part in callers.values():
        tally.merge(part)
    kept = q.callbacks(people, period.window).values()
    callbacks = Callbacks(sum(c.due for c in kept), sum(c.kept for c in kept))
    return Summary(tally, callbacks, duration(tally.speed_to_lead_seconds))


def leaderboard(
    workspace_id: int, period: Period, people: dict[int, str], callers: dict[q.Key, Tally]
) -> Table:
    tallies = {key[0]: t for key, t in callers.items()}
    ids = set(tallies) | dialers(workspace_id)
    kept = q.callbacks([i for i in ids if i], period.window)
    table = Table("leaderboard", "Team leaderboard",
                  ["Rep", *TALLY_COLUMNS, "Callbacks kept", "Speed-to-lead"], chart_column=1,
                  empty="Nobody on the team has calls or a caller role yet.")  # fmt: skip
    order = sorted(ids, key=lambda i: (-tallies.get(i, Tally()).dials, _name(people, i)))
    page = calls_url(period)
    for caller_id in order:
        tally = tallies.get(caller_id, Tally())
        cb = kept.get(caller_id, Callbacks(0, 0))
        link = _linker(page, caller_id=caller_id)
        table.rows.append([Cell(_name(people, caller_id)), *tally_cells(tally, link),
                           Cell(f"{cb.kept}/{cb.due}", cb.kept),
                           duration(tally.speed_to_lead_seconds)])  # fmt: skip
    return table


def _name(people: dict[int, str], user_id: int) -> str:
    if not user_id:
        return "(no caller)"
    return people.get(user_id, f"Removed user #{user_id}")


def _linker(period: Period | str, **filters: object) -> Callable[[str], str]:
    # Built by hand after one url_for (pass calls_url's result): a leaderboard holds
    # hundreds of links and url_for costs ~0.1 ms each.
    page = period if isinstance(period, str) else calls_url(period)
    base = f"{page}&{urlencode(filters)}"
    return lambda group: f"{base}&group={group}"


def outcome_table(period: Period, rows: dict[q.Key, Tally]) -> Table:
    whole = sum(t.dials for t in rows.values())
    table = Table("outcomes", "Calls by outcome", ["Outcome", "Dials", "Share"], chart_column=1)
    for (outcome,), tally in sorted(rows.items(), key=lambda kv: -kv[1].dials):
        link = drill_link(period, "dials", outcome=outcome)
        table.rows.append([Cell(outcome.replace("_", " ").capitalize()),
                           number(tally.dials, link), percent(tally.dials / whole)])  # fmt: skip
    return table


def list_names(workspace_id: int) -> dict[int, str]:
    query = sa.select(LeadList.id, LeadList.name).where(LeadList.workspace_id == workspace_id)
    return {row[0]: row[1] for row in db.session.execute(query)}


def list_label(names: dict[int, str], list_id: int) -> str:
    if not list_id:
        return "(no list)"
    return names.get(list_id, f"Deleted list #{list_id}")


def list_table(workspace_id: int, period: Period, lists_sources: q.Sums) -> Table:
    names = list_names(workspace_id)
    table = Table("lists", "By list", ["List", *TALLY_COLUMNS], chart_column=1)
    for (list_id,), tally in sorted(
        q.project(lists_sources, 0).items(), key=lambda kv: -kv[1].dials
    ):
        link = _linker(period, list_id=list_id)
        table.rows.append([Cell(list_label(names, list_id)), *tally_cells(tally, link)])
    return table


def source_table(period: Period, lists_sources: q.Sums) -> Table:
    table = Table("sources", "By source", ["Source", *TALLY_COLUMNS], chart_column=1)
    for (source,), tally in sorted(
        q.project(lists_sources, 1).items(), key=lambda kv: -kv[1].dials
    ):
        link = _linker(period, source=source or "")
        table.rows.append([Cell(source or "(no source)"), *tally_cells(tally, link)])
    return table


@dataclass
class Heatmap:
    rows: list[tuple[str, list[Cell]]]  # weekday label, 24 hourly connect-rate cells
    best: list[str]
    table: Table


def heatmap(workspace_id: int, period: Period, list_id: int | None) -> Heatmap:
    cells = q.heatmap(workspace_id, period.window, list_id)
    table = Table("heatmap", "Connect rate by the lead's local hour and weekday",
                  ["Weekday", *(f"{h:02d}:00" for h in range(24))],
                  empty="No calls with a known lead time zone in this period.")  # fmt: skip
    rows = []
    for day, label in enumerate(WEEKDAYS):
        hours = []
        for hour in range(24):
            sums = cells.get((day, hour))
            rate = sums["connects"] / sums["calls"] if sums else None
            hours.append(Cell(f"{rate:.0%} of {sums['calls']}", round(rate * 100, 1))
                         if sums else Cell("—"))  # fmt: skip
        rows.append((label, hours))
        if any(cell.value is not None for cell in hours):
            table.rows.append([Cell(label), *hours])
    ranked = sorted(((s["connects"] / s["calls"], d, h) for (d, h), s in cells.items()
                     if s["calls"] >= BEST_SLOT_MIN_CALLS), reverse=True)  # fmt: skip
    best = [f"{WEEKDAYS[d]} {h:02d}:00–{h + 1:02d}:00 ({rate:.0%})" for rate, d, h in ranked[:3]]
    return Heatmap(rows, best, table)


def lead_funnel(workspace_id: int, list_id: int | None = None) -> list[FunnelStage]:
    where = [Lead.workspace_id == workspace_id, Lead.pending_import_id.is_(None)]
    if list_id is not None:
        where.append(Lead.list_id == list_id)
    query = sa.select(Lead.status, sa.func.count()).where(*where).group_by(Lead.status)
    counts = {status: count for status, count in db.session.execute(query)}
    dialled_out = (
        db.session.scalar(
            sa.select(sa.func.count()).where(
                *where, Lead.status == LeadStatus.DISQUALIFIED.value, Lead.dial_attempts > 0
            )
        )
        or 0
    )
    source = won_source()
    return funnel(counts, dialled_out, source(workspace_id, None)[0] if source else None)


def funnel_table(stages: list[FunnelStage]) -> Table:
    table = Table(
        "funnel",
        "Lead funnel (leads by the furthest stage reached, now)",
        ["Stage", "Leads", "Of all leads"],
        chart_column=1,
        empty="No leads yet.",
    )
    if stages and stages[0].leads:
        table.rows = [[Cell(s.label), number(s.leads), percent(s.share)] for s in stages]
    return table


def list_performance(workspace_id: int, period: Period, lists_sources: q.Sums) -> Table:
    """Per list: reach, qualification and how soon its never-dialled leads run out."""
    names = list_names(workspace_id)
    calls = {key[0]: t for key, t in q.project(lists_sources, 0).items()}
    fresh = sa.case((sa.and_(Lead.dial_attempts == 0, Lead.dial_done.is_(False)), 1), else_=0)
    leads = {
        list_id or 0: (total, waiting or 0)
        for list_id, total, waiting in db.session.execute(
            sa.select(Lead.list_id, sa.func.count(), sa.func.sum(fresh))
            .where(Lead.workspace_id == workspace_id, Lead.pending_import_id.is_(None))
            .group_by(Lead.list_id)
        )
    }
    table = Table("list_performance", "List performance",
                  ["List", "Leads", "Never dialled", "Dials", "Contact rate", "Qualified",
                   "Qualified rate", "New leads dialled /day", "Days to exhaust"],
                  chart_column=4, empty="No lists with leads or calls yet.")  # fmt: skip
    for list_id in sorted(set(calls) | set(leads), key=lambda i: list_label(names, i).lower()):
        tally = calls.get(list_id, Tally())
        total, waiting = leads.get(list_id, (0, 0))
        per_day = tally.sums["first_calls"] / period.days
        table.rows.append([
            Cell(list_label(names, list_id)), number(total), number(waiting),
            number(tally.dials, drill_link(period, "dials", list_id=list_id)),
            percent(tally.connect_rate),
            number(tally.qualified, drill_link(period, "qualified", list_id=list_id)),
            percent(ratio(tally.qualified, tally.connects)), number(round(per_day, 1)),
            _days_to_exhaust(waiting, per_day),
        ])  # fmt: skip
    return table


def _days_to_exhaust(waiting: int, per_day: float) -> Cell:
    if not waiting:
        return Cell("exhausted", 0)
    if not per_day:
        return Cell("not being dialled")
    return number(round(waiting / per_day, 1))
