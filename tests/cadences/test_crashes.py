"""Exactly once through real crashes: kill -9 of a worker mid-batch, and a Redis wiped clean."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from rq import SimpleWorker

from app.extensions import db
from app.models import utcnow
from app.queue import get_queue, redis_connection
from cadences.jobs import tick
from cadences.models import Enrollment, RunStatus, StepRun
from cadences.signals import cadence_tasks_due
from tests.cadences.conftest import Inbox, free_port
from tests.processes import kill_worker

ROOT = Path(__file__).resolve().parents[2]
ALWAYS_OPEN = {"window_start": 0, "window_end": 24 * 60, "business_days_only": False}


class SlowInbox(Inbox):
    """Takes 20 ms a message, so a kill lands while the batch is half sent."""

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.02)
        return await super().handle_DATA(server, session, envelope)


def _enroll_due_now(cadence, leads) -> None:
    due = utcnow() - timedelta(minutes=1)
    db.session.add_all(
        Enrollment(cadence_id=cadence.id, lead_id=lead.id, due_at=due, variant_seed=lead.id)
        for lead in leads
    )
    db.session.commit()


def _wipe_redis() -> None:
    """FLUSHALL on the test session's own embedded server; on a shared server only our
    database goes, since FLUSHALL there would erase other tenants' databases too."""
    connection = redis_connection()
    if os.environ.get("REDIS_URL"):
        connection.flushdb()
    else:
        connection.flushall()


def _time_passes() -> None:
    """What the runner sees after ten minutes: leases run out, a send cut short is stale."""
    past = utcnow() - timedelta(minutes=11)
    db.session.execute(sa.update(Enrollment).values(lease_until=None))
    db.session.execute(
        sa.update(StepRun).where(StepRun.status == RunStatus.SENDING.value).values(started_at=past)
    )
    db.session.commit()


def _worker_command() -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "wsgi", "rq", "worker", "--burst"]


@pytest.mark.slow
def test_a_worker_killed_mid_batch_sends_nothing_twice(
    app, service_env, make_sender, make_cadence, make_leads
):
    inbox = SlowInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        cadence = make_cadence(("email", ALWAYS_OPEN), sender=make_sender(port))
        _enroll_due_now(cadence, make_leads(300))
        assert tick() == 300
        db.session.close()
        worker = subprocess.Popen(
            _worker_command(),
            cwd=ROOT,
            env=service_env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while len(inbox.messages) < 40 and time.monotonic() < deadline:
            time.sleep(0.02)
        kill_worker(worker)
        sent_before_kill = len(inbox.messages)
        assert 40 <= sent_before_kill < 300, "the kill must land mid-batch"

        _wipe_redis()  # the killed job is gone with everything else in Redis
        _time_passes()
        assert tick() > 0  # SQL, not Redis, says what is still due
        db.session.close()
        subprocess.run(
            _worker_command(),
            cwd=ROOT,
            env=service_env,
            timeout=300,
            check=True,
            capture_output=True,
        )
    finally:
        controller.stop()

    ids = inbox.message_ids()
    assert len(ids) == len(set(ids)), "a message went out twice"
    runs = db.session.execute(sa.select(StepRun.status, StepRun.message_id)).all()
    assert len(runs) == 300  # one run per enrolment and step: the unique claim held
    sent = {message_id for status, message_id in runs if status == RunStatus.SENT}
    unconfirmed = [message_id for status, message_id in runs if status == RunStatus.UNCONFIRMED]
    assert len(unconfirmed) <= 1  # at most the one message SMTP was carrying at the kill
    assert sent <= set(ids) and len(ids) - len(sent) <= len(unconfirmed)
    assert len(sent) + len(unconfirmed) == 300


def test_a_flushed_redis_loses_no_step_and_repeats_none(app, clock, make_cadence, make_leads):
    cadence = make_cadence(("task", ALWAYS_OPEN), ("task", ALWAYS_OPEN))
    leads = make_leads(2500)
    clock(utcnow())
    _enroll_due_now(cadence, leads)
    announced: list[int] = []

    def receiver(_sender, **kwargs):
        announced.extend(task["step_run_id"] for task in kwargs["tasks"])

    def work() -> None:
        SimpleWorker([get_queue()], connection=redis_connection()).work(burst=True)

    with cadence_tasks_due.connected_to(receiver):
        assert tick() == 2500  # three batch jobs wait in Redis …
        _wipe_redis()  # … and are gone
        work()
        assert announced == []
        assert tick() == 0  # leased: the runner waits for the lost jobs' leases to run out
        clock(utcnow() + timedelta(minutes=6))
        assert tick() == 2500
        tick()  # a second tick before the workers ran leases nothing again
        work()
        clock(utcnow() + timedelta(minutes=7))
        tick()
        work()
    assert len(announced) == len(set(announced)) == 5000
    per_enrollment = db.session.execute(
        sa.select(StepRun.enrollment_id, sa.func.count()).group_by(StepRun.enrollment_id)
    ).all()
    assert {count for _, count in per_enrollment} == {2} and len(per_enrollment) == 2500
