"""Call metrics: the definitions, rollups kept on write, and every figure against raw SQL."""

from __future__ import annotations

import importlib.util
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

from app.extensions import db
from app.models import Role
from leads import metrics_queries as q
from leads.dial_models import CallAttempt
from leads.dialing import claim_next
from leads.dispositions import Disposition, dispose
from leads.metrics import Tally, funnel
from leads.metrics_models import HOURLY, CallerDayRollup, ListDayRollup, SlotDayRollup
from leads.metrics_periods import Window, days_period, parse_period
from leads.metrics_rollups import rebuild
from leads.models import ActivityType, LeadList
from leads.timeline import record
from tests.leads.dial_factories import OPEN, make_lead
from tests.leads.metrics_factories import random_calls, raw_by, raw_heatmap

START = datetime(2026, 1, 1)
NOW = datetime(2026, 2, 20, 15, 37)
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "versions"
ZONES = ("UTC", "America/Los_Angeles", "Asia/Kolkata", "Pacific/Chatham")


@pytest.fixture
def caller(make_user):
    return make_user(Role.CALLER, name="Cal Caller")


def _call(user, outcome, at):
    lead = claim_next(user, {}, at=at)
    assert lead is not None
    dispose(user, Disposition(lead.dial_lease_token, outcome, duration_seconds=30), at=at)
    db.session.commit()
    return lead


def _rollup_rows():
    return {
        model: sorted(tuple(row) for row in db.session.execute(sa.select(*model.__table__.c)))
        for model in (CallerDayRollup, ListDayRollup, SlotDayRollup, *HOURLY.values())
    }


def test_tally_rates_are_none_instead_of_dividing_by_zero():
    empty = Tally()
    assert empty.dials == 0
    assert (empty.connect_rate, empty.dials_per_hour, empty.meetings_per_100) == (None, None, None)
    assert empty.attempts_to_first_connect is None and empty.speed_to_lead_seconds is None


def test_tally_applies_the_definitions():
    tally = Tally()
    for category, calls in [("no_answer", 6), ("conversation", 2), ("meeting_booked", 1),
                            ("not_interested", 1)]:
        tally.add(category, calls, {"active_hours": 2})
    assert (tally.dials, tally.connects, tally.conversations) == (10, 4, 3)
    assert (tally.meetings, tally.qualified) == (1, 1)
    assert tally.connect_rate == pytest.approx(0.4)
    assert tally.meetings_per_100 == pytest.approx(10)
    assert tally.dials_per_hour == pytest.approx(10 / 8)


def test_funnel_counts_leads_at_each_stage_or_later():
    stages = funnel({"new": 5, "contacted": 3, "connected": 2, "qualified": 1,
                     "disqualified": 4}, dialled_disqualified=3)  # fmt: skip
    assert [(s.label, s.leads) for s in stages] == [
        ("New", 15), ("Contacted", 9), ("Connected", 3), ("Qualified", 1), ("Handed off", 0)]
    assert funnel({}, 0)[0].share is None
    assert funnel({"new": 1}, 0, won=0)[-1].label == "Won"


def test_recorded_calls_carry_their_facts(caller, workspace):
    prospects = LeadList(workspace_id=workspace.id, name="Prospects")
    db.session.add(prospects)
    db.session.commit()
    lead = make_lead(caller, list_id=prospects.id, source="expo")
    activity = record(lead, ActivityType.ASSIGNMENT, None, "Assigned")
    activity.occurred_at = OPEN - timedelta(minutes=90)
    db.session.commit()
    other = make_lead(caller)
    _call(caller, "no_answer", OPEN + timedelta(minutes=10))
    _call(caller, "no_answer", OPEN + timedelta(minutes=20))
    _call(caller, "conversation", OPEN + timedelta(hours=5))
    first, same_hour, again = db.session.scalars(sa.select(CallAttempt).order_by(CallAttempt.id))
    assert (same_hour.lead_id, again.lead_id) == (other.id, lead.id)
    assert (first.list_id, first.source, first.attempt_number) == (prospects.id, "expo", 1)
    # OPEN is a Wednesday, 13:00 in New York (the 212 area code's zone).
    assert first.lead_local_weekday == 2 and first.lead_local_hour == 13
    assert first.speed_to_lead_seconds == 100 * 60 - 30 and again.speed_to_lead_seconds is None
    assert same_hour.speed_to_lead_seconds is None  # never assigned
    assert (first.first_connect, again.first_connect, again.attempt_number) == (False, True, 2)
    assert (first.opens_hour, same_hour.opens_hour, again.opens_hour) == (True, False, True)


