"""Every metrics read walks the index meant for it (SQLite's planner can pick one that is
15× slower for a time window): checked with EXPLAIN QUERY PLAN."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa

from app.extensions import db
from leads import metrics_queries as q
from leads.metrics_drill import CallFilter, _where
from leads.metrics_models import HOURLY, CallerDayRollup, ListDayRollup, SlotDayRollup
from leads.metrics_periods import Window, parse_period, zone_of
from leads.metrics_queries import _hour_sql, _rollup_sql, raw_query

EDGE = Window(datetime(2026, 1, 5, 5), datetime(2026, 1, 6))
WEEKS = (7, date(2026, 1, 5), date(2026, 2, 2))


@pytest.fixture(autouse=True)
def sqlite_only(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")


def _plan(query) -> str:
    sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
    return " | ".join(row[-1] for row in db.session.execute(sa.text(f"EXPLAIN QUERY PLAN {sql}")))


@pytest.mark.parametrize(("model", "by"), [
    (CallerDayRollup, ["caller_id", "outcome", "category"]),
    (ListDayRollup, ["list_id", "source", "category"]),
    (SlotDayRollup, ["weekday", "hour"]),
])  # fmt: skip
def test_edges_read_the_covering_window_index_only(workspace, model, by):
    plan = _plan(raw_query(model, workspace.id, EDGE, by, {}))
    assert "USING COVERING INDEX ix_call_attempts_metrics_window" in plan, plan
    assert "started_at>? AND started_at<?" in plan, plan


@pytest.mark.parametrize(("where", "index"), [
    ({"caller_id": 3}, "ix_call_attempts_caller_started (caller_id=? AND started_at>?"),
    ({"list_id": 3}, "ix_call_attempts_list_started (workspace_id=? AND list_id=?"),
])  # fmt: skip
def test_filtered_edges_use_the_filters_time_index(workspace, where, index):
    model = CallerDayRollup if "caller_id" in where else SlotDayRollup
    plan = _plan(raw_query(model, workspace.id, EDGE, ["category"] if "caller_id" in where
                           else ["weekday", "hour"], where))  # fmt: skip
    assert index in plan or "COVERING INDEX ix_call_attempts_metrics_window" in plan, plan
    assert "SCAN call_attempts" not in plan, plan


DAY_RANGE = "PRIMARY KEY (workspace_id=? AND span=? AND day>? AND day<?)"
ONE_CALLER = (
    "COVERING INDEX ix_call_caller_day_rollups_caller "
    "(workspace_id=? AND caller_id=? AND span=? AND day>? AND day<?)"
)


@pytest.mark.parametrize(("model", "by", "where", "expected"), [
    (CallerDayRollup, ["caller_id", "outcome", "category"], {}, DAY_RANGE),
    (CallerDayRollup, ["category"], {"caller_id": 3}, ONE_CALLER),
    (ListDayRollup, ["list_id", "source", "category"], {}, DAY_RANGE),
    (SlotDayRollup, ["weekday", "hour"], {"list_id": 3}, DAY_RANGE),
])  # fmt: skip
def test_whole_days_read_a_day_range_of_the_rollup(workspace, model, by, where, expected):
    plan = _plan(_rollup_sql(model, workspace.id, WEEKS, by, where))
    assert expected in plan, plan


@pytest.mark.parametrize(("model", "by"), [
    (CallerDayRollup, ["caller_id", "outcome", "category"]),
    (ListDayRollup, ["list_id", "source", "category"]),
    (SlotDayRollup, ["weekday", "hour"]),
])  # fmt: skip
def test_whole_hours_read_an_hour_range_of_the_hourly_rollup(workspace, model, by):
    plan = _plan(_hour_sql(HOURLY[model], workspace.id, EDGE, by))
    assert "PRIMARY KEY (workspace_id=? AND hour_start>? AND hour_start<?)" in plan, plan


def test_drill_down_walks_a_time_index(workspace):
    period = parse_period({"period": "30d"}, zone_of("UTC"), datetime(2026, 2, 1))
    for spec in (CallFilter(caller_id=3), CallFilter(list_id=3), CallFilter(source="expo"),
                 CallFilter(group="connects")):  # fmt: skip
        query = sa.select(sa.literal(1)).select_from(q.CallAttempt).where(
            *_where(workspace.id, period, spec)).order_by(q.CallAttempt.started_at.desc())
        plan = _plan(query)
        assert "SCAN call_attempts" not in plan and "started_at" in plan, (spec, plan)
