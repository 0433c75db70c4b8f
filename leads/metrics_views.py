"""Metrics pages: the caller's own numbers, the team, lists and sources, drill-down, goals."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from app.access import roles_required
from app.extensions import db
from app.forms import parse_id
from app.htmx import render
from app.models import Role, Team
from leads import bp
from leads import metrics_pages as pages
from leads import metrics_queries as q
from leads.calling_hours import utc_now
from leads.metrics_drill import EXPORT_ROWS, CallFilter, calls_table, count_calls
from leads.metrics_goals import GoalError, delete_goal, goals_of, history, progress, save_goal
from leads.metrics_models import GoalCadence, GoalMetric
from leads.metrics_periods import PRESET_LABELS, Period, days_period, parse_period, preset, zone_of
from leads.metrics_periods import this_week as week_period
from leads.metrics_periods import today as local_today
from leads.metrics_tables import Cell, Table, csv_response, number

MANAGERS = (Role.ADMIN, Role.MANAGER)
TREND_DAYS = 14


def _period() -> Period:
    return parse_period(request.args, zone_of(current_user.time_zone), utc_now())


def _page(template: str, tables: list[Table], period: Period | None = None, **context):
    """The page, or one of its tables as CSV when ?export=<table key> asks for it."""
    if key := request.args.get("export"):
        table = next((t for t in tables if t.key == key), None)
        if table is None:
            abort(404)
        return csv_response(table, local_today(zone_of(current_user.time_zone), utc_now()))
    # The heatmap's list picker swaps just the heatmap.
    block = "heatmap" if request.headers.get("HX-Target") == "heatmap" else None
    return render(template, block=block, tables=tables,
                  period=period, presets=PRESET_LABELS, **context)  # fmt: skip


def _heat_list() -> int | None:
    return parse_id(request.args.get("heat_list"))


@bp.get("/metrics/me")
@roles_required()
def metrics_mine():
    """The signed-in user's own calls: today, this week, goals and trend."""
    now, zone = utc_now(), zone_of(current_user.time_zone)
    ws, me = current_user.workspace_id, current_user.id
    today, week = preset("today", zone, now), week_period(zone, now)
    last = local_today(zone, now)
    trend = days_period("trend", last - timedelta(days=TREND_DAYS - 1), last, zone, now)
    by_day = q.calls_by_local_day(ws, me, trend)
    table = Table(
        "trend",
        f"My last {TREND_DAYS} days",
        ["Day", "Dials", "Connects", "Conversations", "Qualified"],
        chart_column=1,
    )
    for day in trend.local_days():
        t = by_day.get(day)
        table.rows.append([Cell(f"{day:%a %d %b}"), number(t.dials if t else 0),
                           number(t.connects if t else 0), number(t.conversations if t else 0),
                           number(t.qualified if t else 0)])  # fmt: skip
    goals = goals_of(ws, current_user)
    return _page(
        "metrics/mine.html", [table],
        today=q.total(ws, today.window, me), week=q.total(ws, week.window, me),
        progress=[progress(g, current_user, now) for g in goals],
        history={g.id: history(g, current_user, now) for g in goals},
    )  # fmt: skip


@bp.get("/metrics/team")
@roles_required(*MANAGERS)
def metrics_team():
    """The manager's dashboard: the team's figures for a period, by rep, list, source, outcome."""
    period, ws = _period(), current_user.workspace_id
    people = pages.people_names(ws)
    heat = pages.heatmap(ws, period, _heat_list())
    callers_outcomes = q.caller_outcome_sums(ws, period.window)
    callers = q.project(callers_outcomes, 0)
    lists_sources = q.list_source_sums(ws, period.window)
    tables = [
        pages.leaderboard(ws, period, people, callers),
        pages.outcome_table(period, q.project(callers_outcomes, 1)),
        pages.list_table(ws, period, lists_sources), pages.source_table(period, lists_sources),
        heat.table, pages.funnel_table(pages.lead_funnel(ws)),
    ]  # fmt: skip
    now = utc_now()
    return _page(
        "metrics/team.html", tables, period,
        summary=pages.summary(ws, period, list(people), callers), heat=heat,
        lists=pages.list_names(ws), heat_list=_heat_list(),
        progress=[progress(g, current_user, now) for g in goals_of(ws)],
    )  # fmt: skip


@bp.get("/metrics/lists")
@roles_required(Role.ADMIN, Role.MANAGER, Role.MARKETER)
def metrics_lists():
    """The marketer's view: list and source performance and the best time to call a list."""
    period, ws = _period(), current_user.workspace_id
    heat = pages.heatmap(ws, period, _heat_list())
    lists_sources = q.list_source_sums(ws, period.window)
    tables = [pages.list_performance(ws, period, lists_sources),
              pages.source_table(period, lists_sources), heat.table]  # fmt: skip
    return _page("metrics/lists.html", tables, period, heat=heat,
                 lists=pages.list_names(ws), heat_list=_heat_list())  # fmt: skip


@bp.get("/metrics/calls")
@roles_required(*MANAGERS)
def metrics_calls():
    """The calls behind a dashboard figure, filterable, exportable."""
    period, ws, spec = _period(), current_user.workspace_id, CallFilter.from_args(request.args)
    names = pages.list_names(ws)
    limit = EXPORT_ROWS if request.args.get("export") else None
    table = calls_table(ws, period, spec, limit or 200, names)
    people = pages.workspace_people(ws)
    return _page("metrics/calls.html", [table], period, spec=spec, people=people, lists=names,
                 total=count_calls(ws, period, spec))  # fmt: skip


@bp.route("/metrics/goals", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def metrics_goals():
    """List, add and change daily and weekly goals."""
    ws, error, status = current_user.workspace_id, "", 200
    if request.method == "POST":
        try:
            save_goal(ws, request.form.to_dict())
            db.session.commit()
            flash("Goal saved.", "success")
            return redirect(url_for("leads.metrics_goals"))
        except GoalError as problem:
            db.session.rollback()
            error, status = str(problem), 422
    now = utc_now()
    goals = goals_of(ws)
    people = sorted(pages.workspace_people(ws).values(), key=lambda u: u.name.lower())
    teams = db.session.scalars(sa.select(Team).where(Team.workspace_id == ws).order_by(Team.name))
    return render(
        "metrics/goals.html", status=status, error=error, form=request.form,
        progress=[progress(g, current_user, now) for g in goals],
        history={g.id: history(g, current_user, now) for g in goals},
        people=people, teams=teams, metrics=list(GoalMetric), cadences=list(GoalCadence),
    )  # fmt: skip


@bp.post("/metrics/goals/<int:goal_id>/delete")
@roles_required(*MANAGERS)
def metrics_delete_goal(goal_id: int):
    """Remove a goal."""
    if not delete_goal(current_user.workspace_id, goal_id):
        abort(404)
    db.session.commit()
    flash("Goal removed.", "success")
    return redirect(url_for("leads.metrics_goals"))


@bp.app_template_filter("pct")
def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


@bp.app_template_filter("one")
def _one_decimal(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


@bp.app_template_filter("export_query")
def _export_query(args, key: str) -> str:
    return urlencode({**args.to_dict(), "export": key})


@bp.app_template_filter("period_query")
def _period_query(args: dict) -> str:
    """A preset's link keeps the page's filters but not a custom range or an export."""
    return urlencode({k: v for k, v in args.items() if k not in ("from", "to", "export")})
