"""The SLA sweep with a controllable clock: untouched leads move on, never back, then escalate."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from app.extensions import db
from app.models import Role
from leads import clock
from leads.models import ActivityType, Lead
from leads.rotation import assign_unassigned
from leads.rotation_models import RepSettings
from leads.rotation_sla import rerotate_stale
from leads.timeline import record
from tests.leads.rotation_helpers import add_leads, assignment_audit, make_rule, owners

START = datetime(2026, 11, 24, 15, 0)


@pytest.fixture
def at():
    def move(hours: float) -> None:
        clock.set_now(START + timedelta(hours=hours))

    move(0)
    yield move
    clock.set_now(None)


@pytest.fixture
def reps(make_user):
    return [make_user(Role.REP, name=f"Rep {n}") for n in range(3)]


def sweep(workspace):
    result = rerotate_stale(workspace.id)
    db.session.commit()
    return result


def test_an_untouched_lead_moves_on_after_its_sla(workspace, reps, at):
    make_rule(workspace.id, reps, sla_hours=4, max_rotations=2)
    [lead_id] = add_leads(workspace.id, 1)
    assign_unassigned(workspace.id)
    db.session.commit()
    first = owners()[lead_id]
    at(3.9)
    assert sweep(workspace).assigned == 0
    assert owners()[lead_id] == first
    at(4.1)
    assert sweep(workspace).assigned == 1
    second = owners()[lead_id]
    assert second not in (None, first)
    lead = db.session.get(Lead, lead_id)
    assert lead.rotation_count == 1 and lead.assigned_at == START + timedelta(hours=4.1)
    last = assignment_audit()[-1][1]
    assert (last["from"], last["to"], last["reason"]) == (first, second, "sla")


def test_a_touched_lead_stays(workspace, reps, at, make_user):
    make_rule(workspace.id, reps, sla_hours=4)
    [lead_id] = add_leads(workspace.id, 1)
    assign_unassigned(workspace.id)
    db.session.commit()
    lead = db.session.get(Lead, lead_id)
    note = record(lead, ActivityType.NOTE, lead.owner, "Left a voicemail")
    note.occurred_at = START + timedelta(hours=1)
    db.session.commit()
    at(10)
    assert sweep(workspace).assigned == 0


def test_never_back_to_a_previous_owner_then_escalated(workspace, reps, at):
    make_rule(workspace.id, reps, sla_hours=1, max_rotations=5)
    [lead_id] = add_leads(workspace.id, 1)
    assign_unassigned(workspace.id)
    db.session.commit()
    seen = [owners()[lead_id]]
    for hour in (2, 4):
        at(hour)
        sweep(workspace)
        seen.append(owners()[lead_id])
    assert sorted(seen) == sorted(r.id for r in reps)
    at(6)  # everyone had it: the managers get it, the last rep keeps it meanwhile
    result = sweep(workspace)
    assert (result.assigned, result.escalated) == (0, 1)
    lead = db.session.get(Lead, lead_id)
    assert lead.escalated_at == START + timedelta(hours=6) and lead.owner_id == seen[-1]
    at(9)
    assert sweep(workspace).escalated == 0  # escalated leads leave the sweep


def test_at_most_m_moves(workspace, reps, at):
    make_rule(workspace.id, reps, sla_hours=1, max_rotations=1)
    [lead_id] = add_leads(workspace.id, 1)
    assign_unassigned(workspace.id)
    db.session.commit()
    at(2)
    assert sweep(workspace).assigned == 1
    at(4)
    result = sweep(workspace)
    assert (result.assigned, result.escalated) == (0, 1)
    assert db.session.get(Lead, lead_id).rotation_count == 1


def test_a_stale_lead_waits_while_the_others_are_away(workspace, reps, at):
    make_rule(workspace.id, reps[:2], sla_hours=1)
    [lead_id] = add_leads(workspace.id, 1)
    assign_unassigned(workspace.id)
    db.session.commit()
    holder = owners()[lead_id]
    other = next(r for r in reps[:2] if r.id != holder)
    db.session.add(RepSettings(user_id=other.id, accepts_leads=False))
    db.session.commit()
    at(2)
    result = sweep(workspace)
    assert (result.assigned, result.escalated, result.waiting) == (0, 0, 1)
    db.session.get(RepSettings, other.id).accepts_leads = True
    db.session.commit()
    assert sweep(workspace).assigned == 1
    assert owners()[lead_id] == other.id
