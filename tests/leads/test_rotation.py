"""Rotation: fair methods, availability and caps, rules in order, audit, idempotence."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Role
from leads import clock
from leads.models import DoNotContact, Lead, LeadList
from leads.rotation import assign_unassigned
from leads.rotation_models import RepAwayPeriod, RepSettings
from tests.leads.rotation_helpers import add_leads, assignment_audit, make_rule, owners

NOON_UTC = datetime(2026, 11, 24, 17, 0)  # a Tuesday, noon in New York


@pytest.fixture(autouse=True)
def fixed_clock():
    clock.set_now(NOON_UTC)
    yield
    clock.set_now(None)


@pytest.fixture
def reps(make_user):
    return [make_user(Role.REP, name=f"Rep {n}") for n in range(3)]


def rotate(workspace, **kwargs):
    result = assign_unassigned(workspace.id, **kwargs)
    db.session.commit()
    return result


def test_round_robin_takes_turns_and_audits_each_assignment(workspace, reps):
    rule = make_rule(workspace.id, reps)
    ids = add_leads(workspace.id, 7)
    result = rotate(workspace)
    assert result.assigned == 7
    given = owners()
    assert [given[i] for i in ids] == [r.id for r in reps] * 2 + [reps[0].id]
    audit = assignment_audit()
    assert [(lead, data["to"]) for lead, data in audit] == [(i, given[i]) for i in ids]
    assert all(d["from"] is None and d["rule_id"] == rule.id and d["why"] for _, d in audit)


def test_the_turn_survives_between_batches(workspace, reps):
    make_rule(workspace.id, reps)
    first = add_leads(workspace.id, 2)
    rotate(workspace)
    second = add_leads(workspace.id, 4)
    rotate(workspace)
    given = owners()
    assert Counter(given[i] for i in first + second) == {
        reps[0].id: 2,
        reps[1].id: 2,
        reps[2].id: 2,
    }
    assert given[second[0]] == reps[2].id


def test_rotating_twice_assigns_nothing_more(workspace, reps):
    make_rule(workspace.id, reps)
    add_leads(workspace.id, 5)
    rotate(workspace)
    before = owners()
    assert rotate(workspace).assigned == 0
    assert owners() == before
    assert len(assignment_audit()) == 5


def test_weighted_shares_are_exact(workspace, reps):
    make_rule(workspace.id, {reps[0]: 1, reps[1]: 2, reps[2]: 7}, method="weighted")
    add_leads(workspace.id, 1000)
    rotate(workspace)
    counts = Counter(owners().values())
    assert counts == {reps[0].id: 100, reps[1].id: 200, reps[2].id: 700}


def test_least_loaded_fills_the_emptiest_rep_first(workspace, reps):
    add_leads(workspace.id, 4, owner_id=reps[0].id)
    add_leads(workspace.id, 2, owner_id=reps[1].id)
    make_rule(workspace.id, reps, method="least_loaded")
    ids = add_leads(workspace.id, 6)
    rotate(workspace)
    given = owners()
    assert Counter(given[i] for i in ids) == {reps[2].id: 4, reps[1].id: 2}


def test_a_rep_marked_away_receives_nothing(workspace, reps):
    make_rule(workspace.id, reps)
    db.session.add(RepAwayPeriod(user_id=reps[1].id, starts_on=date(2026, 11, 23),
                                 ends_on=date(2026, 11, 27)))  # fmt: skip
    db.session.commit()
    add_leads(workspace.id, 10)
    rotate(workspace)
    counts = Counter(owners().values())
    assert reps[1].id not in counts
    assert counts == {reps[0].id: 5, reps[2].id: 5}


def test_a_returning_rep_gets_a_fair_share_not_a_flood(workspace, reps):
    make_rule(workspace.id, reps)
    db.session.add(RepSettings(user_id=reps[1].id, accepts_leads=False))
    db.session.commit()
    add_leads(workspace.id, 20)
    rotate(workspace)
    db.session.get(RepSettings, reps[1].id).accepts_leads = True
    db.session.commit()
    ids = add_leads(workspace.id, 9)
    rotate(workspace)
    given = owners()
    counts = Counter(given[i] for i in ids)
    # Without the catch-up the returning rep would take all nine (20 leads behind).
    assert 3 <= counts[reps[1].id] <= 4
    assert min(counts.values()) >= 2


def test_working_hours_are_read_in_the_reps_time_zone(workspace, reps):
    make_rule(workspace.id, reps)
    reps[0].time_zone = "Asia/Tokyo"  # 02:00 there
    for rep in reps[:2]:
        db.session.add(RepSettings(user_id=rep.id, work_start=time(9), work_end=time(17)))
    db.session.commit()
    add_leads(workspace.id, 4)
    rotate(workspace)
    assert Counter(owners().values()) == {reps[1].id: 2, reps[2].id: 2}


def test_caps_stop_a_rep_and_leads_wait_when_everyone_is_full(workspace, reps):
    make_rule(workspace.id, reps[:2])
    db.session.add(RepSettings(user_id=reps[0].id, daily_cap=2))
    db.session.add(RepSettings(user_id=reps[1].id, open_cap=3))
    db.session.commit()
    add_leads(workspace.id, 8)
    result = rotate(workspace)
    assert (result.assigned, result.waiting) == (5, 3)
    assert Counter(owners().values()) == {reps[0].id: 2, reps[1].id: 3, None: 3}
    # The next day the daily cap is fresh; the waiting leads go out on the next run.
    clock.set_now(NOON_UTC + timedelta(days=1))
    assert rotate(workspace).assigned == 2


def test_rules_match_in_order_and_the_fallback_takes_the_rest(workspace, reps):
    texas = make_rule(workspace.id, [reps[0]], name="Texas", state="tx", position=1)
    make_rule(workspace.id, [reps[1]], name="Web", source="Web", position=2)
    make_rule(workspace.id, [reps[2]], name="Everyone else", is_fallback=True)
    lead_list = LeadList(workspace_id=workspace.id, name="Fairs")
    db.session.add(lead_list)
    db.session.commit()
    make_rule(workspace.id, [reps[1]], name="Fairs", list_id=lead_list.id, position=0)
    [in_texas] = add_leads(workspace.id, 1, state="TX", source="web")
    [from_web] = add_leads(workspace.id, 1, state="CA", source="web")
    [at_fair] = add_leads(workspace.id, 1, state="TX", list_id=lead_list.id)
    [other] = add_leads(workspace.id, 1, state="CA")
    rotate(workspace)
    given = owners()
    assert given[in_texas] == reps[0].id
    assert given[from_web] == reps[1].id
    assert given[at_fair] == reps[1].id
    assert given[other] == reps[2].id
    # Nobody free in the matched rule: the fallback steps in and says why.
    db.session.add(RepSettings(user_id=reps[0].id, accepts_leads=False))
    db.session.commit()
    [late] = add_leads(workspace.id, 1, state="TX")
    rotate(workspace)
    assert owners()[late] == reps[2].id
    assert f"nobody available in {texas.name}" in assignment_audit()[-1][1]["why"]


def test_custom_field_conditions(workspace, reps):
    make_rule(workspace.id, [reps[0]], name="Enterprise", field_name="tier", field_value="Gold")
    [gold] = add_leads(workspace.id, 1, custom_fields={"tier": "gold"})
    [plain] = add_leads(workspace.id, 1)
    rotate(workspace)
    assert owners() == {gold: reps[0].id, plain: None}


def test_do_not_contact_leads_get_no_owner(workspace, reps):
    make_rule(workspace.id, reps)
    [blocked] = add_leads(workspace.id, 1, email="x@example.com", email_key="x@example.com")
    [fine] = add_leads(workspace.id, 1)
    db.session.add(DoNotContact(workspace_id=workspace.id, kind="email", value="x@example.com"))
    db.session.commit()
    rotate(workspace)
    assert owners()[blocked] is None and owners()[fine] is not None


def test_assignment_keeps_updated_at_for_import_undo(workspace, reps):
    make_rule(workspace.id, reps)
    [lead_id] = add_leads(workspace.id, 1)
    stamp = db.session.get(Lead, lead_id).updated_at
    rotate(workspace)
    db.session.expire_all()
    lead = db.session.get(Lead, lead_id)
    assert lead.updated_at == stamp and lead.assigned_at == NOON_UTC


def test_batches_walk_the_pool_by_cursor(workspace, reps):
    make_rule(workspace.id, reps)
    ids = add_leads(workspace.id, 25)
    result = rotate(workspace, limit=10)
    assert (result.assigned, result.more, result.last_id) == (10, True, ids[9])
    result = rotate(workspace, after_id=result.last_id, limit=10)
    assert result.last_id == ids[19]
    assert sum(1 for v in owners().values() if v) == 20
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(Lead).where(Lead.owner_id.is_(None))
        )
        == 5
    )

