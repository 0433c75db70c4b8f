"""Remembered figures of finished days: read once, never served after their calls changed."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Role
from leads import metrics_queries as q
from leads.dial_models import CallAttempt
from leads.dialing import claim_next
from leads.dispositions import Disposition, dispose
from leads.metrics_cache import rollup_token
from leads.metrics_models import RollupVersion
from leads.metrics_periods import Window, days_period
from leads.metrics_rollups import rebuild
from leads.models import LeadList
from tests.leads.dial_factories import OPEN, make_lead
from tests.leads.metrics_factories import random_calls, raw_by

NOW = OPEN + timedelta(days=2)  # Friday: OPEN's Wednesday has ended
WEEK = Window(NOW - timedelta(days=7), NOW)
FINISHED = Window(WEEK.start, NOW.replace(hour=0))  # all in UTC days that have ended


@pytest.fixture
def caller(app, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "DIAL_NOW", NOW.isoformat())
    user = make_user(Role.CALLER, name="Cal Caller")
    for _ in range(4):
        make_lead(user)
    return user


def _call(user, outcome, at):
    lead = claim_next(user, {}, at=at)
    assert lead is not None
    dispose(user, Disposition(lead.dial_lease_token, outcome, duration_seconds=30), at=at)
    db.session.commit()


def _dials(workspace_id, window=WEEK):
    return {key[0]: t.dials for key, t in q.by_caller(workspace_id, window).items()}


def _raw_dials(workspace_id, window=WEEK):
    rows = raw_by("COALESCE(caller_id, 0)", workspace_id, window)
    return {key: figures[0] for key, figures in rows.items()}


@contextmanager
def _rollup_reads():
    """The statements that read a caller rollup while the block runs."""
    seen = []

    def count(conn, cursor, statement, *args):
        if "call_caller_" in statement and statement.lstrip().startswith("SELECT"):
            seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)


def test_a_finished_days_figures_are_read_once(caller, workspace):
    _call(caller, "no_answer", OPEN)
    with _rollup_reads() as reads:
        first = _dials(workspace.id, FINISHED)
    assert reads, "the first read adds up the rollups"
    with _rollup_reads() as reads:
        assert _dials(workspace.id, FINISHED) == first == _raw_dials(workspace.id, FINISHED)
    assert reads == []
    # Without a token (no call recorded since the tables were made) nothing is remembered.
    db.session.execute(sa.delete(RollupVersion))
    db.session.commit()
    with _rollup_reads() as reads:
        _dials(workspace.id, FINISHED)
        _dials(workspace.id, FINISHED)
    assert len(reads) == 2


def _trend(caller):
    period = days_period("trend", OPEN.date(), NOW.date(), ZoneInfo("UTC"), NOW)
    return {day: t.dials for day, t in q.calls_by_local_day(caller.workspace_id, caller.id,
                                                            period).items()}  # fmt: skip


def test_a_late_call_is_counted_at_once(caller, workspace):
    _call(caller, "no_answer", OPEN)
    before, trend, token = _dials(workspace.id), _trend(caller), rollup_token(workspace.id)
    _call(caller, "conversation", OPEN + timedelta(hours=1))  # lands in a finished day
    assert rollup_token(workspace.id) != token
    after = _dials(workspace.id)
    assert after == _raw_dials(workspace.id) and after[caller.id] == before[caller.id] + 1
    assert _trend(caller) == {**trend, OPEN.date(): trend[OPEN.date()] + 1}


def test_a_call_today_keeps_the_finished_days(caller, workspace):
    _call(caller, "no_answer", OPEN)
    before, token = _dials(workspace.id), rollup_token(workspace.id)
    _call(caller, "no_answer", NOW - timedelta(hours=1))
    assert rollup_token(workspace.id) == token
    after = _dials(workspace.id)
    assert after == _raw_dials(workspace.id) and after[caller.id] == before[caller.id] + 1


def test_an_edited_outcome_shows_once_the_rollups_are_rebuilt(caller, workspace):
    random_calls(workspace.id, [caller.id], [None], NOW - timedelta(days=6), 5, 300)
    outcomes = q.project(q.caller_outcome_sums(workspace.id, WEEK), 1)
    edited = db.session.scalar(sa.select(sa.func.min(CallAttempt.id)).where(
        CallAttempt.outcome != "qualified"))  # fmt: skip
    db.session.execute(sa.update(CallAttempt).where(CallAttempt.id == edited)
                       .values(outcome="qualified", category="qualified"))  # fmt: skip
    rebuild(workspace.id)
    db.session.commit()
    now = q.project(q.caller_outcome_sums(workspace.id, WEEK), 1)
    assert now[("qualified",)].dials == outcomes[("qualified",)].dials + 1
    expected = raw_by("outcome", workspace.id, WEEK)
    assert {key[0]: (t.dials, t.connects) for key, t in now.items()} == {
        key: figures[:2] for key, figures in expected.items()}  # fmt: skip


def test_a_deleted_list_keeps_its_remembered_figures_under_a_new_label(
    app, client, make_user, login, monkeypatch, workspace
):
    monkeypatch.setitem(app.config, "DIAL_NOW", NOW.isoformat())
    login(make_user(Role.MANAGER, time_zone="UTC"))
    doomed = LeadList(workspace_id=workspace.id, name="Doomed list")
    db.session.add(doomed)
    db.session.commit()
    random_calls(workspace.id, [None], [doomed.id], NOW - timedelta(days=6), 5, 200)
    assert "Doomed list" in client.get("/metrics/lists?period=7d").get_data(as_text=True)
    db.session.delete(doomed)
    db.session.commit()
    page = client.get("/metrics/lists?period=7d").get_data(as_text=True)
    assert "Doomed list" not in page and f"Deleted list #{doomed.id}" in page
    lists = q.project(q.list_source_sums(workspace.id, WEEK), 0)
    assert lists[(doomed.id,)].dials == raw_by("list_id", workspace.id, WEEK)[doomed.id][0] == 200