def test_rollups_kept_on_write_equal_a_rebuild_from_the_records(caller, make_user, workspace):
    other = make_user(Role.CALLER)
    for index in range(4):
        make_lead(caller, source="web" if index % 2 else None)
        make_lead(other, area="415")
    for minutes, outcome in enumerate(["no_answer", "conversation", "qualified", "voicemail"]):
        _call(caller, outcome, OPEN + timedelta(minutes=minutes * 40))
        _call(other, outcome, OPEN + timedelta(days=1, minutes=minutes))
    kept = _rollup_rows()
    calls = db.session.execute(sa.select(CallerDayRollup.span, sa.func.sum(CallerDayRollup.calls))
                               .group_by(CallerDayRollup.span)).all()  # fmt: skip
    assert sorted(tuple(row) for row in calls) == [(1, 8), (7, 8)]
    hourly = HOURLY[CallerDayRollup]
    hours = db.session.execute(sa.select(hourly.hour_start, sa.func.sum(hourly.calls))
                               .group_by(hourly.hour_start)).all()  # fmt: skip
    starts = db.session.scalars(sa.select(CallAttempt.started_at))
    assert dict(hours) == Counter(at.replace(minute=0, second=0, microsecond=0) for at in starts)
    rebuild(workspace.id)
    db.session.commit()
    assert _rollup_rows() == kept


@pytest.fixture
def history(make_user, workspace):
    reps = [make_user(Role.CALLER).id for _ in range(4)]
    lists = [LeadList(workspace_id=workspace.id, name=f"List {n}") for n in range(3)]
    db.session.add_all(lists)
    db.session.commit()
    random_calls(workspace.id, [*reps, None], [lst.id for lst in lists] + [None, 999],
                 START, 51, 6000)  # fmt: skip
    return workspace.id


@pytest.mark.parametrize("zone", ZONES)
def test_every_dashboard_figure_equals_the_raw_group_by(history, zone):
    for key in ("today", "7d", "30d", "90d"):
        _check_period(history, parse_period({"period": key}, ZoneInfo(zone), NOW).window)
    _check_period(history, Window(datetime(2026, 1, 9, 23, 59), datetime(2026, 1, 10, 0, 1)))


def _check_period(history, window):
    checks = [
        (q.by_caller(history, window), "COALESCE(caller_id, 0)"),
        (q.project(q.list_source_sums(history, window), 0), "COALESCE(list_id, 0)"),
        (q.project(q.list_source_sums(history, window), 1), "COALESCE(source, '')"),
        (q.project(q.caller_outcome_sums(history, window), 1), "outcome"),
        (q.project(q.caller_outcome_sums(history, window), 0), "COALESCE(caller_id, 0)"),
    ]
    for tallies, column in checks:
        expected = raw_by(column, history, window)
        got = {
            key[0]: (t.dials, t.connects, t.talk_seconds, t.sums["active_hours"],
                     t.sums["first_connect_attempts"])
            for key, t in tallies.items()
        }  # fmt: skip
        assert got == expected, column
    assert q.heatmap(history, window) == raw_heatmap(history, window)
    everything = sum(v[0] for v in raw_by("1", history, window).values())
    assert everything == q.total(history, window).dials


def test_filtered_reads_equal_the_raw_group_by(history):
    window = Window(datetime(2026, 1, 3, 7, 30), datetime(2026, 1, 29, 16, 5))
    caller_id = max(key for key in raw_by("caller_id", history, window) if key)
    got = q.total(history, window, caller_id)
    expected = raw_by("caller_id", history, window, f"AND caller_id = {caller_id}")[caller_id]
    assert (got.dials, got.connects, got.talk_seconds) == expected[:3]
    list_id = db.session.scalar(sa.select(LeadList.id).limit(1))
    heat = raw_heatmap(history, window)
    assert sum(c["calls"] for c in q.heatmap(history, window, list_id).values()) < sum(
        c["calls"] for c in heat.values())


def test_a_window_shorter_than_a_day_or_empty_reads_only_records(history):
    assert Window(datetime(2026, 1, 5, 3), datetime(2026, 1, 5, 9)).split() == (
        None, [Window(datetime(2026, 1, 5, 3), datetime(2026, 1, 5, 9))])
    assert Window(NOW, NOW).split() == (None, [])
    assert q.total(history, Window(NOW, NOW)).dials == 0
    days, edges = Window(datetime(2026, 1, 5, 3), datetime(2026, 1, 8)).split()
    assert days == (date(2026, 1, 6), date(2026, 1, 8)) and len(edges) == 1


