"""Workers killed with SIGKILL mid-delivery: every lead still ends up as exactly one deal."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import utcnow
from app.queue import enqueue
from leads.models import Activity, Lead, LeadStatus
from sync.handoff import CLAIM_LEASE, deliver_due, open_handoffs
from sync.models import Account, Contact, Deal, Handoff, HandoffState
from sync.targets import get_target
from tests.processes import kill_worker

ROOT = Path(__file__).resolve().parents[2]
WORKER = [sys.executable, "-m", "flask", "--app", "wsgi", "rq", "worker", "--burst"]

pytestmark = pytest.mark.slow


def _qualified_leads(workspace, count: int, companies: int) -> None:
    """Leads qualified by a disposition, with their ledger rows (as the listener writes)."""
    rows = [{"workspace_id": workspace.id, "first_name": "Kim", "last_name": f"K{n}",
             "company": f"Company {n % companies}", "email": f"k{n}@example.com",
             "status": LeadStatus.QUALIFIED.value, "phone_time_zones": [], "other_phones": [],
             "custom_fields": {}, "created_at": utcnow(), "updated_at": utcnow(),
             "diallable": False, "email_valid": True} for n in range(count)]  # fmt: skip
    db.session.execute(sa.insert(Lead.__table__), rows)
    open_handoffs(workspace.id, db.session.scalars(sa.select(Lead.id)).all(), None)
    db.session.commit()


def _count(query: sa.Select) -> int:
    """Read and let go at once: an open SQLite transaction here would block the worker."""
    db.session.rollback()
    try:
        return db.session.scalar(query) or 0
    finally:
        db.session.rollback()


def _delivered() -> int:
    return _count(sa.select(sa.func.count(Handoff.id)).where(Handoff.state == "delivered"))


def _wait_for_a_claim() -> None:
    """Until the worker holds a claim, or has delivered everything (it takes a while to start)."""
    deadline = time.monotonic() + 60
    leased = sa.select(sa.func.count(Handoff.id)).where(Handoff.next_attempt_at > utcnow())
    while time.monotonic() < deadline:
        if _count(leased) or _delivered() == _count(sa.select(sa.func.count(Handoff.id))):
            return
        time.sleep(0.02)
    raise AssertionError("the worker never claimed anything")


def _wait_for_more_than(delivered: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = _delivered()
        if now > delivered or now == _count(sa.select(sa.func.count(Handoff.id))):
            return
        time.sleep(0.005)


def _assert_exactly_once(leads: int, companies: int) -> None:
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(Deal.id))) == leads
    assert db.session.scalar(sa.select(sa.func.count(sa.distinct(Deal.lead_id)))) == leads
    assert db.session.scalar(sa.select(sa.func.count(Contact.id))) == leads
    assert db.session.scalar(sa.select(sa.func.count(Account.id))) == companies
    states = db.session.scalars(sa.select(Handoff.state).distinct()).all()
    assert states == [HandoffState.DELIVERED]
    handed_off = sa.select(sa.func.count(Activity.id)).where(
        Activity.summary.like("Handed off to the pipeline%")
    )
    assert db.session.scalar(handed_off) == leads
    ledger_deals = {row.external_ids["deal_id"] for row in db.session.scalars(sa.select(Handoff))}
    assert ledger_deals == set(db.session.scalars(sa.select(Deal.id)))


@pytest.mark.parametrize("point", ["claimed", "writing", "delivered"])
def test_a_worker_killed_at_each_point_leaves_one_deal_per_lead(
    app, workspace, service_env, tmp_path, point
):
    _qualified_leads(workspace, 300, companies=40)
    marker = tmp_path / "paused"
    env = {**service_env, "LEADLINE_HANDOFF_PAUSE_AT": point,
           "LEADLINE_HANDOFF_PAUSE_FILE": str(marker)}  # fmt: skip
    enqueue("sync.jobs.deliver_handoffs", "pipeline", job_id=f"kill-at-{point}")
    worker = subprocess.Popen(WORKER, cwd=ROOT, env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the worker never reached the pause point"
    kill_worker(worker)
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(Deal.id))) == (
        300 if point == "delivered" else 0
    )
    # Nothing is delivered again until the claim's lease runs out; then it all is, once.
    assert deliver_due(get_target("pipeline")) == 0
    assert deliver_due(get_target("pipeline"), now=utcnow() + CLAIM_LEASE) == 300
    _assert_exactly_once(300, 40)


def test_workers_killed_at_random_moments_never_duplicate(app, workspace, service_env):
    _qualified_leads(workspace, 3000, companies=250)
    chaos = random.Random(8)
    progress = []
    for attempt in range(6):
        enqueue("sync.jobs.deliver_handoffs", "pipeline", job_id=f"chaos-{attempt}")
        worker = subprocess.Popen(WORKER, cwd=ROOT, env=service_env, start_new_session=True,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        _wait_for_a_claim()
        # Kill a random moment after the next batch lands, inside the one after it:
        # a fixed delay would land after the whole run on a fast machine and before
        # any of it on a busy one.
        _wait_for_more_than(progress[-1] if progress else 0)
        time.sleep(chaos.uniform(0.0, 0.05))
        kill_worker(worker)
        progress.append(_delivered())
        # The claimed rows' lease "runs out": the next worker may take them again.
        db.session.execute(
            sa.update(Handoff)
            .where(Handoff.state == HandoffState.PENDING.value)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    # The kills landed mid-run: some rows were delivered, not all.
    assert any(0 < delivered < 3000 for delivered in progress), progress
    enqueue("sync.jobs.deliver_handoffs", "pipeline", job_id="chaos-final")
    finished = subprocess.run(WORKER, cwd=ROOT, env=service_env, capture_output=True, text=True,
                              timeout=300)  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-2000:]
    _assert_exactly_once(3000, 250)
