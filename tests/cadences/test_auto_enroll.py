"""Auto-enrolment: leads an import adds to a list join the list's cadence when it finishes;
leads assigned to a rep join the cadence whose assignment rule they match."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Role, Team
from cadences.models import AssignRule, Enrollment
from leads.models import DoNotContact, Lead, LeadList
from leads.signals import import_finished
from tests.cadences.conftest import WEDNESDAY_MORNING
from tests.leads.test_imports import ROWS, make_run


def test_an_import_into_a_list_enrols_its_new_leads(app, workspace, make_cadence, rep):
    from leads.imports import run_import

    lead_list = LeadList(workspace_id=workspace.id, name="Webinar")
    db.session.add(lead_list)
    db.session.commit()
    cadence = make_cadence(("task", {}))
    cadence.auto_enroll_list_id, cadence.created_by_id = lead_list.id, rep.id
    db.session.commit()
    seen = []
    with import_finished.connected_to(lambda run, **_: seen.append(run.id)):
        run = run_import(make_run(workspace, ROWS, list_id=lead_list.id).id)
    assert seen == [run.id]
    enrolled = db.session.scalars(sa.select(Enrollment.lead_id)).all()
    assert len(enrolled) == run.created > 0


@pytest.fixture
def assign_rule(workspace, make_cadence, make_user):
    """A cadence enrolling leads of the "Webinar" list assigned to a rep of team East."""
    east = Team(workspace_id=workspace.id, name="East")
    webinar = LeadList(workspace_id=workspace.id, name="Webinar")
    db.session.add_all([east, webinar])
    db.session.commit()
    creator = make_user(Role.MARKETER, name="Mo Marketer")
    cadence = make_cadence(("task", {}))
    cadence.created_by_id = creator.id
    cadence.assign_rule = AssignRule(list_id=webinar.id, team_id=east.id)
    db.session.commit()
    return cadence, east, webinar


def _enrolled() -> dict[int, tuple[int, int | None]]:
    rows = db.session.execute(
        sa.select(Enrollment.lead_id, Enrollment.cadence_id, Enrollment.owner_id)
    )
    return {lead_id: (cadence_id, owner_id) for lead_id, cadence_id, owner_id in rows}


def test_rotation_enrols_the_leads_a_rule_matches(
    app, workspace, make_user, make_cadence, assign_rule
):
    from leads import clock
    from leads.rotation_jobs import rotate_leads
    from tests.leads.rotation_helpers import add_leads, make_rule, owners

    cadence, east, webinar = assign_rule
    eve = make_user(Role.REP, name="Eve East", team_id=east.id)
    wes = make_user(Role.REP, name="Wes West")
    in_list = add_leads(workspace.id, 8, list_id=webinar.id)
    elsewhere = add_leads(workspace.id, 4)
    # One listed lead on the do-not-contact list, one already in another cadence.
    blocked, busy = in_list[0], in_list[1]
    for lead_id in in_list:
        db.session.get(Lead, lead_id).email_key = f"lead{lead_id}@example.com"
    db.session.add(DoNotContact(workspace_id=workspace.id, kind="email",
                                value=f"lead{blocked}@example.com", reason="asked"))  # fmt: skip
    other = make_cadence(("task", {}), name="Other")
    db.session.add(Enrollment(cadence_id=other.id, lead_id=busy, owner_id=wes.id))
    db.session.commit()
    make_rule(workspace.id, [eve, wes])

    clock.set_now(WEDNESDAY_MORNING)
    try:
        assert (
            rotate_leads(workspace.id, "test") == 11
        )  # rotation itself passes over the blocked one
        rotate_leads(workspace.id, "test")  # run again, as a redelivered job would
    finally:
        clock.set_now(None)
    owner_of = owners()
    expected = {
        lead_id for lead_id in in_list
        if owner_of[lead_id] == eve.id and lead_id not in (blocked, busy)
    }  # fmt: skip
    assert expected and any(owner_of[i] == wes.id for i in in_list[2:])
    assert any(owner_of[i] == eve.id for i in elsewhere)
    enrolled = _enrolled()
    assert {i for i, (c, _) in enrolled.items() if c == cadence.id} == expected
    assert all(enrolled[i] == (cadence.id, eve.id) for i in expected)
    assert enrolled[busy][0] == other.id and blocked not in enrolled


def test_the_daily_enrolment_limit_holds_for_assignment(
    app, monkeypatch, workspace, make_user, assign_rule
):
    from leads import clock
    from leads.rotation_jobs import rotate_leads
    from tests.leads.rotation_helpers import add_leads, make_rule

    cadence, east, webinar = assign_rule
    eve = make_user(Role.REP, name="Eve East", team_id=east.id)
    add_leads(workspace.id, 5, list_id=webinar.id)
    make_rule(workspace.id, [eve])
    monkeypatch.setitem(app.config, "CADENCE_MAX_ENROLLMENTS_PER_REP_DAY", 2)
    clock.set_now(WEDNESDAY_MORNING)
    try:
        assert rotate_leads(workspace.id, "test") == 5
    finally:
        clock.set_now(None)
    assert len(_enrolled()) == 2


def test_bulk_reassignment_and_the_lead_form_enrol_by_the_rule(
    app, client, login, workspace, make_user, assign_rule
):
    from tests.leads.rotation_helpers import add_leads
    from tests.leads.test_lead_pages import FORM

    cadence, east, webinar = assign_rule
    eve = make_user(Role.REP, name="Eve East", team_id=east.id)
    wes = make_user(Role.REP, name="Wes West")
    first, second, third = add_leads(workspace.id, 3, list_id=webinar.id, owner_id=wes.id)
    login(make_user(Role.MANAGER))
    client.post("/rotation/reassign", data={"lead_ids": f"{first}", "to_user_id": str(wes.id)})
    assert _enrolled() == {}  # Wes is in no team of the rule: nothing moved anyway
    client.post("/rotation/reassign", data={"lead_ids": f"{first}", "to_user_id": str(eve.id)})
    assert _enrolled() == {first: (cadence.id, eve.id)}
    page = client.post(f"/leads/{second}/edit", data={
        **FORM, "first_name": "Sam", "owner_id": str(eve.id), "list_id": str(webinar.id),
    })  # fmt: skip
    assert page.status_code == 302
    assert _enrolled() == {first: (cadence.id, eve.id), second: (cadence.id, eve.id)}
    assert third not in _enrolled()


def test_the_builder_saves_an_assignment_rule(
    app, client, login, workspace, make_user, assign_rule
):
    cadence, east, webinar = assign_rule
    login(make_user(Role.MARKETER))
    page = client.post(f"/cadences/{cadence.id}/settings", headers={"HX-Request": "true"}, data={
        "name": cadence.name, "assign_enroll": "on", "assign_list_id": "",
        "assign_team_id": str(east.id),
    })  # fmt: skip
    assert page.status_code == 200 and "Settings saved" in page.get_data(as_text=True)
    db.session.expire_all()
    assert (cadence.assign_rule.list_id, cadence.assign_rule.team_id) == (None, east.id)
    client.post(f"/cadences/{cadence.id}/settings", data={"name": cadence.name})
    db.session.expire_all()
    assert cadence.assign_rule is None
    bad = client.post(f"/cadences/{cadence.id}/settings", data={
        "name": cadence.name, "assign_enroll": "on", "assign_team_id": "999999",
    })  # fmt: skip
    assert bad.status_code == 422 and "Choose a team of this workspace" in bad.get_data(
        as_text=True
    )
