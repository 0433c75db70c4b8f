"""Rotation jobs for real: triggers, chained batches, the sweep the scheduler re-creates,
two rotations at once, and a worker killed mid-rotation."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from rq import Queue, SimpleWorker

from app import create_app
from app.extensions import db
from app.models import Role
from app.queue import redis_connection
from leads.models import Activity, ActivityType, ImportRun, Lead, LeadList
from leads.rotation import BATCH_SIZE, RotationConflict, assign_unassigned
from leads.rotation_jobs import sweep_rotation
from leads.rotation_models import RotationMember
from leads.signals import import_finished, lead_captured
from tests.leads.rotation_helpers import add_leads, make_rule, owners
from tests.processes import kill_worker

ROOT = Path(__file__).resolve().parents[2]
FLASK = [sys.executable, "-m", "flask", "--app", "wsgi", "rq"]


def queued_ids() -> list[str]:
    return Queue("default", connection=redis_connection()).job_ids


def work_in_process() -> None:
    db.session.commit()
    SimpleWorker(["default"], connection=redis_connection()).work(burst=True)
    db.session.rollback()


def assert_assigned_once(total: int) -> None:
    """Every lead has an owner, one assignment activity, and the audit names that owner."""
    db.session.rollback()
    given = owners()
    assert len(given) == total and None not in given.values()
    audits = db.session.execute(
        sa.select(Activity.lead_id, Activity.data).where(
            Activity.type == ActivityType.ASSIGNMENT.value
        )
    ).all()
    per_lead = Counter(lead_id for lead_id, _ in audits)
    assert set(per_lead.values()) == {1} and len(per_lead) == total
    assert all(data["to"] == given[lead_id] for lead_id, data in audits)
    counted = db.session.scalar(sa.select(sa.func.sum(RotationMember.assigned)))
    assert counted == total


@pytest.fixture
def reps(make_user):
    return [make_user(Role.REP, name=f"Rep {n}") for n in range(4)]


def test_a_finished_import_rotates_its_leads_in_chained_batches(app, workspace, reps):
    make_rule(workspace.id, reps)
    add_leads(workspace.id, BATCH_SIZE + 500)
    run = ImportRun(workspace_id=workspace.id, original_name="x.csv", stored_name="x")
    db.session.add(run)
    db.session.commit()
    import_finished.send(run)
    import_finished.send(run)  # a repeated signal enqueues nothing more
    assert queued_ids() == [f"rotation_{workspace.id}_import-{run.id}_0"]
    work_in_process()
    assert_assigned_once(BATCH_SIZE + 500)
    assert Counter(owners().values()) == {r.id: 375 for r in reps}


def test_a_captured_lead_is_rotated_unless_suppressed(app, workspace, reps):
    make_rule(workspace.id, reps)
    lead_list = LeadList(workspace_id=workspace.id, name="Web")
    db.session.add(lead_list)
    db.session.commit()
    [fresh, blocked] = add_leads(workspace.id, 2)
    lead_captured.send(lead_list, lead_id=blocked, created=True, suppressed=True)
    lead_captured.send(lead_list, lead_id=fresh, created=True, suppressed=False)
    assert queued_ids() == [f"rotation_{workspace.id}_capture-{fresh}_0"]
    work_in_process()
    assert owners() == {fresh: reps[0].id, blocked: None}


def test_the_sweep_rotates_waiting_leads_and_enforces_slas(app, workspace, reps):
    make_rule(workspace.id, reps, sla_hours=2)
    add_leads(workspace.id, 3)
    assert sweep_rotation() == 1
    assert len(queued_ids()) == 2  # the waiting leads and the SLA check
    work_in_process()
    assert None not in owners().values()


@pytest.mark.slow
def test_the_scheduler_recreates_the_sweep_at_start(app, service_env):
    """Redis lost everything (the fixture flushed it): starting the scheduler brings it back."""
    assert queued_ids() == []
    cron = subprocess.Popen([*FLASK, "cron"], cwd=ROOT, env=service_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        functions: set[str] = set()
        while "leads.rotation_jobs.sweep_rotation" not in functions:
            assert time.monotonic() < deadline, functions
            time.sleep(0.2)
            queue = Queue("default", connection=redis_connection())
            functions = {job.func_name for job in queue.get_jobs()}
    finally:
        cron.terminate()
        cron.wait(timeout=30)


def _rotate_in_process(config: dict, workspace_id: int, results) -> None:
    application = create_app(config)
    with application.app_context():
        assigned = 0
        try:
            while True:
                try:
                    result = assign_unassigned(workspace_id, limit=200)
                    db.session.commit()
                except RotationConflict:
                    db.session.rollback()
                    continue
                assigned += result.assigned
                if not result.more:
                    break
            results.put(assigned)
        except Exception as exc:  # reported to the test, whatever it is
            results.put(repr(exc))


def test_two_rotations_at_once_assign_each_lead_once(app, app_config, workspace, reps):
    make_rule(workspace.id, reps)
    add_leads(workspace.id, 3000)
    workspace_id = workspace.id
    rep_ids = [r.id for r in reps]
    db.session.close()  # the test holds no lock while the two rotations run
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [context.Process(target=_rotate_in_process, args=(app_config, workspace_id, results))
               for _ in range(2)]  # fmt: skip
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    outcomes = [results.get(timeout=5) for _ in workers]
    assert all(isinstance(o, int) for o in outcomes), outcomes
    assert sum(outcomes) == 3000
    assert_assigned_once(3000)
    assert Counter(owners().values()) == dict.fromkeys(rep_ids, 750)


@pytest.mark.slow
def test_a_worker_killed_mid_rotation_assigns_every_lead_once(app, workspace, reps, service_env):
    """kill -9 the worker and its work-horse mid-run; after the retry every lead once."""
    total = 60_000
    make_rule(workspace.id, reps)
    add_leads(workspace.id, total)
    from leads.rotation_jobs import queue_rotation

    queue_rotation(workspace.id, "import-1")
    db.session.close()
    worker = subprocess.Popen([*FLASK, "worker", "--burst"], cwd=ROOT, env=service_env,
                              start_new_session=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    assigned_count = sa.select(sa.func.count()).where(Lead.owner_id.is_not(None))
    deadline = time.monotonic() + 60
    done = 0
    while done == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
        done = db.session.scalar(assigned_count)
        db.session.rollback()
    assert 0 < done < total, "the kill must land mid-rotation"
    kill_worker(worker)
    partial = db.session.scalar(assigned_count)
    db.session.rollback()
    assert partial < total and partial % BATCH_SIZE == 0  # whole batches or nothing

    # The periodic sweep finds the waiting leads in SQL and enqueues their rotation.
    assert sweep_rotation() == 1
    finished = subprocess.run([*FLASK, "worker", "--burst"], cwd=ROOT, env=service_env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
    assert finished.returncode == 0, finished.stderr
    assert_assigned_once(total)
