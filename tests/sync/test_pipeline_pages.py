"""Promotion, the board, deals and the Sync page through HTTP, as a rep and a manager use them."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import Role
from leads.models import Activity, Lead, LeadStatus
from sync.handoff import deliver_due
from sync.models import Deal, Handoff, HandoffState, Stage
from sync.targets import get_target


def deal_of(lead: Lead) -> Deal:
    return db.session.scalar(sa.select(Deal).where(Deal.lead_id == lead.id))


def stage_names(pipeline_id: int) -> list[str]:
    return list(db.session.scalars(
        sa.select(Stage.name).where(Stage.pipeline_id == pipeline_id).order_by(Stage.position)
    ))  # fmt: skip


def test_the_lead_card_loads_the_panel_and_promote_says_what_is_missing(
    client, login, rep, make_lead
):
    lead = make_lead(ticked=["Budget"], company=None)
    login(rep)
    card = client.get(f"/leads/{lead.id}").get_data(as_text=True)
    assert f"/leads/{lead.id}/qualification" in card
    response = client.post(f"/leads/{lead.id}/promote", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<html" not in body
    assert "Company is missing" in body and "Timing is not confirmed" in body
    assert db.session.scalar(sa.select(sa.func.count(Handoff.id))) == 0


def test_ticking_the_checklist_then_promoting_puts_the_deal_on_the_board(
    client, login, rep, make_lead
):
    lead = make_lead(ticked=[], company="Umbrella")
    login(rep)
    ticked = client.post(f"/leads/{lead.id}/qualification",
                         data={"checked": ["Budget", "Authority", "Need", "Timing"]},
                         headers={"HX-Request": "true"})  # fmt: skip
    assert "Promote to pipeline" in ticked.get_data(as_text=True)
    assert "is not confirmed" not in ticked.get_data(as_text=True)
    response = client.post(f"/leads/{lead.id}/promote", headers={"HX-Request": "true"})
    assert response.headers["HX-Redirect"] == f"/leads/{lead.id}"
    db.session.expire_all()
    assert db.session.get(Lead, lead.id).status == LeadStatus.HANDED_OFF
    board = client.get("/pipeline").get_data(as_text=True)
    assert "Umbrella" in board and f"/deals/{deal_of(lead).id}" in board


def test_promoting_from_two_tabs_makes_one_deal(client, login, rep, make_lead):
    lead = make_lead()
    login(rep)
    first = client.post(f"/leads/{lead.id}/promote")
    second = client.post(f"/leads/{lead.id}/promote")
    assert (first.status_code, second.status_code) == (302, 302)
    assert db.session.scalar(sa.select(sa.func.count(Deal.id))) == 1
    assert db.session.scalar(sa.select(sa.func.count(Handoff.id))) == 1


def test_moving_to_won_makes_the_lead_won_with_a_timeline_entry(client, login, rep, make_lead):
    lead = make_lead(company="Hooli")
    login(rep)
    client.post(f"/leads/{lead.id}/promote")
    deal = deal_of(lead)
    won = db.session.scalar(sa.select(Stage).where(Stage.name == "Won"))
    response = client.post(f"/deals/{deal.id}/move", data={"stage_id": won.id},
                           headers={"HX-Request": "true"})  # fmt: skip
    assert response.status_code == 200 and "<html" not in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Lead, lead.id).status == LeadStatus.WON
    stage_changes = db.session.scalars(
        sa.select(Activity.summary)
        .where(Activity.lead_id == lead.id, Activity.type == "stage_change")
    ).all()
    assert stage_changes == ["Deal “Hooli” won (Qualified → Won)"]
    history = client.get(f"/contacts/{deal.contact_id}").get_data(as_text=True)
    assert "Purchase history" in history and "Hooli" in history


def test_lost_needs_a_reason_and_keeps_what_was_typed(client, login, rep, make_lead):
    lead = make_lead()
    login(rep)
    client.post(f"/leads/{lead.id}/promote")
    deal = deal_of(lead)
    refused = client.post(f"/deals/{deal.id}/close", data={"outcome": "lost", "lost_reason": " "})
    assert refused.status_code == 422
    assert "Say why the deal was lost." in refused.get_data(as_text=True)
    lost = db.session.scalar(sa.select(Stage).where(Stage.name == "Lost"))
    dragged = client.post(f"/deals/{deal.id}/move", data={"stage_id": lost.id},
                          headers={"HX-Request": "true"})  # fmt: skip
    assert dragged.headers["HX-Redirect"] == f"/deals/{deal.id}?close=lost"
    client.post(f"/deals/{deal.id}/close", data={"outcome": "lost", "lost_reason": "Budget cut"})
    db.session.expire_all()
    assert (deal_of(lead).outcome, deal_of(lead).lost_reason) == ("lost", "Budget cut")
    assert db.session.get(Lead, lead.id).status == LeadStatus.LOST


def test_bad_deal_input_is_refused_without_a_500(client, login, rep, make_lead):
    lead = make_lead()
    login(rep)
    client.post(f"/leads/{lead.id}/promote")
    deal = deal_of(lead)
    typed = {"title": "<b>Big</b>", "value": "12,5x", "currency": "dollars",
             "expected_close": "soon"}  # fmt: skip
    response = client.post(f"/deals/{deal.id}", data=typed)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "12,5x" in body and "three-letter currency" in body and "&lt;b&gt;Big&lt;/b&gt;" in body
    assert client.post(f"/deals/{deal.id}/move", data={"stage_id": "x"}).status_code == 422
    assert client.post(f"/deals/{deal.id}/close", data={"outcome": "maybe"}).status_code == 422


def test_reps_see_only_their_own_deals(client, login, make_user, make_lead, rep):
    lead = make_lead()
    login(rep)
    client.post(f"/leads/{lead.id}/promote")
    deal = deal_of(lead)
    other = make_user(Role.REP)
    login(other)
    assert client.get(f"/deals/{deal.id}").status_code == 404
    assert client.get(f"/contacts/{deal.contact_id}").status_code == 404
    assert deal.title not in client.get("/pipeline").get_data(as_text=True)


def test_the_sync_page_shows_the_backlog_and_retries_and_discards(
    client, login, make_user, promoted
):
    lead = promoted(first_name="Stuck")
    row = db.session.scalar(sa.select(Handoff))
    row.state, row.last_error, row.attempts = HandoffState.NEEDS_ATTENTION.value, "Refused", 3
    db.session.commit()
    login(make_user(Role.MANAGER))
    page = client.get("/sync").get_data(as_text=True)
    assert "Needs attention" in page and "Refused" in page and "Stuck" in page
    client.post(f"/sync/handoffs/{row.id}/retry")
    db.session.expire_all()
    assert (row.state, row.attempts, row.last_error) == ("pending", 0, None)
    client.post(f"/sync/handoffs/{row.id}/discard")
    db.session.expire_all()
    assert row.state == "discarded"
    exported = client.get("/sync/export.csv?state=discarded").get_data(as_text=True)
    assert exported.splitlines()[1].startswith(f"{lead.id},Stuck ")
    log = client.get(f"/sync/leads/{lead.id}").get_data(as_text=True)
    assert "Discarded" in log


def test_managers_change_the_criteria(client, login, make_user, make_lead, rep):
    login(make_user(Role.MANAGER))
    criteria = {"required": ["title", "bogus"], "checklist": "Champion\n\n Budget \n"}
    client.post("/settings/qualification", data=criteria)
    lead = make_lead(ticked=[], title=None)
    login(rep)
    body = client.post(f"/leads/{lead.id}/promote").get_data(as_text=True)
    assert "Job title is missing" in body and "Champion is not confirmed" in body
    assert "Authority" not in body


def test_managers_configure_stages_and_pipelines(client, login, make_user, promoted, rep):
    lead = promoted(company="Stark")
    login(make_user(Role.MANAGER))
    client.get("/pipeline")
    pipeline_id = db.session.scalar(sa.select(Stage.pipeline_id).limit(1))
    client.post(f"/pipelines/{pipeline_id}/stages", data={"name": "  Demo  booked "})
    assert stage_names(pipeline_id) == [
        "Qualified", "Discovery", "Proposal", "Negotiation", "Demo booked", "Won", "Lost",
    ]  # fmt: skip
    demo = db.session.scalar(sa.select(Stage).where(Stage.name == "Demo booked"))
    client.post(f"/stages/{demo.id}", data={"action": "left"})
    client.post(f"/stages/{demo.id}", data={"name": "Demo", "action": "rename"})
    assert stage_names(pipeline_id)[3] == "Demo"
    taken = client.post(f"/stages/{demo.id}", data={"name": "Won", "action": "rename"})
    assert taken.status_code == 422 and "There is a stage called Won" in taken.get_data(True)
    deliver_due(get_target("pipeline"))
    first = db.session.scalar(sa.select(Stage).where(Stage.name == "Qualified"))
    busy = client.post(f"/stages/{first.id}", data={"action": "remove"})
    assert busy.status_code == 422 and "holds deals" in busy.get_data(True)
    won = db.session.scalar(sa.select(Stage).where(Stage.name == "Won"))
    assert client.post(f"/stages/{won.id}", data={"action": "remove"}).status_code == 422
    client.post("/pipelines", data={"name": "Renewals"})
    assert "Renewals" in client.get("/pipelines/setup").get_data(as_text=True)
    assert deal_of(lead).pipeline.name == "Sales"


def test_deal_values_add_up_per_currency_on_the_board(client, login, rep, make_lead):
    login(rep)
    for currency, value in (("USD", "12500"), ("USD", "500.50"), ("EUR", "3000")):
        lead = make_lead()
        client.post(f"/leads/{lead.id}/promote")
        deal = deal_of(lead)
        saved = client.post(f"/deals/{deal.id}", data={"title": deal.title, "value": value,
                                                      "currency": currency.lower(),
                                                      "expected_close": "2027-01-31"})  # fmt: skip
        assert saved.status_code == 302
    board = client.get("/pipeline").get_data(as_text=True)
    assert "3,000 EUR · 13,000 USD" in board
    assert "No deals" in board  # the empty columns say so


def test_won_deals_reach_the_metrics_funnel_and_income_goals(client, login, rep, make_lead):
    from leads.metrics import won_source
    from leads.metrics_periods import Window

    lead = make_lead(company="Initech")
    login(rep)
    client.post(f"/leads/{lead.id}/promote")
    deal = deal_of(lead)
    client.post(f"/deals/{deal.id}", data={"value": "1250", "currency": "USD"})
    source = won_source()
    assert source is not None and source(lead.workspace_id, None) == (0, 0)
    won = db.session.scalar(sa.select(Stage).where(Stage.name == "Won"))
    client.post(f"/deals/{deal.id}/move", data={"stage_id": won.id})
    db.session.expire_all()
    closed = db.session.get(Deal, deal.id).closed_at
    value = int(db.session.get(Deal, deal.id).value)
    assert source(lead.workspace_id, None) == (1, value)
    assert source(lead.workspace_id, Window(closed, closed + timedelta(seconds=1))) == (1, value)
    assert source(lead.workspace_id, Window(closed - timedelta(days=1), closed)) == (0, 0)
