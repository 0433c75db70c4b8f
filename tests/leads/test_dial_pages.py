"""The dial screen over HTTP: one fragment per step, clear messages, the DNC page, views."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Role
from leads import dnc
from leads.dial_models import CallAttempt, DncRemoval, SavedView
from leads.models import ContactKind, DoNotContact, Lead
from leads.signals import call_logged, lead_qualified
from tests.leads.dial_factories import OPEN, make_lead

HX = {"HX-Request": "true"}
_TOKEN = re.compile(r'name="token" value="([0-9a-f]{32})"')


@pytest.fixture
def caller(make_user, login, app, monkeypatch):
    monkeypatch.setitem(app.config, "DIAL_NOW", OPEN.isoformat())
    user = make_user(Role.CALLER, name="Cal Caller")
    login(user)
    return user


def _token(response) -> str:
    match = _TOKEN.search(response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)
    return match.group(1)


def test_next_then_save_and_next_are_fragments(client, caller):
    first = make_lead(caller, first_name="Ann", title="CTO", company="Acme")
    second = make_lead(caller, first_name="Bob")
    page = client.get("/dial/session")
    assert page.status_code == 200 and "Start dialing" in page.get_data(as_text=True)
    card = client.post("/dial/next", headers=HX)
    html = card.get_data(as_text=True)
    assert "<html" not in html and "Ann" in html and "CTO · Acme" in html
    assert f'href="tel:{first.phone_e164}"' in html and f'href="sip:{first.phone_e164}"' in html
    assert "1:00 PM America/New_York" in html
    nxt = client.post(
        "/dial/dispose", data={"token": _token(card), "outcome": "no_answer", "duration": "42"},
        headers=HX,
    )  # fmt: skip
    assert "Bob" in nxt.get_data(as_text=True) and second.id
    call = db.session.scalar(sa.select(CallAttempt))
    assert call.lead_id == first.id and call.duration_seconds == 42


def test_double_submit_records_once_and_says_so(client, caller):
    make_lead(caller)
    make_lead(caller)
    token = _token(client.post("/dial/next", headers=HX))
    data = {"token": token, "outcome": "busy"}
    client.post("/dial/dispose", data=data, headers=HX)
    again = client.post("/dial/dispose", data=data, headers=HX)
    assert "already recorded" in again.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(CallAttempt.id))) == 1


def test_a_stale_tab_gets_a_message_and_the_current_lead(client, caller, make_user, login, app):
    lead = make_lead(caller, first_name="Held")
    client.post("/dial/next", headers=HX)
    response = client.post("/dial/dispose", data={"token": "0" * 32, "outcome": "busy"}, headers=HX)
    html = response.get_data(as_text=True)
    assert "no longer yours" in html and "Held" in html and lead.id
    assert db.session.scalar(sa.select(sa.func.count(CallAttempt.id))) == 0


def test_a_bad_callback_keeps_the_form_with_a_message(client, caller):
    make_lead(caller)
    token = _token(client.post("/dial/next", headers=HX))
    data = {"token": token, "outcome": "call_back", "callback_at": "2026-01-14T22:00"}
    response = client.post("/dial/dispose", data={**data, "note": "ring later"}, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "outside calling hours" in html and "ring later" in html and "2026-01-14T22:00" in html
    assert _token(response) == token


def test_the_empty_queue_says_why(client, caller):
    make_lead(caller, area="808")  # 08:00 in Honolulu at OPEN: callable
    la = make_lead(caller, area="213")
    db.session.add(
        DoNotContact(workspace_id=caller.workspace_id, kind="phone", value=la.phone_e164)
    )
    token = _token(client.post("/dial/next", headers=HX))
    html = client.post("/dial/dispose", data={"token": token, "outcome": "no_answer"}, headers=HX)
    text = html.get_data(as_text=True)
    assert "No lead to call right now" in text
    assert "1 lead is on the do-not-contact list" in text
    assert "1 lead comes back for another attempt later" in text


def test_qualifying_announces_the_lead_after_commit(client, caller):
    lead = make_lead(caller)
    make_lead(caller)
    heard, calls = [], []

    def listener(sender, user_id):
        # Announced after commit: another connection sees the new status.
        with db.engine.connect() as connection:
            status = connection.scalar(sa.select(Lead.status).where(Lead.id == sender.id))
        heard.append((sender.id, user_id, status))

    def call_listener(sender, **details):
        calls.append((sender.id, details["outcome"], details["cadence_event"]))

    lead_qualified.connect(listener)
    call_logged.connect(call_listener)
    try:
        token = _token(client.post("/dial/next", headers=HX))
        client.post("/dial/dispose", data={"token": token, "outcome": "qualified"}, headers=HX)
        token = _token(client.post("/dial/next", headers=HX))
        client.post("/dial/dispose", data={"token": token, "outcome": "voicemail"}, headers=HX)
    finally:
        lead_qualified.disconnect(listener)
        call_logged.disconnect(call_listener)
    assert heard == [(lead.id, caller.id, "qualified")]
    assert calls == [(lead.id, "qualified", None), (lead.id + 1, "voicemail", "voicemail_left")]


def test_dnc_page_add_import_and_manager_only_removal(client, caller, make_user, login):
    lead = make_lead(caller)
    response = client.post("/dnc", data={"value": lead.phone_raw, "reason": "asked"})
    assert response.status_code == 302
    assert (
        client.post("/dial/next", headers=HX).get_data(as_text=True).count("No lead to call") == 1
    )
    bad = client.post("/dnc", data={"value": "call me maybe"})
    assert bad.status_code == 422 and "call me maybe" in bad.get_data(as_text=True)
    client.post("/dnc/import", data={"entries": "pat@example.com\n+44 20 7946 0000"})
    assert db.session.scalar(sa.select(sa.func.count(DoNotContact.id))) == 3
    entry = db.session.scalar(sa.select(DoNotContact).where(DoNotContact.value == lead.phone_e164))
    assert client.post(f"/dnc/{entry.id}/remove", data={"reason": "oops"}).status_code == 403
    login(make_user(Role.MANAGER))
    assert client.post(f"/dnc/{entry.id}/remove", data={"reason": ""}).status_code == 422
    assert client.post(f"/dnc/{entry.id}/remove", data={"reason": "consent"}).status_code == 302
    assert db.session.scalar(sa.select(DncRemoval.reason)) == "consent"


def test_views_save_from_the_leads_page_and_share(app, client, caller, make_user, login):
    client.post(
        "/views", data={"name": "Tier A", "field": "tier", "field_value": "A", "status": "new"}
    )
    client.post("/views", data={"name": "Mine only", "status": "new", "shared": ""})
    client.post("/views", data={"name": "Team", "status": "new", "shared": "on"})
    views = {v.name: v for v in db.session.scalars(sa.select(SavedView))}
    assert views["Tier A"].filters == {"status": "new", "field": "tier", "field_value": "A"}
    gold = make_lead(caller, custom_fields={"tier": "A"}, first_name="Gold")
    make_lead(caller, custom_fields={"tier": "B"}, first_name="Plain")
    card = client.post("/dial/next", data={"view": views["Tier A"].id}, headers=HX)
    assert "Gold" in card.get_data(as_text=True) and gold.id
    colleague = login(make_user(Role.CALLER), on=app.test_client())
    home = colleague.get("/dial").get_data(as_text=True)
    assert "Team" in home and "Mine only" not in home
    assert colleague.get(f"/dial/session?view={views['Mine only'].id}").status_code == 404
    assert colleague.post(f"/views/{views['Team'].id}/delete").status_code == 404
    assert db.session.get(Lead, gold.id).dial_leased_by_id == caller.id


def test_callbacks_are_listed_with_overdue_ones_marked(client, caller, app, monkeypatch):
    make_lead(caller, first_name="Callme")
    token = _token(client.post("/dial/next", headers=HX))
    data = {"token": token, "outcome": "call_back", "callback_at": "2026-01-14T14:00"}
    client.post("/dial/dispose", data=data, headers=HX)
    home = client.get("/dial").get_data(as_text=True)
    assert "Callme" in home and "0 due" in home and "overdue" not in home
    monkeypatch.setitem(app.config, "DIAL_NOW", "2026-01-14T19:30:00")
    home = client.get("/dial").get_data(as_text=True)
    assert "1 due" in home and "overdue" in home
    card = client.post("/dial/next", headers=HX).get_data(as_text=True)
    assert "Callme" in card and "1 callback due" in card


def test_dnc_list_exports_as_csv(client, caller):
    entries = "+1 212 555 0142\npat@example.com"
    client.post("/dnc/import", data={"entries": entries, "reason": "=cmd"})
    response = client.get("/dnc/export.csv")
    lines = response.get_data(as_text=True).splitlines()
    assert response.mimetype == "text/csv" and lines[0] == "kind,value,reason,added_at"
    # Cells a spreadsheet would run as formulas are marked as text, as the leads export does.
    assert lines[1].startswith("phone,'+12125550142,'=cmd,")
    assert lines[2].startswith("email,pat@example.com,'=cmd,")


def test_a_listed_further_phone_is_shown_but_not_offered(client, caller):
    mobile, desk = "+12125550190", "+12125550191"
    others = [{"kind": "mobile", "raw": mobile, "e164": mobile, "extension": None},
              {"kind": "work", "raw": desk, "e164": desk, "extension": None}]  # fmt: skip
    lead = make_lead(caller, first_name="Two Phones", other_phones=others)
    dnc.add(caller.workspace_id, ContactKind.PHONE, mobile, caller, "asked by phone")
    db.session.commit()
    html = client.post("/dial/next", headers=HX).get_data(as_text=True)
    assert "Two Phones" in html and f'href="tel:{lead.phone_e164}"' in html
    assert f'href="tel:{mobile}"' not in html and f"<span data-dnc-phone>{mobile}</span>" in html
    assert f'href="tel:{desk}"' in html


def test_a_listed_main_phone_keeps_the_lead_off_the_queue_whatever_its_other_phones(client, caller):
    spare = "+12125550192"
    lead = make_lead(caller, other_phones=[{"kind": "mobile", "raw": spare, "e164": spare}])
    dnc.add(caller.workspace_id, ContactKind.PHONE, lead.phone_e164, caller, "asked")
    db.session.commit()
    html = client.post("/dial/next", headers=HX).get_data(as_text=True)
    assert "1 lead is on the do-not-contact list" in html and "data-lead-id" not in html


def test_the_lead_page_marks_listed_phones_and_links_the_rest(client, caller):
    spare, listed = "+12125550193", "+12125550194"
    others = [{"kind": "mobile", "raw": spare, "e164": spare},
              {"kind": "home", "raw": listed, "e164": listed}]  # fmt: skip
    lead = make_lead(caller, other_phones=others)
    dnc.add(caller.workspace_id, ContactKind.PHONE, listed, caller, "asked")
    db.session.commit()
    html = client.get(f"/leads/{lead.id}").get_data(as_text=True)
    assert f'href="tel:{lead.phone_e164}"' in html and f'href="tel:{spare}"' in html
    assert f'href="tel:{listed}"' not in html and f"<span data-dnc-phone>{listed}</span>" in html
    dnc.add(caller.workspace_id, ContactKind.PHONE, lead.phone_e164, caller, "asked")
    db.session.commit()
    html = client.get(f"/leads/{lead.id}").get_data(as_text=True)
    assert f'href="tel:{lead.phone_e164}' not in html
    assert f"<span data-dnc-phone>{lead.phone_e164}</span>" in html
