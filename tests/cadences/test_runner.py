"""The runner in-process: each step once, run-time contactability, windows, waits."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa

from app.extensions import db
from cadences.jobs import process
from cadences.models import Enrollment, EnrollmentStatus, ExitReason, Holiday, RunStatus, StepRun
from cadences.runner import lease_due
from cadences.signals import cadence_tasks_due
from leads.models import ContactKind, DoNotContact, LeadStatus
from tests.cadences.conftest import WEDNESDAY_MORNING, enroll_now


def _tick() -> dict[str, int]:
    ids = lease_due(10_000)
    db.session.commit()
    return process(ids) if ids else {}


def _runs(enrollment: Enrollment) -> list[StepRun]:
    db.session.expire_all()
    return list(
        db.session.scalars(sa.select(StepRun).where(StepRun.enrollment_id == enrollment.id))
    )


def test_a_task_step_runs_once_even_when_its_batch_runs_twice(app, clock, make_cadence, make_lead):
    cadence = make_cadence(("social", {"instructions": "Like a post"}))
    enrollment = enroll_now(cadence, make_lead(linkedin_url="https://www.linkedin.com/in/pat"))
    announced = []

    def receiver(_sender, **kwargs):
        announced.extend(kwargs["tasks"])

    with cadence_tasks_due.connected_to(receiver):
        ids = lease_due(100)
        db.session.commit()
        first, second = process(ids), process(ids)  # the same job delivered twice
    assert (first["tasks"], second["tasks"], second["finished"]) == (1, 0, 1)
    assert [a["kind"] for a in announced] == ["social"]
    assert announced[0]["instructions"] == "Like a post"
    assert announced[0]["step_run_id"] == _runs(enrollment)[0].id
    db.session.refresh(enrollment)
    assert enrollment.position == 1


def test_the_cadence_walks_to_the_end_and_finishes(app, clock, make_cadence, make_lead):
    cadence = make_cadence(
        ("task", {}), ("wait", {"wait_amount": 2, "wait_unit": "hours"}), ("task", {})
    )
    enrollment = enroll_now(cadence, make_lead())
    assert _tick()["tasks"] == 1
    assert _tick()["waits"] == 1
    assert _tick() == {}  # waiting two hours
    clock(WEDNESDAY_MORNING + timedelta(hours=2))
    assert _tick()["tasks"] == 1
    assert _tick()["finished"] == 1
    db.session.refresh(enrollment)
    assert enrollment.status == EnrollmentStatus.FINISHED
    assert [r.status for r in _runs(enrollment)] == ["done", "done", "done"]


def test_business_day_waits_skip_weekends_and_holidays(
    app, clock, workspace, make_cadence, make_lead
):
    db.session.add(Holiday(workspace_id=workspace.id, day=date(2026, 11, 20), name="Closed"))
    cadence = make_cadence(("wait", {"wait_amount": 2}), ("task", {}))
    enrollment = enroll_now(cadence, make_lead())
    _tick()
    db.session.refresh(enrollment)
    # Wednesday + 2 business days: Thursday, then (Friday holiday, weekend) Monday.
    assert enrollment.due_at == datetime(2026, 11, 23, 15, 0)


def test_a_step_waits_for_the_window_in_the_leads_zone(app, clock, make_cadence, make_lead):
    cadence = make_cadence(("task", {"window_start": 9 * 60, "window_end": 17 * 60}))
    enrollment = enroll_now(cadence, make_lead(time_zone="America/Los_Angeles"))
    # 15:00 UTC is 07:00 in Los Angeles: too early, due at 09:00 local = 17:00 UTC.
    assert _tick()["deferred"] == 1
    db.session.refresh(enrollment)
    assert enrollment.due_at == datetime(2026, 11, 18, 17, 0)
    assert _runs(enrollment) == []


def test_a_step_is_skipped_when_the_lead_lacks_a_phone(app, clock, make_cadence, make_lead):
    cadence = make_cadence(("call", {}), ("task", {}))
    enrollment = enroll_now(cadence, make_lead(phone_e164=None))
    assert _tick()["skipped"] == 1
    assert [r.status for r in _runs(enrollment)] == [RunStatus.SKIPPED]


def test_run_time_checks_stop_leads_that_became_uncontactable(
    app, clock, workspace, make_cadence, make_lead
):
    cadence = make_cadence(("task", {}))
    qualified, blocked, fine = make_lead(), make_lead(), make_lead()
    enrollments = [enroll_now(cadence, lead) for lead in (qualified, blocked, fine)]
    ids = lease_due(100)  # leased (the job is queued) before the changes below
    db.session.commit()
    qualified.status = LeadStatus.QUALIFIED.value
    db.session.add(
        DoNotContact(
            workspace_id=workspace.id, kind=ContactKind.PHONE.value, value=blocked.phone_e164
        )
    )
    db.session.commit()
    assert process(ids)["tasks"] == 1
    db.session.expire_all()
    assert [(e.status, e.exit_reason) for e in enrollments] == [
        ("exited", ExitReason.QUALIFIED),
        ("exited", ExitReason.DO_NOT_CONTACT),
        ("active", None),
    ]


def test_a_lost_job_is_picked_again_after_its_lease(app, clock, make_cadence, make_lead):
    cadence = make_cadence(("task", {}))
    enroll_now(cadence, make_lead())
    assert len(lease_due(100)) == 1
    db.session.commit()
    assert lease_due(100) == []  # leased: the next tick leaves it to its job
    clock(WEDNESDAY_MORNING + timedelta(minutes=6))  # the job never ran (Redis flushed)
    assert len(lease_due(100)) == 1


def test_a_paused_cadence_is_not_run(app, clock, make_cadence, make_lead):
    cadence = make_cadence(("task", {}))
    enroll_now(cadence, make_lead())
    cadence.paused = True
    db.session.commit()
    assert lease_due(100) == []
