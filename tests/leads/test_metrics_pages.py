"""Metrics pages over HTTP: a manager's week, the best hour, a drill-down, exports, goals."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from html import unescape

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Role
from leads.dial_models import CallAttempt
from leads.metrics_models import Goal
from leads.metrics_periods import parse_period, zone_of
from leads.models import LeadList
from tests.leads.metrics_factories import random_calls, raw_by

NOW = datetime(2026, 2, 20, 15, 37)
HX = {"HX-Request": "true"}


@pytest.fixture
def frozen(app, monkeypatch):
    monkeypatch.setitem(app.config, "DIAL_NOW", NOW.isoformat())


@pytest.fixture
def manager(make_user, login, frozen):
    user = make_user(Role.MANAGER, name="Mia Manager", time_zone="America/Chicago")
    login(user)
    return user


@pytest.fixture
def team(make_user, workspace):
    reps = [make_user(Role.CALLER, name=f"Rep {n}") for n in range(3)]
    kept, gone = LeadList(workspace_id=workspace.id, name="Kept list"), None
    db.session.add(kept)
    db.session.commit()
    random_calls(workspace.id, [r.id for r in reps], [kept.id, 999, gone],
                 NOW - timedelta(days=40), 41, 3000)  # fmt: skip
    return reps, kept


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def _text(response) -> str:
    return unescape(response.get_data(as_text=True))


def test_a_manager_reads_the_week_finds_the_best_hour_drills_in_and_exports(
    client, manager, team, workspace
):
    reps, kept = team
    page = client.get("/metrics/team?period=7d")
    assert page.status_code == 200
    body = _text(page)
    assert "Team leaderboard" in body and "Best time to call" in body
    assert "Deleted list #999" in body
    # The leaderboard's CSV equals the raw GROUP BY over the records, rep by rep.
    period = parse_period({"period": "7d"}, zone_of("America/Chicago"), NOW)
    raw = raw_by("caller_id", workspace.id, period.window)
    rows = _csv(client.get("/metrics/team?period=7d&export=leaderboard"))
    assert rows[0][:3] == ["Rep", "Dials", "Connects"]
    by_name = {row[0]: (int(row[1]), int(row[2])) for row in rows[1:]}
    assert by_name == {rep.name: raw[rep.id][:2] for rep in reps}
    # The best hour for one list: the heatmap swaps alone for htmx.
    fragment = client.get(f"/metrics/team?period=7d&heat_list={kept.id}",
                          headers={**HX, "HX-Target": "heatmap"})  # fmt: skip
    assert "<html" not in fragment.get_data(as_text=True) and 'id="heatmap"' in _text(fragment)
    # Drill into one rep's connects from the leaderboard's link.
    link = re.search(rf'href="([^"]*group=connects[^"]*caller_id={reps[0].id}[^"]*)"', body) or \
        re.search(rf'href="([^"]*caller_id={reps[0].id}[^"]*group=connects[^"]*)"', body)
    assert link, "no drill-down link for the rep's connects"
    drill = client.get(unescape(link.group(1)))
    assert drill.status_code == 200 and "Connects by Rep 0" in _text(drill)
    assert f"{raw[reps[0].id][1]:,} calls" in _text(drill)
    # With two filters the count comes from the records themselves.
    both = client.get(unescape(link.group(1)) + f"&list_id={kept.id}")
    expected = raw_by("caller_id", workspace.id, period.window,
                      f"AND list_id = {kept.id} AND category IN ('conversation', 'call_back', "
                      "'meeting_booked', 'qualified', 'not_interested', 'do_not_call')")
    assert f"{expected[reps[0].id][0]:,} call" in _text(both)
    export = _csv(client.get(unescape(link.group(1)) + "&export=calls"))
    assert len(export) - 1 == raw[reps[0].id][1]
    assert {row[1] for row in export[1:]} == {"Rep 0"}


def test_every_page_has_an_empty_state(client, manager, login, make_user):
    for url in ("/metrics/team", "/metrics/team?period=today", "/metrics/lists",
                "/metrics/calls", "/metrics/goals", "/metrics/me"):  # fmt: skip
        response = client.get(url)
        assert response.status_code == 200, url
    assert "No calls in this period." in _text(client.get("/metrics/team"))
    login(make_user(Role.CALLER))
    assert "No calls yet today" in _text(client.get("/metrics/me"))


def test_a_rep_with_no_calls_is_listed_with_zeros_and_dashes(client, manager, make_user):
    make_user(Role.CALLER, name="Quiet Quinn")
    rows = _csv(client.get("/metrics/team?export=leaderboard"))
    quinn = next(row for row in rows if row[0] == "Quiet Quinn")
    assert quinn[1:4] == ["0", "0", "—"]


@pytest.mark.parametrize(("query", "message"), [
    ("period=custom&from=2026-02-10&to=2026-02-01", "ends before it starts"),
    ("period=custom&from=2016-01-01&to=2026-01-31", "limited to 366 days"),
    ("period=custom&from=soon&to=", "Pick both dates"),
    ("period=custom&from=2030-01-01&to=2030-01-05", ""),
])  # fmt: skip
def test_bad_ranges_show_a_message_not_an_error(client, manager, team, query, message):
    for url in ("/metrics/team", "/metrics/lists", "/metrics/calls"):
        response = client.get(f"{url}?{query}")
        assert response.status_code == 200 and message in _text(response), url


def test_exports_are_formula_safe(client, manager, make_user, workspace):
    rep = make_user(Role.CALLER, name="=HYPERLINK(\"http://x\")")
    random_calls(workspace.id, [rep.id], [None], NOW - timedelta(days=2), 2, 20)
    rows = _csv(client.get("/metrics/team?export=leaderboard"))
    assert rows[1][0] == "'=HYPERLINK(\"http://x\")"
    assert client.get("/metrics/team?export=nope").status_code == 404


def test_drill_down_refuses_bad_filters_politely(client, manager, team):
    response = client.get("/metrics/calls?group=bogus&caller_id=abc&list_id=999")
    assert response.status_code == 200
    body = _text(response)
    assert "Unknown kind of call" in body and "Ignored the caller filter" in body
    assert "on a deleted list" in body


def test_marketer_sees_list_performance_and_days_to_exhaust(client, make_user, login, frozen,
                                                            team):
    login(make_user(Role.MARKETER))
    rows = _csv(client.get("/metrics/lists?period=30d&export=list_performance"))
    assert rows[0][-1] == "Days to exhaust"
    assert {row[0] for row in rows[1:]} >= {"Kept list", "Deleted list #999", "(no list)"}
    assert client.get("/metrics/team").status_code == 403


def test_goals_are_validated_saved_and_shown_to_the_rep(client, manager, make_user, login,
                                                        workspace):
    rep = make_user(Role.CALLER, name="Gail Goal")
    refused = client.post("/metrics/goals", data={"subject": f"user:{rep.id}", "metric": "dials",
                                                  "cadence": "daily", "target": "lots"})
    assert refused.status_code == 422 and "whole number" in _text(refused)
    assert 'value="lots"' in refused.get_data(as_text=True)
    for target in ("80", "90"):  # saving twice replaces the goal
        saved = client.post("/metrics/goals", data={"subject": f"user:{rep.id}",
                                                    "metric": "dials", "cadence": "daily",
                                                    "target": target})  # fmt: skip
        assert saved.status_code == 302
    goal = db.session.scalar(sa.select(Goal))
    assert db.session.scalar(sa.select(sa.func.count(Goal.id))) == 1 and goal.target == 90
    # All of yesterday in the rep's zone (New York): 05:00 UTC to 05:00 UTC.
    random_calls(workspace.id, [rep.id], [None], datetime(2026, 2, 19, 5), 1, 95)
    login(rep)
    mine = _text(client.get("/metrics/me"))
    assert "Gail Goal · daily dials" in mine and "0 / 90" in mine
    assert "Thu 19 Feb: hit (95)" in mine and "Wed 18 Feb: missed (0)" in mine
    login(manager)
    assert client.post(f"/metrics/goals/{goal.id}/delete").status_code == 302
    assert db.session.scalar(sa.select(sa.func.count(Goal.id))) == 0


def test_caller_trend_matches_their_calls(client, make_user, login, frozen, workspace):
    rep = make_user(Role.CALLER, time_zone="Asia/Kolkata")
    random_calls(workspace.id, [rep.id], [None], NOW - timedelta(days=13), 13, 200)
    login(rep)
    rows = _csv(client.get("/metrics/me?export=trend"))
    total = db.session.scalar(sa.select(sa.func.count(CallAttempt.id)).where(
        CallAttempt.started_at >= datetime(2026, 2, 6, 18, 30)))
    assert len(rows) == 15 and sum(int(row[1]) for row in rows[1:]) == total
