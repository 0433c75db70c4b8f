"""Deals through the JSON API: listed and read as the user may see them, edited and moved
as on the board, with the lead following its deal."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Role
from leads.models import Activity, Lead, LeadStatus
from sync.models import Deal, Stage


def _deal(client, login, rep, make_lead, **fields) -> Deal:
    lead = make_lead(**fields)
    login(rep)
    client.post(f"/leads/{lead.id}/promote")
    return db.session.scalar(sa.select(Deal).where(Deal.lead_id == lead.id))


def _stage(name: str) -> Stage:
    return db.session.scalar(sa.select(Stage).where(Stage.name == name))


def test_moving_a_deal_to_won_makes_its_lead_won(
    client, login, rep, make_lead, api_client, api_headers
):
    deal = _deal(client, login, rep, make_lead, company="Hooli")
    headers = api_headers(rep)
    response = api_client.patch(f"/api/deals/{deal.id}", json={"stage_id": _stage("Won").id},
                                headers=headers)  # fmt: skip
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["stage"], body["outcome"], body["title"]) == ("Won", "won", "Hooli")
    db.session.expire_all()
    assert db.session.get(Lead, deal.lead_id).status == LeadStatus.WON
    summaries = db.session.scalars(
        sa.select(Activity.summary).where(
            Activity.lead_id == deal.lead_id, Activity.type == "stage_change"
        )
    ).all()
    assert summaries == ["Deal “Hooli” won (Qualified → Won)"]


def test_edits_and_moves_are_checked_as_on_the_deal_page(
    client, login, rep, make_lead, api_client, api_headers
):
    deal = _deal(client, login, rep, make_lead)
    headers = api_headers(rep)
    url = f"/api/deals/{deal.id}"
    edited = api_client.patch(url, json={"value": "12500.5", "currency": "eur"}, headers=headers)
    assert edited.status_code == 200
    assert (edited.get_json()["value"], edited.get_json()["currency"]) == ("12500.50", "EUR")
    bad_value = api_client.patch(url, json={"value": "lots"}, headers=headers)
    assert bad_value.status_code == 422 and "value" in bad_value.get_json()["errors"]
    lost = api_client.patch(url, json={"stage_id": _stage("Lost").id}, headers=headers)
    assert lost.status_code == 422 and "Say why" in lost.get_json()["message"]
    elsewhere = api_client.patch(url, json={"stage_id": 999_999}, headers=headers)
    assert elsewhere.status_code == 422
    db.session.expire_all()
    assert (db.session.get(Deal, deal.id).outcome, str(db.session.get(Deal, deal.id).value)) == (
        "open", "12500.50",
    )  # fmt: skip
    closed = api_client.patch(url, json={"stage_id": _stage("Lost").id, "lost_reason": "Budget"},
                              headers=headers)  # fmt: skip
    assert closed.get_json()["lost_reason"] == "Budget"


def test_reps_see_their_own_deals_and_managers_all(
    client, login, rep, make_lead, make_user, api_client, api_headers
):
    deal = _deal(client, login, rep, make_lead)
    other_rep = make_user(Role.REP)
    manager = make_user(Role.MANAGER)
    listed = api_client.get("/api/deals", headers=api_headers(manager)).get_json()
    assert [d["id"] for d in listed["items"]] == [deal.id]
    theirs = api_headers(other_rep)
    assert api_client.get("/api/deals", headers=theirs).get_json()["items"] == []
    assert api_client.get(f"/api/deals/{deal.id}", headers=theirs).status_code == 404
    assert api_client.get(f"/api/deals/{deal.id}", headers=api_headers(rep)).status_code == 200
    caller = api_headers(make_user(Role.CALLER))
    assert api_client.get("/api/deals", headers=caller).status_code == 403
    read_only = api_headers(rep, "deals:read")
    refused = api_client.patch(f"/api/deals/{deal.id}", json={"title": "x"}, headers=read_only)
    assert refused.status_code == 403


def test_deals_filter_by_outcome_and_page(client, login, rep, make_lead, api_client, api_headers):
    deals = [_deal(client, login, rep, make_lead) for _ in range(3)]
    headers = api_headers(rep)
    api_client.patch(f"/api/deals/{deals[0].id}", json={"stage_id": _stage("Won").id},
                     headers=headers)  # fmt: skip
    won = api_client.get("/api/deals", query_string={"outcome": "won"}, headers=headers)
    assert [d["id"] for d in won.get_json()["items"]] == [deals[0].id]
    first = api_client.get("/api/deals", query_string={"limit": 2}, headers=headers).get_json()
    rest = api_client.get("/api/deals", query_string={"limit": 2, "after": first["next_cursor"]},
                          headers=headers).get_json()  # fmt: skip
    assert [d["id"] for d in first["items"] + rest["items"]] == [d.id for d in reversed(deals)]
    assert rest["next_cursor"] is None