def test_an_edge_reads_whole_hours_and_the_minutes_around_them():
    edge = Window(datetime(2026, 1, 5, 5, 30), datetime(2026, 1, 5, 15, 37))
    assert edge.split_hours() == (
        Window(datetime(2026, 1, 5, 6), datetime(2026, 1, 5, 15)),
        [Window(datetime(2026, 1, 5, 5, 30), datetime(2026, 1, 5, 6)),
         Window(datetime(2026, 1, 5, 15), datetime(2026, 1, 5, 15, 37))])  # fmt: skip
    inside = Window(datetime(2026, 1, 5, 5, 10), datetime(2026, 1, 5, 5, 50))
    assert inside.split_hours() == (None, [inside])
    whole = Window(datetime(2026, 1, 5, 5), datetime(2026, 1, 5, 7))
    assert whole.split_hours() == (whole, [])


def test_periods_follow_the_viewers_local_midnights():
    period = parse_period({"period": "today"}, ZoneInfo("America/New_York"), NOW)
    assert period.window == Window(datetime(2026, 2, 20, 5), NOW)
    week = parse_period({"period": "7d"}, ZoneInfo("Asia/Kolkata"), NOW)
    assert week.window.start == datetime(2026, 2, 13, 18, 30) and week.days == 7


@pytest.mark.parametrize(("args", "message", "days"), [
    ({"period": "custom", "from": "2026-02-10", "to": "2026-02-01"}, "ends before it starts", 7),
    ({"period": "custom", "from": "2016-01-01", "to": "2026-01-01"}, "limited to 366 days", 366),
    ({"period": "custom", "from": "yesterday", "to": ""}, "Pick both dates", 7),
    ({"period": "forever"}, "", 7),
    ({"period": "custom", "from": "2026-01-01", "to": "2026-01-31"}, "", 31),
])  # fmt: skip
def test_bad_periods_fall_back_with_a_message(args, message, days):
    period = parse_period(args, ZoneInfo("UTC"), NOW)
    assert message in period.message and period.days == days
    assert period.window.start <= period.window.end


def test_a_future_range_is_an_empty_window():
    period = parse_period({"period": "custom", "from": "2027-01-01", "to": "2027-01-02"},
                          ZoneInfo("UTC"), NOW)  # fmt: skip
    assert period.window.start == period.window.end


def test_demo_seed_adds_a_month_of_calls_once(runner, workspace):
    first = runner.invoke(args=["demo", "seed", "--leads", "150"])
    assert first.exit_code == 0, first.output
    calls = db.session.scalar(sa.select(sa.func.count(CallAttempt.id)))
    assert calls > 1000 and "demo calls added" in first.output
    window = Window(datetime(2000, 1, 1), datetime(2100, 1, 1))
    assert q.total(workspace.id, window).dials == calls
    assert raw_by("COALESCE(caller_id, 0)", workspace.id, window) == {
        key[0]: (t.dials, t.connects, t.talk_seconds, t.sums["active_hours"],
                 t.sums["first_connect_attempts"])
        for key, t in q.project(q.caller_outcome_sums(workspace.id, window), 0).items()
    }  # fmt: skip
    again = runner.invoke(args=["demo", "seed", "--leads", "150"])
    assert "none added" in again.output
    assert db.session.scalar(sa.select(sa.func.count(CallAttempt.id))) == calls


def _run_migration_backfill(revision_file: str) -> None:
    spec = importlib.util.spec_from_file_location("metrics_migration", MIGRATIONS / revision_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with Operations.context(MigrationContext.configure(db.session.connection())):
        module._backfill()


def test_the_migration_fills_the_hourly_rollups_as_a_rebuild_does(history):
    rebuilt = _rollup_rows()
    for model in HOURLY.values():
        db.session.execute(sa.delete(model))
    _run_migration_backfill("0012_metrics_speed.py")
    assert _rollup_rows() == rebuilt
    assert sum(row[-1] for row in rebuilt[HOURLY[SlotDayRollup]]) > 0


@pytest.mark.parametrize("zone", ZONES)
def test_a_callers_days_are_counted_on_their_local_midnights(history, zone):
    period = days_period("trend", date(2026, 1, 20), date(2026, 2, 2), ZoneInfo(zone), NOW)
    caller_id = max(key for key in raw_by("caller_id", history, period.window) if key)
    got = q.calls_by_local_day(history, caller_id, period)
    calls = db.session.execute(sa.select(CallAttempt.started_at, CallAttempt.category).where(
        CallAttempt.caller_id == caller_id, CallAttempt.started_at >= period.window.start,
        CallAttempt.started_at < period.window.end))  # fmt: skip
    local = ZoneInfo(zone)
    expected = Counter((at.replace(tzinfo=UTC).astimezone(local).date(), category)
                       for at, category in calls)  # fmt: skip
    assert {(day, c): n for day, t in got.items() for c, n in t.by_category.items()} == expected
    assert len(got) == period.days
