"""Auto-advance and exits: call outcomes, replies (marked or posted), pause and resume, stats."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import Role
from cadences.exits import on_call_outcome, set_paused
from cadences.jobs import process
from cadences.models import Enrollment, ExitReason, StepRun
from cadences.runner import lease_due
from cadences.stats import cadence_stats
from leads.models import Lead
from tests.cadences.conftest import WEDNESDAY_MORNING, enroll_now


def _tick() -> dict[str, int]:
    ids = lease_due(10_000)
    db.session.commit()
    return process(ids) if ids else {}


def test_a_conversation_moves_on_after_a_call_step(app, clock, make_cadence, make_lead):
    cadence = make_cadence(("call", {}), ("task", {}))
    enrollment = enroll_now(cadence, make_lead())
    _tick()
    db.session.refresh(enrollment)
    # The call task is out; the cadence waits for its outcome (at most two days).
    assert enrollment.due_at == WEDNESDAY_MORNING + timedelta(days=2)
    assert on_call_outcome(enrollment.lead_id, "no_answer") == "none"
    assert on_call_outcome(enrollment.lead_id, "conversation") == "advanced"
    db.session.commit()
    assert _tick()["tasks"] == 1


def test_qualified_and_do_not_call_outcomes_end_the_cadence(app, clock, make_cadence, make_lead):
    cadence = make_cadence(("call", {}))
    first, second = enroll_now(cadence, make_lead()), enroll_now(cadence, make_lead())
    assert on_call_outcome(first.lead_id, "qualified") == "exited"
    assert on_call_outcome(second.lead_id, "do_not_call") == "exited"
    db.session.commit()
    db.session.expire_all()
    assert (first.exit_reason, second.exit_reason) == (
        ExitReason.QUALIFIED,
        ExitReason.DO_NOT_CONTACT,
    )


def test_a_conversation_can_pause_instead(app, clock, make_cadence, make_lead):
    enrollment = enroll_now(make_cadence(("call", {})), make_lead())
    assert (
        on_call_outcome(enrollment.lead_id, "conversation", pause_on_conversation=True) == "paused"
    )
    db.session.commit()
    assert lease_due(10) == []
    set_paused(Enrollment.id == enrollment.id, False)
    db.session.commit()
    assert lease_due(10) == [enrollment.id]


def test_an_inbound_reply_stops_the_cadence_and_counts_for_its_variant(
    app, client, clock, smtp_server, make_sender, make_cadence, make_lead
):
    inbox, port = smtp_server
    cadence = make_cadence(("email", {}), ("task", {}), sender=make_sender(port))
    enrollment = enroll_now(cadence, make_lead())
    _tick()
    message_id = inbox.messages[0]["Message-ID"]
    app.config["INBOUND_REPLY_KEY"] = "k" * 32
    try:
        client.csrf = False
        refused = client.post("/cadences/inbound-reply", json={"in_reply_to": message_id})
        assert refused.status_code == 401
        answer = client.post(
            "/cadences/inbound-reply",
            json={"in_reply_to": message_id},
            headers={"X-Leadline-Key": "k" * 32},
        )
        assert answer.get_json() == {"matched": True}
    finally:
        app.config["INBOUND_REPLY_KEY"] = None
    db.session.expire_all()
    assert (enrollment.status, enrollment.exit_reason) == ("exited", ExitReason.REPLIED)
    stats = cadence_stats(cadence.id)
    variant = cadence.steps[0].variants[0]
    assert (stats.by_variant[variant.id].sent, stats.by_variant[variant.id].replied) == (1, 1)
    assert stats.exits == {"replied": 1}
    assert _tick() == {}
    from cadences.stats import stats_csv

    lines = stats_csv(cadence, stats).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("step,type,variant,subject,sending,retry,sent,")
    assert lines[1].startswith("1,email,A,") and lines[1].endswith(",1,1,0,0")
    assert lines[2].startswith("2,task,,,")


def test_the_rep_marks_a_reply(app, client, login, make_user, clock, make_cadence, make_lead):
    rep = make_user(Role.REP)
    login(rep)
    enrollment = enroll_now(make_cadence(("task", {})), make_lead(owner_id=rep.id))
    assert client.post(f"/cadences/leads/{enrollment.lead_id}/replied").status_code == 302
    db.session.expire_all()
    assert enrollment.exit_reason == ExitReason.REPLIED


def test_a_rep_pauses_resumes_and_removes_one_enrolment(
    app, client, login, make_user, clock, make_cadence, make_lead
):
    rep = make_user(Role.REP)
    login(rep)
    enrollment = enroll_now(
        make_cadence(("task", {})), make_lead(owner_id=rep.id, first_name="Ines")
    )
    page = client.get(f"/cadences/{enrollment.cadence_id}").get_data(as_text=True)
    assert "Ines" in page and f"/cadences/enrollments/{enrollment.id}/pause" in page
    for change, status in (("pause", "paused"), ("resume", "active"), ("remove", "exited")):
        client.post(f"/cadences/enrollments/{enrollment.id}/{change}")
        db.session.expire_all()
        assert enrollment.status == status
    assert enrollment.exit_reason == ExitReason.REMOVED


def test_erasing_a_lead_leaves_nothing_to_run(app, clock, make_cadence, make_lead):
    cadence = make_cadence(("task", {}))
    lead = make_lead()
    enroll_now(cadence, lead)
    db.session.delete(lead)
    db.session.commit()
    assert _tick() == {}
    assert db.session.scalar(sa.select(sa.func.count(StepRun.id))) == 0


def test_a_qualified_lead_leaves_its_cadence_at_once(app, clock, make_cadence, make_lead):
    from leads.signals import lead_qualified

    enrollment = enroll_now(make_cadence(("task", {})), make_lead())
    lead = db.session.get(Lead, enrollment.lead_id)
    lead.status = "qualified"
    db.session.commit()
    lead_qualified.send(lead, user_id=None)
    db.session.expire_all()
    assert (enrollment.status, enrollment.exit_reason) == ("exited", ExitReason.QUALIFIED)
    assert cadence_stats(enrollment.cadence_id).exits == {"qualified": 1}
