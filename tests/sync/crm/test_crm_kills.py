"""A worker killed (SIGKILL) while delivering to a CRM: no object is made twice at the vendor."""

from __future__ import annotations

import subprocess
import time

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import utcnow
from app.queue import enqueue
from sync.crm_delivery import BATCH_SIZE
from sync.handoff import CLAIM_LEASE, deliver_due
from sync.models import HandoffState
from sync.targets import get_target
from tests.processes import kill_worker
from tests.sync.crm.fake_hubspot import DEAL_KEY, TOKEN
from tests.sync.crm.wiring import ledger, stored_target
from tests.sync.test_handoff_kills import ROOT, WORKER, _qualified_leads

pytestmark = pytest.mark.slow
LEADS = 120


@pytest.mark.parametrize("point", ["claimed", "delivered"])
def test_a_worker_killed_mid_delivery_makes_nothing_twice_at_hubspot(
    app, workspace, server, hubspot, service_env, tmp_path, point
):
    stored = stored_target(workspace, "hubspot", token=TOKEN, base_url=server.url_for("/"))
    name = stored.ledger_name
    _qualified_leads(workspace, LEADS, companies=30)
    marker = tmp_path / "paused"
    env = {**service_env, "LEADLINE_HANDOFF_PAUSE_AT": point,
           "LEADLINE_HANDOFF_PAUSE_FILE": str(marker)}  # fmt: skip
    enqueue("sync.jobs.deliver_handoffs", name, job_id=f"crm-kill-at-{point}")
    worker = subprocess.Popen(WORKER, cwd=ROOT, env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the worker never reached the pause point"
    kill_worker(worker)
    # Killed after the vendor answered: the first batch is at HubSpot, unrecorded.
    sent_before = len(hubspot.objects["deals"]) + len(hubspot.objects["companies"])
    assert (sent_before > 0) == (point == "delivered")

    target = get_target(name)
    db.session.rollback()
    # The killed worker's claim (one batch) is leased; the rest goes now, the batch later.
    assert deliver_due(target) == LEADS - BATCH_SIZE
    assert deliver_due(target, now=utcnow() + CLAIM_LEASE) == BATCH_SIZE
    assert {row.state for row in ledger(name)} == {HandoffState.DELIVERED}
    contacts = hubspot.objects["contacts"].values()
    assert len(contacts) == LEADS
    assert len({c["email"] for c in contacts}) == LEADS
    assert len(hubspot.objects["companies"]) == 30
    ids = [row.external_ids["contact"] for row in ledger(name)]
    assert len(set(ids)) == LEADS
    assert db.session.scalar(sa.select(sa.func.count()).select_from(sa.text("handoffs"))) == (
        LEADS * 2
    )


def test_a_worker_killed_while_hubspot_makes_deals_makes_no_deal_twice(
    app, workspace, server, hubspot, service_env
):
    # A timeout longer than the stall: the worker waits on the answer until it is killed.
    stored = stored_target(workspace, "hubspot", token=TOKEN, base_url=server.url_for("/"),
                           timeout_seconds=60)  # fmt: skip
    _qualified_leads(workspace, LEADS, companies=30)
    assert deliver_due(get_target("pipeline")) == LEADS  # the deals HubSpot will get
    name = stored.ledger_name
    db.session.rollback()  # an open SQLite transaction here would hold the worker up
    hubspot.slow, hubspot.stall = 10.0, "/crm/v3/objects/deals/batch/upsert"
    enqueue("sync.jobs.deliver_handoffs", name, job_id="crm-kill-in-deals")
    worker = subprocess.Popen(WORKER, cwd=ROOT, env=service_env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    assert hubspot.stalled.wait(60), "the worker never sent the deals"
    kill_worker(worker)
    # HubSpot made the first batch's deals; the worker died before it heard their ids.
    assert len(hubspot.objects["deals"]) == BATCH_SIZE

    target = get_target(name)
    db.session.rollback()
    assert deliver_due(target) == LEADS - BATCH_SIZE
    assert deliver_due(target, now=utcnow() + CLAIM_LEASE) == BATCH_SIZE
    deals = list(hubspot.objects["deals"].values())
    assert len(deals) == LEADS
    assert len({deal[DEAL_KEY] for deal in deals}) == LEADS
    deal_ids = {row.external_ids["deal"] for row in ledger(name)}
    assert deal_ids == {deal["hs_object_id"] for deal in deals}
