"""Stored CRM targets on the hand-off ledger, against the local fake vendors."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from werkzeug import Response

from app.extensions import db
from app.models import utcnow
from app.queue import get_queue
from leads.models import LeadStatus
from leads.signals import lead_qualified
from sync.crm_targets import send_earlier_leads, set_enabled
from sync.handoff import deliver_due
from sync.jobs import deliver_handoffs, sweep_handoffs
from sync.models import HandoffState
from sync.targets import enabled_targets, get_target
from tests.sync.crm.fake_hubspot import TOKEN as HUBSPOT_TOKEN
from tests.sync.crm.fake_pipedrive import TOKEN as PIPEDRIVE_TOKEN
from tests.sync.crm.webhook_receiver import SECRET, Receiver
from tests.sync.crm.wiring import ledger, stored_target


@pytest.fixture
def hubspot_target(workspace, server, hubspot):
    return stored_target(workspace, "hubspot", token=HUBSPOT_TOKEN, base_url=server.url_for("/"))


def test_qualified_leads_reach_hubspot_pipedrive_and_a_webhook(
    app, workspace, server, hubspot, pipedrive, promoted
):
    receiver = Receiver()
    server.expect_request("/hooks/leadline", method="POST").respond_with_handler(receiver.handle)
    targets = [
        stored_target(workspace, "hubspot", token=HUBSPOT_TOKEN, base_url=server.url_for("/")),
        stored_target(workspace, "pipedrive", token=PIPEDRIVE_TOKEN, base_url=server.url_for("/")),
        stored_target(workspace, "webhook", url=server.url_for("/hooks/leadline"), secret=SECRET),
    ]
    leads = [promoted(company=f"Orbit {n}") for n in range(3)]

    assert deliver_handoffs("pipeline") == 3
    for stored in targets:
        assert deliver_handoffs(stored.ledger_name) == 3
        rows = ledger(stored.ledger_name)
        assert [row.state for row in rows] == [HandoffState.DELIVERED] * 3
        assert all(row.external_ids or stored.kind == "webhook" for row in rows)

    for lead in leads:
        contact = hubspot.by_email(lead.email)
        assert contact is not None and contact["company"] == lead.company
    # The pipeline made the deals first, so the CRM got them too, named as in the pipeline.
    assert sorted(d["dealname"] for d in hubspot.objects["deals"].values()) == [
        "Orbit 0", "Orbit 1", "Orbit 2"
    ]  # fmt: skip
    assert len(pipedrive.objects["persons"]) == 3
    assert len(pipedrive.objects["deals"]) == 3
    assert len(receiver.received) == 3
    # The CRMs do not move the lead: the pipeline hand-off did.
    assert {lead.status for lead in leads} == {LeadStatus.HANDED_OFF.value}


def test_a_target_enabled_later_gets_only_new_leads_unless_asked(
    app, workspace, server, hubspot, promoted
):
    earlier = promoted()
    stored = stored_target(workspace, "hubspot", token=HUBSPOT_TOKEN, base_url=server.url_for("/"))
    later = promoted()
    assert [row.lead_id for row in ledger(stored.ledger_name)] == [later.id]

    assert send_earlier_leads(stored) == 1
    assert deliver_due(get_target(stored.ledger_name)) == 2
    assert hubspot.by_email(earlier.email) is not None


def test_a_disabled_target_gets_no_rows_and_delivers_nothing(app, workspace, hubspot_target):
    set_enabled(hubspot_target, False)
    db.session.commit()
    assert hubspot_target.ledger_name not in {t.name for t in enabled_targets(workspace.id)}
    assert get_target(hubspot_target.ledger_name).paused
    assert deliver_due(get_target(hubspot_target.ledger_name)) == 0


def test_an_outage_is_retried_and_each_lead_arrives_once_in_order(
    app, workspace, server, hubspot, promoted
):
    # The vendor answers 503 to everything until it recovers.
    down = {"now": True}
    server.clear()
    server.expect_request(re.compile(r"^/crm/")).respond_with_handler(
        lambda request: Response("unavailable", 503) if down["now"] else hubspot.handle(request)
    )
    stored = stored_target(workspace, "hubspot", token=HUBSPOT_TOKEN, base_url=server.url_for("/"))
    leads = [promoted() for _ in range(5)]
    target = get_target(stored.ledger_name)
    start = utcnow()

    assert deliver_due(target, now=start) == 0
    rows = ledger(stored.ledger_name)
    assert {row.state for row in rows} == {HandoffState.FAILED}
    assert all("503" in row.last_error or "unavailable" in row.last_error.lower() for row in rows)
    down["now"] = False
    # Not due yet: the backoff holds the rows back.
    assert deliver_due(target, now=start + timedelta(seconds=1)) == 0
    assert deliver_due(target, now=start + timedelta(hours=2)) == 5

    emails = [lead.email.lower() for lead in leads]
    contacts = sorted(hubspot.objects["contacts"].values(), key=lambda c: int(c["hs_object_id"]))
    created = [contact["email"] for contact in contacts]
    assert created == emails
    assert {row.state for row in ledger(stored.ledger_name)} == {HandoffState.DELIVERED}


def test_ids_learned_before_a_failure_are_kept_so_the_retry_creates_nothing_twice(
    app, workspace, server, hubspot, promoted
):
    deals_down = {"now": True}
    server.clear()
    server.expect_request(re.compile(r"^/crm/")).respond_with_handler(
        lambda request: Response("busy", 503)
        if deals_down["now"] and "/deals" in request.path
        else hubspot.handle(request)
    )
    stored = stored_target(workspace, "hubspot", token=HUBSPOT_TOKEN, base_url=server.url_for("/"))
    for _ in range(3):
        promoted()
    assert deliver_handoffs("pipeline") == 3
    target = get_target(stored.ledger_name)

    assert deliver_due(target) == 0
    failed = ledger(stored.ledger_name)
    assert {row.state for row in failed} == {HandoffState.FAILED}
    assert all("contact" in row.external_ids and "company" in row.external_ids for row in failed)
    deals_down["now"] = False
    assert deliver_due(target, now=utcnow() + timedelta(hours=2)) == 3
    assert len(hubspot.objects["contacts"]) == 3
    assert len(hubspot.objects["companies"]) == 3
    assert len(hubspot.objects["deals"]) == 3
    delivered = ledger(stored.ledger_name)
    assert [row.external_ids["contact"] for row in delivered] == [
        row.external_ids["contact"] for row in failed
    ]


def test_a_wrong_token_needs_attention_and_the_pipeline_still_gets_the_lead(
    app, workspace, server, hubspot, promoted, client, login, admin
):
    wrong = "pat-na1-wrong"
    stored = stored_target(workspace, "hubspot", token=wrong, base_url=server.url_for("/"))
    lead = promoted()
    assert deliver_handoffs("pipeline") == 1
    assert deliver_handoffs(stored.ledger_name) == 0

    (row,) = ledger(stored.ledger_name)
    assert row.state == HandoffState.NEEDS_ATTENTION
    assert "authentication" in row.last_error.lower()
    assert hubspot.objects["contacts"] == {}
    assert [r.state for r in ledger("pipeline")] == [HandoffState.DELIVERED]

    # The Sync page shows the target by name with the row; fixing the token and
    # retrying delivers it.
    login(admin)
    page = client.get("/sync").get_data(as_text=True)
    assert "Hubspot" in page and "needs attention" in page.lower()
    stored.settings = {**stored.settings, "token": HUBSPOT_TOKEN}
    db.session.commit()
    assert client.post(f"/sync/handoffs/{row.id}/retry").status_code == 302
    assert deliver_handoffs(stored.ledger_name) == 1
    assert hubspot.by_email(lead.email) is not None


def test_the_qualified_signal_and_the_sweep_queue_the_crm_target(
    app, workspace, hubspot_target, make_lead, rep
):
    lead = make_lead(status=LeadStatus.QUALIFIED.value)
    lead_qualified.send(lead, user_id=rep.id)
    assert [row.lead_id for row in ledger(hubspot_target.ledger_name)] == [lead.id]
    prefix = f"sync-deliver-{hubspot_target.ledger_name}-"
    assert any(job_id.startswith(prefix) for job_id in get_queue().get_job_ids())
    app.extensions["redis"].flushdb()  # Redis lost every job
    sweep_handoffs()
    assert any(job_id.startswith(prefix) for job_id in get_queue().get_job_ids())
