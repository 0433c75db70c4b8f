"""Inbound lead capture: the public form and JSON endpoint, keys, consent, limits."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Role
from app.ratelimit import RateLimit
from leads.capture import HONEYPOT_FIELD, MAX_BODY_BYTES
from leads.models import Activity, ContactKind, DoNotContact, Lead, LeadConsent, LeadList
from leads.signals import lead_captured

KEY = "k" * 32
ADDRESS = "203.0.113.7"
HOST_PAGE = "https://shop.example.com/contact"


@pytest.fixture
def lead_list(workspace) -> LeadList:
    lead_list = LeadList(workspace_id=workspace.id, name="Spring webinar", capture_key=KEY)
    db.session.add(lead_list)
    db.session.commit()
    return lead_list


@pytest.fixture
def public(client):
    """A visitor of another site: no session, so no CSRF token to send."""
    client.csrf = False
    return client


def post_form(client, data: dict, key: str = KEY, address: str = ADDRESS, **kwargs):
    return client.post(
        f"/capture/{key}", data=data, environ_base={"REMOTE_ADDR": address}, **kwargs
    )


def post_json(client, data, key: str = KEY, address: str = ADDRESS, **kwargs):
    return client.post(
        f"/capture/{key}", json=data, environ_base={"REMOTE_ADDR": address}, **kwargs
    )


def leads() -> list[Lead]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Lead).order_by(Lead.id)))


def consents(lead_id: int) -> list[LeadConsent]:
    return list(
        db.session.scalars(
            sa.select(LeadConsent).where(LeadConsent.lead_id == lead_id).order_by(LeadConsent.id)
        )
    )


def activities(lead_id: int) -> list[Activity]:
    return list(
        db.session.scalars(
            sa.select(Activity).where(Activity.lead_id == lead_id).order_by(Activity.id)
        )
    )


# ---------------------------------------------------------------------------
# Capturing
# ---------------------------------------------------------------------------


def test_the_form_page_asks_for_contact_details_and_consent(public, lead_list):
    page = public.get(f"/capture/{KEY}", headers={"Referer": HOST_PAGE})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for name in ("first_name", "last_name", "email", "phone", "company", "consent"):
        assert f'name="{name}"' in html
    assert "I agree that Leadline may contact me" in html
    # The honeypot is a text input hidden by a class, not type=hidden.
    trap = re.search(rf'<div class="trap"[^>]*>.*?name="{HONEYPOT_FIELD}"', html, re.S)
    assert trap and 'type="hidden"' not in trap.group(0)
    # The embedding page travels with the form, to become the consent's source.
    assert f'name="page_url" value="{HOST_PAGE}"' in html
    # A page of its own: no app navigation, no session cookie, no scripts.
    assert "Sign out" not in html and "<script" not in html
    assert "Set-Cookie" not in page.headers


def test_a_form_post_creates_a_normalized_lead_with_its_consent(public, lead_list):
    text = "I agree that Leadline may contact me"
    page = public.get(f"/capture/{KEY}").get_data(as_text=True)
    assert text in page
    response = post_form(
        public,
        {"first_name": "  ana ", "last_name": "Pérez", "email": "Ana.Perez@Example.COM",
         "phone": "(415) 555-0134", "company": "Acme", "consent": "yes",
         "page_url": HOST_PAGE, HONEYPOT_FIELD: ""},
        headers={"User-Agent": "Mozilla/5.0 Test"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "Thank you" in response.get_data(as_text=True)
    [lead] = leads()
    assert (lead.first_name, lead.last_name, lead.company) == ("ana", "Pérez", "Acme")
    assert lead.email == "Ana.Perez@example.com" and lead.email_key == "ana.perez@example.com"
    assert lead.phone_e164 == "+14155550134" and lead.diallable
    assert lead.list_id == lead_list.id and lead.source == "Lead capture"
    assert lead.status == "new" and lead.owner_id is None and lead.pending_import_id is None
    [consent] = consents(lead.id)
    assert consent.text.startswith(text) and consent.list_id == lead_list.id
    assert consent.ip_address == ADDRESS
    assert consent.source_url == HOST_PAGE
    assert consent.user_agent == "Mozilla/5.0 Test"
    assert consent.given_at is not None
    [activity] = activities(lead.id)
    assert activity.type == "created" and activity.summary == "Captured from form Spring webinar"
    assert activity.data["capture_list_id"] == lead_list.id and activity.actor_id is None


def test_json_capture_answers_with_the_lead(public, lead_list):
    response = post_json(
        public,
        {"first_name": "Bo", "email": "bo@example.com", "phone": 14155550199, "consent": True,
         "consent_text": "Yes, call me about the webinar."},
        headers={"Referer": "https://partner.example.org/signup"},
    )  # fmt: skip
    assert (response.status_code, response.get_json()) == (202, {"status": "received"})
    [lead] = leads()
    assert lead.phone_e164 == "+14155550199"
    [consent] = consents(lead.id)
    assert consent.text == "Yes, call me about the webinar."
    assert consent.source_url == "https://partner.example.org/signup"
    assert consent.ip_address == ADDRESS


def test_without_the_box_ticked_no_consent_is_recorded(public, lead_list):
    assert post_json(public, {"email": "cy@example.com", "consent": False}).status_code == 202
    [lead] = leads()
    assert consents(lead.id) == []
    assert activities(lead.id)[0].data["consent"] is False


def test_a_known_person_is_filled_in_not_duplicated(public, lead_list, workspace):
    other = LeadList(workspace_id=workspace.id, name="Trade fair")
    db.session.add(other)
    db.session.flush()
    known = Lead(workspace_id=workspace.id, first_name="Ana", email_raw="ana@example.com",
                 email="ana@example.com", email_key="ana@example.com", email_valid=True,
                 list_id=other.id)  # fmt: skip
    db.session.add(known)
    db.session.commit()
    response = post_json(
        public,
        {"first_name": "Anna", "last_name": "Pérez", "email": "ANA@example.com",
         "phone": "415 555 0134", "consent": True},
    )  # fmt: skip
    # A known person gets the very same answer as a new one: nothing leaks.
    assert (response.status_code, response.get_json()) == (202, {"status": "received"})
    [lead] = leads()
    # Empty fields filled; what the lead had is kept, its list included.
    assert (lead.first_name, lead.last_name, lead.phone_e164) == ("Ana", "Pérez", "+14155550134")
    assert lead.list_id == other.id
    [activity] = activities(lead.id)
    assert activity.type == "updated" and activity.summary == "Captured from form Spring webinar"
    assert activity.data["capture_list_id"] == lead_list.id
    assert set(activity.data["changes"]) == {"last_name", "phone_raw", "source"}
    # Again with the form: still one lead, a second consent and activity.
    assert post_form(public, {"email": "ana@example.com", "consent": "yes"}).status_code == 200
    assert len(leads()) == 1
    assert len(consents(known.id)) == 2 and len(activities(known.id)) == 2


def test_a_phone_owned_by_another_lead_is_not_copied(public, lead_list, workspace):
    by_email = Lead(
        workspace_id=workspace.id,
        email_raw="dee@example.com",
        email="dee@example.com",
        email_key="dee@example.com",
        email_valid=True,
    )
    by_phone = Lead(workspace_id=workspace.id, phone_raw="4155550111", phone_e164="+14155550111")
    db.session.add_all([by_email, by_phone])
    db.session.commit()  # fmt: skip
    post_json(public, {"email": "dee@example.com", "phone": "415-555-0111"})
    assert len(activities(by_email.id)) == 1
    assert [(x.email_key, x.phone_e164) for x in leads()] == [
        ("dee@example.com", None),
        (None, "+14155550111"),
    ]


def test_a_write_that_collides_is_rolled_back_and_retried(public, lead_list, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    from leads import capture

    real = capture._on_do_not_contact
    calls = []

    def collide_once(*args):
        # As if a concurrent writer took the email after our insert: the first
        # attempt fails after writing, and must leave nothing behind.
        calls.append(args)
        if len(calls) == 1:
            raise IntegrityError("INSERT", {}, Exception("duplicate key"))
        return real(*args)

    monkeypatch.setattr(capture, "_on_do_not_contact", collide_once)
    response = post_json(public, {"email": "race@example.com", "consent": True})
    assert response.status_code == 202 and len(calls) == 2
    [lead] = leads()
    assert len(activities(lead.id)) == 1 and len(consents(lead.id)) == 1


def test_the_signal_announces_captured_leads(public, lead_list):
    heard = []

    def listener(sender, **kwargs):
        heard.append((sender.id, kwargs))

    with lead_captured.connected_to(listener):
        post_json(public, {"email": "eve@example.com"})
        post_json(public, {"email": "eve@example.com", "first_name": "Eve"})
        post_json(public, {"email": "not an email"})
    lead_id = leads()[0].id
    assert heard == [
        (lead_list.id, {"lead_id": lead_id, "created": True, "suppressed": False}),
        (lead_list.id, {"lead_id": lead_id, "created": False, "suppressed": False}),
    ]


def test_a_person_on_the_do_not_contact_list_is_stored_and_stays_on_it(
    public, lead_list, workspace
):
    db.session.add(
        DoNotContact(
            workspace_id=workspace.id,
            kind=ContactKind.EMAIL.value,
            value="stop@example.com",
            reason="Asked by phone",
        )
    )
    db.session.commit()  # fmt: skip
    heard = []
    with lead_captured.connected_to(lambda sender, **kw: heard.append(kw)):
        response = post_form(public, {"first_name": "Sam", "email": "Stop@Example.com",
                                      "consent": "yes"})  # fmt: skip
    assert response.status_code == 200
    [lead] = leads()
    assert lead.email_key == "stop@example.com"
    # Their consent is kept as proof, but the list wins: the entry stays.
    assert len(consents(lead.id)) == 1
    assert db.session.scalar(sa.select(sa.func.count(DoNotContact.id))) == 1
    assert activities(lead.id)[0].data["do_not_contact"] is True
    assert heard == [{"lead_id": lead.id, "created": True, "suppressed": True}]


def test_a_known_lead_whose_phone_is_listed_is_reported_suppressed(public, lead_list, workspace):
    db.session.add_all(
        [
            Lead(
                workspace_id=workspace.id,
                email_raw="fay@example.com",
                email="fay@example.com",
                email_key="fay@example.com",
                email_valid=True,
                phone_raw="4155550122",
                phone_e164="+14155550122",
            ),
            DoNotContact(workspace_id=workspace.id, kind="phone", value="+14155550122"),
        ]
    )
    db.session.commit()  # fmt: skip
    post_json(public, {"email": "fay@example.com"})
    assert activities(leads()[0].id)[0].data["do_not_contact"] is True


# ---------------------------------------------------------------------------
# Refusals
# ---------------------------------------------------------------------------


def test_the_honeypot_pretends_success_and_stores_nothing(public, lead_list):
    form = post_form(public, {"email": "bot@example.com", HONEYPOT_FIELD: "http://spam.example"})
    assert form.status_code == 200 and "Thank you" in form.get_data(as_text=True)
    data = post_json(public, {"email": "bot@example.com", HONEYPOT_FIELD: "x"})
    assert (data.status_code, data.get_json()) == (202, {"status": "received"})
    assert leads() == []
    assert db.session.scalar(sa.select(sa.func.count(LeadConsent.id))) == 0


def test_an_invalid_email_is_refused_with_the_typed_values_kept(public, lead_list):
    response = post_form(
        public, {"first_name": "Gus", "email": "gus@", "phone": "415 555 0100", "consent": "yes"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'aria-invalid="true"' in html and "There must be something after the @-sign." in html
    assert 'value="Gus"' in html and 'value="gus@"' in html and 'value="415 555 0100"' in html
    assert "checked" in html
    assert "frame-ancestors *" in response.headers["Content-Security-Policy"]
    data = post_json(public, {"email": "gus@", "phone": "12"})
    assert data.status_code == 400
    errors = data.get_json()["errors"]
    assert set(errors) == {"email", "phone"} and "@-sign" in errors["email"]
    assert leads() == []


def test_an_email_or_a_phone_is_required(public, lead_list):
    response = post_json(public, {"first_name": "Hal", "company": "Acme"})
    assert response.status_code == 400
    assert response.get_json() == {"errors": {"email": "Give an email address or a phone number."}}
    assert post_form(public, {}).status_code == 400
    assert leads() == []


def test_bad_json_and_oversized_fields_are_refused(public, lead_list):
    assert post_json(public, ["not", "an", "object"]).status_code == 400
    response = post_json(public, {"email": "ivy@example.com", "first_name": ["x"]})
    assert response.get_json() == {"errors": {"first_name": "Send this field as text."}}
    response = post_json(public, {"email": "ivy@example.com", "company": "x" * 251})
    assert response.get_json() == {"errors": {"company": "Use at most 250 characters."}}
    huge = post_form(public, {"email": "ivy@example.com", "notes": "x" * MAX_BODY_BYTES})
    assert huge.status_code == 413
    assert leads() == []


def test_unknown_and_disabled_keys_are_not_found(public, lead_list):
    assert public.get("/capture/nope").status_code == 404
    assert post_json(public, {"email": "jo@example.com"}, key="nope").status_code == 404
    assert post_form(public, {"email": "jo@example.com"}, key="x" * 200).status_code == 404
    lead_list.capture_key = None
    db.session.commit()
    assert public.get(f"/capture/{KEY}").status_code == 404
    assert post_json(public, {"email": "jo@example.com"}).status_code == 404
    assert leads() == []


def test_markup_in_names_is_stored_as_text_and_shown_escaped(public, lead_list, make_user, login):
    evil = '<script>alert(1)</script>"><b>'
    post_json(public, {"first_name": evil, "email": "kim@example.com"})
    [lead] = leads()
    lead_id = lead.id
    assert lead.first_name == evil
    # Re-rendered with an error, the typed value is escaped in the attribute.
    html = post_form(public, {"first_name": evil, "email": "bad"}).get_data(as_text=True)
    assert evil not in html and "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;b&gt;" in html
    public.csrf = True
    login(make_user(Role.ADMIN), on=public)
    card = public.get(f"/leads/{lead_id}").get_data(as_text=True)
    assert evil not in card and "&lt;script&gt;alert(1)&lt;/script&gt;" in card


# ---------------------------------------------------------------------------
# Rate limits
# ---------------------------------------------------------------------------


def test_rate_limit_per_address_is_shared_across_processes(
    app, public, lead_list, make_app, monkeypatch
):
    monkeypatch.setitem(app.config, "CAPTURE_MAX_PER_ADDRESS", 3)
    other_process = make_app(CAPTURE_MAX_PER_ADDRESS=3).test_client()
    other_process.csrf = False
    assert post_json(public, {"email": "a1@example.com"}).status_code == 202
    assert post_json(other_process, {"email": "a2@example.com"}).status_code == 202
    assert post_form(public, {"email": "a3@example.com"}).status_code == 200
    refused = post_json(other_process, {"email": "a4@example.com"})
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 600
    assert "errors" in refused.get_json()
    page = post_form(public, {"email": "a4@example.com"})
    assert page.status_code == 429 and "Not sent" in page.get_data(as_text=True)
    assert "frame-ancestors *" in page.headers["Content-Security-Policy"]
    # Another sender is not held up by this one.
    assert post_json(public, {"email": "b1@example.com"}, address="198.51.100.9").status_code == 202
    assert len(leads()) == 4


def test_rate_limit_per_list_covers_every_address(app, public, lead_list, monkeypatch):
    monkeypatch.setitem(app.config, "CAPTURE_MAX_PER_LIST_PER_DAY", 2)
    for number in (1, 2):
        response = post_json(public, {"email": f"c{number}@x.com"}, address=f"10.0.0.{number}")
        assert response.status_code == 202
    refused = post_json(public, {"email": "c3@example.com"}, address="10.0.0.3")
    assert refused.status_code == 429
    assert 86_000 < int(refused.headers["Retry-After"]) <= 86_400


def test_rate_limit_counts_in_a_window(app):
    limit = RateLimit("test", limit=2, window=60)
    assert limit.hit("x") is None and limit.hit("x") is None
    assert 0 < limit.hit("x") <= 60
    assert limit.hit("y") is None
    # A counter left without an expiry (a window lost on an old Redis) is repaired.
    app.extensions["redis"].set("leadline:rate:test:z", 5)
    assert 0 < limit.hit("z") <= 60
    assert 0 < app.extensions["redis"].ttl("leadline:rate:test:z") <= 60
    limit.reset("x")
    assert limit.hit("x") is None


# ---------------------------------------------------------------------------
# Framing and CSRF
# ---------------------------------------------------------------------------


def test_only_capture_pages_may_be_framed(public, lead_list):
    form = public.get(f"/capture/{KEY}")
    policy = form.headers["Content-Security-Policy"]
    assert "frame-ancestors *" in policy and "'none'" not in policy.split("frame-ancestors")[1]
    assert "script-src" not in policy and "default-src 'none'" in policy
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert f'<style nonce="{nonce}">' in form.get_data(as_text=True)
    assert (
        "frame-ancestors *"
        in post_form(public, {"email": "lu@example.com"}).headers["Content-Security-Policy"]
    )
    for other in ("/login", "/capture/nope"):
        assert "frame-ancestors 'none'" in public.get(other).headers["Content-Security-Policy"]


def test_capture_needs_no_csrf_token_but_the_key_switch_does(client, lead_list, make_user, login):
    login(make_user(Role.MARKETER))
    client.csrf = False
    assert post_json(client, {"email": "mo@example.com"}).status_code == 202
    refused = client.post(f"/lists/{lead_list.id}/capture", data={"action": "rotate"})
    assert refused.status_code == 400
    db.session.expire_all()
    assert db.session.get(LeadList, lead_list.id).capture_key == KEY


# ---------------------------------------------------------------------------
# The list page: enable, rotate, disable
# ---------------------------------------------------------------------------


def test_a_marketer_enables_rotates_and_disables_capture(client, workspace, make_user, login):
    login(make_user(Role.MARKETER))
    lead_list = LeadList(workspace_id=workspace.id, name="Fair")
    db.session.add(lead_list)
    db.session.commit()
    page = client.get(f"/lists/{lead_list.id}/edit").get_data(as_text=True)
    assert "Lead capture" in page and 'value="enable"' in page

    def switch(action: str):
        response = client.post(f"/lists/{lead_list.id}/capture", data={"action": action})
        assert response.status_code == 302
        db.session.expire_all()
        return db.session.get(LeadList, lead_list.id).capture_key

    key = switch("enable")
    assert key and len(key) == 32
    assert switch("enable") == key  # enabling again keeps the live key
    page = client.get(f"/lists/{lead_list.id}/edit").get_data(as_text=True)
    url = f"http://leadline.test/capture/{key}"
    assert f'value="{url}"' in page
    # The snippets are shown as text, escaped, never as live markup.
    assert f"&lt;iframe src=&#34;{url}&#34;" in page and "<iframe" not in page
    assert f"curl -X POST &#39;{url}&#39;" in page
    assert client.get(f"/capture/{key}").status_code == 200

    new_key = switch("rotate")
    assert new_key != key
    assert client.get(f"/capture/{key}").status_code == 404
    assert post_json(client, {"email": "ny@example.com"}, key=key).status_code == 404
    assert post_json(client, {"email": "ny@example.com"}, key=new_key).status_code == 202

    assert switch("disable") is None
    assert client.get(f"/capture/{new_key}").status_code == 404
    assert client.post(f"/lists/{lead_list.id}/capture", data={"action": "x"}).status_code == 400


def test_the_key_switch_is_for_list_managers_of_the_workspace(client, lead_list, make_user, login):
    login(make_user(Role.REP))
    response = client.post(f"/lists/{lead_list.id}/capture", data={"action": "rotate"})
    assert response.status_code == 403
    login(make_user(Role.MARKETER))
    assert client.post("/lists/999999/capture", data={"action": "rotate"}).status_code == 404
