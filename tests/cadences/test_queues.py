"""Cadence steps become work in the owner's queues, once; logged calls move cadences on."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Role
from cadences.jobs import process
from cadences.models import (
    CadenceStep,
    Enrollment,
    EnrollmentStatus,
    ExitReason,
    RunStatus,
    StepRun,
)
from cadences.runner import lease_due
from leads.dial_models import Callback
from leads.dialing import claim_next
from leads.social import queue_state
from leads.task_list import due_generic_tasks
from leads.tasks import Task
from tests.cadences.conftest import WEDNESDAY_MORNING, enroll_now
from tests.leads.dial_factories import make_lead as make_diallable_lead

ALWAYS_OPEN = {"window_start": 0, "window_end": 24 * 60, "business_days_only": False}
LINKEDIN = "https://www.linkedin.com/in/ann-example"
HX = {"HX-Request": "true"}
_TOKEN = re.compile(r'name="token" value="([0-9a-f]{32})"')


@pytest.fixture
def worker(make_user):
    """A rep who also dials: owns leads, works the social queue and the dial queue."""
    return make_user(Role.REP, Role.CALLER, name="Wes Worker", email="wes@example.com")


def _tick_twice() -> dict[str, int]:
    """Lease the due enrolments and run the batch twice, as a redelivered job would.

    The second run finds the first one's steps done (and may run a step that became
    due meanwhile): its figures are added in."""
    ids = lease_due(10_000)
    db.session.commit()
    if not ids:
        return {}
    first, second = process(ids), process(ids)
    return {key: first[key] + second.get(key, 0) for key in first}


def _three_step_cadence(make_cadence):
    return make_cadence(
        ("social", {**ALWAYS_OPEN, "instructions": "Comment on their latest post"}),
        ("task", {**ALWAYS_OPEN, "instructions": "Send the case study"}),
        ("call", {**ALWAYS_OPEN, "instructions": "Ask about the pilot"}),
    )


def test_each_step_lands_once_in_its_queue(app, clock, make_cadence, worker):
    lead = make_diallable_lead(worker, first_name="Ann", linkedin_url=LINKEDIN, x_url=None)
    make_diallable_lead(worker, first_name="Fresh")  # a fresh lead the callback must beat
    enroll_now(_three_step_cadence(make_cadence), lead)
    ran = [_tick_twice().get("tasks", 0) for _ in range(4)]
    assert sum(ran) == 3 and ran[-1] == 0  # the call step waits two days for its outcome

    social = queue_state(worker, now=WEDNESDAY_MORNING).task
    assert (social.lead_id, social.network, social.action) == (lead.id, "linkedin", "view")
    assert social.source == "cadence" and social.note == "Comment on their latest post"

    generic = due_generic_tasks(worker, now=WEDNESDAY_MORNING)
    assert [(t.lead_id, t.note) for t in generic] == [(lead.id, "Send the case study")]

    callbacks = db.session.scalars(sa.select(Callback)).all()
    assert [(c.lead_id, c.owner_id, c.enrollment_id is not None) for c in callbacks] == [
        (lead.id, worker.id, True)
    ]
    assert "Ask about the pilot" in callbacks[0].note
    served = claim_next(worker, {}, at=WEDNESDAY_MORNING + timedelta(minutes=1))
    assert served.id == lead.id
    assert db.session.scalar(sa.select(sa.func.count(Task.id))) == 2


def test_a_social_step_is_skipped_without_a_profile_to_open(app, clock, make_cadence, worker):
    lead = make_diallable_lead(worker, x_url="http://x.com/plain-http")
    enrollment = enroll_now(make_cadence(("social", ALWAYS_OPEN)), lead)
    assert _tick_twice()["skipped"] == 1
    run = db.session.scalar(sa.select(StepRun).where(StepRun.enrollment_id == enrollment.id))
    assert run.status == RunStatus.SKIPPED
    assert db.session.scalar(sa.select(sa.func.count(Task.id))) == 0


def test_x_is_chosen_when_there_is_no_linkedin_profile(app, clock, make_cadence, worker):
    lead = make_diallable_lead(worker, x_url="https://x.com/ann", other_profile_url="https://a.b")
    enroll_now(make_cadence(("social", ALWAYS_OPEN)), lead)
    _tick_twice()
    assert db.session.scalar(sa.select(Task.network)) == "x"


def _dispose(client, outcome: str) -> None:
    card = client.post("/dial/next", headers=HX).get_data(as_text=True)
    match = _TOKEN.search(card)
    assert match, card
    response = client.post(
        "/dial/dispose", data={"token": match.group(1), "outcome": outcome}, headers=HX
    )
    assert response.status_code == 200


@pytest.fixture
def dialling(app, client, login, worker, monkeypatch):
    monkeypatch.setitem(
        app.config, "DIAL_NOW", (WEDNESDAY_MORNING + timedelta(hours=1)).isoformat()
    )
    login(worker)
    return client


def test_a_conversation_makes_the_next_step_due(app, clock, make_cadence, worker, dialling):
    lead = make_diallable_lead(worker)
    cadence = make_cadence(("call", ALWAYS_OPEN), ("task", ALWAYS_OPEN))
    enrollment = enroll_now(cadence, lead)
    _tick_twice()
    clock(WEDNESDAY_MORNING + timedelta(hours=1))
    db.session.refresh(enrollment)
    assert enrollment.due_at == WEDNESDAY_MORNING + timedelta(days=2)  # waiting for the call
    _dispose(dialling, "conversation")
    db.session.expire_all()
    assert enrollment.due_at == WEDNESDAY_MORNING + timedelta(hours=1)
    assert _tick_twice()["tasks"] == 1
    assert db.session.scalar(sa.select(Callback.done_at)) is not None  # the call was the callback


def test_do_not_call_ends_the_cadence(app, clock, make_cadence, worker, dialling):
    lead = make_diallable_lead(worker)
    enrollment = enroll_now(make_cadence(("call", ALWAYS_OPEN), ("task", ALWAYS_OPEN)), lead)
    _tick_twice()
    _dispose(dialling, "do_not_call")
    db.session.expire_all()
    assert (enrollment.status, enrollment.exit_reason) == (
        EnrollmentStatus.EXITED,
        ExitReason.DO_NOT_CONTACT,
    )
    assert db.session.get(Enrollment, enrollment.id).due_at is None


def test_one_clock_moves_rotation_the_dial_queue_and_cadences(app):
    from cadences.schedule import now as cadence_now
    from leads import clock
    from leads.calling_hours import utc_now

    moment = datetime(2031, 3, 4, 5, 6)
    clock.set_now(moment)
    try:
        assert (clock.now(), utc_now(), cadence_now()) == (moment, moment, moment)
    finally:
        clock.set_now(None)
    assert cadence_now() != moment


def test_rotation_hands_a_running_cadence_to_the_leads_new_owner(
    app, clock, make_cadence, make_user, workspace, worker
):
    from leads import clock as app_clock
    from leads.rotation_jobs import rotate_leads
    from tests.leads.rotation_helpers import add_leads, make_rule

    creator = make_user(Role.MARKETER, name="Mo Marketer", email="mo@example.com")
    [lead_id] = add_leads(workspace.id, 1, linkedin_url=LINKEDIN)
    cadence = make_cadence(("social", ALWAYS_OPEN))
    enrollment = Enrollment(
        cadence_id=cadence.id, lead_id=lead_id, owner_id=creator.id, due_at=WEDNESDAY_MORNING
    )  # as an import into an auto-enrolling list leaves it, before rotation ran
    db.session.add(enrollment)
    make_rule(workspace.id, [worker])
    app_clock.set_now(WEDNESDAY_MORNING)
    try:
        assert rotate_leads(workspace.id, "test") == 1
    finally:
        app_clock.set_now(None)
    db.session.expire_all()
    assert enrollment.owner_id == worker.id
    _tick_twice()
    assert db.session.scalar(sa.select(Task.owner_id)) == worker.id


def test_a_social_step_works_on_its_network_with_its_action(app, clock, make_cadence, worker):
    """The step names X and "connect": a lead with only a LinkedIn profile is skipped,
    one with an X profile gets exactly that task."""
    cadence = make_cadence(("social", {**ALWAYS_OPEN, "network": "x", "social_action": "connect"}))
    on_x = make_diallable_lead(worker, first_name="Xena", x_url="https://x.com/xena")
    linkedin_only = make_diallable_lead(worker, first_name="Lin", linkedin_url=LINKEDIN)
    for lead in (on_x, linkedin_only):
        enroll_now(cadence, lead)
    ran = _tick_twice()
    assert (ran["tasks"], ran["skipped"]) == (1, 1)
    tasks = db.session.execute(sa.select(Task.lead_id, Task.network, Task.action)).all()
    assert tasks == [(on_x.id, "x", "connect")]
    skipped = db.session.scalar(sa.select(StepRun.lead_id).where(StepRun.status == "skipped"))
    assert skipped == linkedin_only.id


def test_the_builder_saves_a_social_steps_network_and_action(
    app, client, login, clock, make_cadence, rep
):
    cadence = make_cadence()
    login(rep)
    page = client.post(f"/cadences/{cadence.id}/steps", headers=HX, data={
        "kind": "social", "network": "linkedin", "social_action": "comment",
        "window_start": "08:00", "window_end": "18:00",
    })  # fmt: skip
    assert page.status_code == 200 and "Comment on a post on LinkedIn" in page.text
    step = db.session.scalar(sa.select(CadenceStep).where(CadenceStep.cadence_id == cadence.id))
    assert (step.network, step.social_action) == ("linkedin", "comment")
    bad = client.post(f"/cadences/{cadence.id}/steps", headers=HX, data={
        "kind": "social", "network": "myspace", "social_action": "poke",
    })  # fmt: skip
    assert bad.status_code == 422
    assert "Choose LinkedIn, X" in bad.text and "Choose what the rep does" in bad.text
