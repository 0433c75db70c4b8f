"""The builder and enrolment pages through the test client: htmx blocks, 422s that keep input."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Role
from cadences.models import Cadence, CadenceStep, Enrollment, MailSender
from leads.models import ContactKind, DoNotContact

HTMX = {"HX-Request": "true"}


def _new_cadence(client, name="Follow-up") -> Cadence:
    response = client.post("/cadences", data={"name": name})
    assert response.status_code == 302
    return db.session.scalar(sa.select(Cadence).where(Cadence.name == name))


def test_building_a_cadence_step_by_step(app, client, login, make_user):
    login(make_user(Role.MARKETER))
    cadence = _new_cadence(client)
    form = {
        "kind": "email",
        "subject_a": "Hi {{ first_name }}",
        "body_a": "Hello",
        "window_start": "09:00",
        "window_end": "17:00",
        "business_days_only": "on",
        "subject_b": "Hey",
        "body_b": "Yo",
    }
    fragment = client.post(f"/cadences/{cadence.id}/steps", data=form, headers=HTMX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.get_data(as_text=True)
    client.post(
        f"/cadences/{cadence.id}/steps",
        data={"kind": "wait", "wait_amount": "3", "wait_unit": "business_days"},
    )
    client.post(
        f"/cadences/{cadence.id}/steps", data={"kind": "call", "instructions": "Ask about budget"}
    )
    db.session.expire_all()
    assert [s.kind for s in cadence.steps] == ["email", "wait", "call"]
    assert [v.label for v in cadence.steps[0].variants] == ["A", "B"]
    call = cadence.steps[2]
    client.post(f"/cadences/{cadence.id}/steps/{call.id}/move", data={"direction": "up"})
    db.session.expire_all()
    assert [s.kind for s in cadence.steps] == ["email", "call", "wait"]
    client.post(f"/cadences/{cadence.id}/steps/{cadence.steps[0].id}/delete")
    db.session.expire_all()
    assert [(s.position, s.kind) for s in cadence.steps] == [(0, "call"), (1, "wait")]
    page = client.get(f"/cadences/{cadence.id}").get_data(as_text=True)
    assert "Ask about budget" in page and "3 business days" in page


def test_bad_steps_are_refused_with_the_reason_and_the_input_kept(app, client, login, make_user):
    login(make_user(Role.REP))
    cadence = _new_cadence(client)
    zero = client.post(
        f"/cadences/{cadence.id}/steps", data={"kind": "wait", "wait_amount": "0"}, headers=HTMX
    )
    assert zero.status_code == 422
    assert "zero or negative waits are not allowed" in zero.get_data(as_text=True)
    bad = {"kind": "email", "subject_a": "Hi {{ frist_name }}", "body_a": "Line one\n{% if %}"}
    response = client.post(f"/cadences/{cadence.id}/steps", data=bad, headers=HTMX)
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "line 1: unknown merge field {{ frist_name }}" in text
    assert "line 2: invalid syntax" in text
    assert "Hi {{ frist_name }}" in text  # what was typed stays in the form
    db.session.expire_all()
    assert cadence.steps == []


def test_empty_names_and_duplicates_get_clear_messages(app, client, login, make_user):
    login(make_user(Role.REP))
    assert "Give the cadence a name" in client.post("/cadences", data={"name": " "}).get_data(
        as_text=True
    )
    _new_cadence(client, "Twice")
    response = client.post("/cadences", data={"name": "Twice"})
    assert response.status_code == 422 and "exists already" in response.get_data(as_text=True)


def test_enrolling_explains_refusals(app, client, login, make_user, make_lead, workspace):
    marketer = make_user(Role.MARKETER)
    login(marketer)
    cadence = _new_cadence(client)
    lead = make_lead()
    empty = client.post(f"/cadences/{cadence.id}/enroll", data={"lead_id": lead.id}, headers=HTMX)
    assert empty.status_code == 422 and "no steps yet" in empty.get_data(as_text=True)
    client.post(f"/cadences/{cadence.id}/steps", data={"kind": "task"})
    db.session.add(
        DoNotContact(workspace_id=workspace.id, kind=ContactKind.EMAIL.value, value=lead.email_key)
    )
    db.session.commit()
    suppressed = client.post(
        f"/cadences/{cadence.id}/enroll", data={"lead_id": lead.id}, headers=HTMX
    )
    assert suppressed.status_code == 422 and "do-not-contact list" in suppressed.get_data(
        as_text=True
    )
    other = make_lead()
    assert (
        client.post(f"/cadences/{cadence.id}/enroll", data={"lead_id": other.id}).status_code == 200
    )
    again = client.post(f"/cadences/{cadence.id}/enroll", data={"lead_id": other.id})
    assert again.status_code == 422 and "already in the cadence" in again.get_data(as_text=True)
    unknown = client.post(f"/cadences/{cadence.id}/enroll", data={"lead_id": "abc"})
    assert unknown.status_code == 422 and "No lead #abc" in unknown.get_data(as_text=True)


def test_bulk_enrolment_from_a_view_skips_and_counts(
    app, client, login, make_user, make_lead, workspace
):
    login(make_user(Role.MARKETER))
    cadence = _new_cadence(client)
    client.post(f"/cadences/{cadence.id}/steps", data={"kind": "task"})
    leads = [make_lead(company="Zeta") for _ in range(5)]
    leads[0].status = "qualified"
    db.session.add(
        DoNotContact(
            workspace_id=workspace.id, kind=ContactKind.PHONE.value, value=leads[1].phone_e164
        )
    )
    db.session.commit()
    text = client.post(f"/cadences/{cadence.id}/enroll-view", data={"q": "pat"}).get_data(
        as_text=True
    )
    assert "3 enrolled." in text
    assert "1 lead is qualified" in text and "1 on the do-not-contact list" in text
    assert db.session.scalar(sa.select(sa.func.count(Enrollment.id))) == 3
    text = client.post(f"/cadences/{cadence.id}/enroll-view", data={"q": "pat"}).get_data(
        as_text=True
    )
    assert "0 enrolled." in text and "3 already in a cadence" in text


def test_the_daily_enrolment_limit_per_rep(app, client, login, make_user, make_lead):
    app.config["CADENCE_MAX_ENROLLMENTS_PER_REP_DAY"] = 2
    try:
        login(make_user(Role.MARKETER))
        cadence = _new_cadence(client)
        client.post(f"/cadences/{cadence.id}/steps", data={"kind": "task"})
        for _ in range(3):
            make_lead()
        text = client.post(f"/cadences/{cadence.id}/enroll-view", data={}).get_data(as_text=True)
        assert "2 enrolled." in text and "1 daily enrolment limit reached" in text
    finally:
        app.config["CADENCE_MAX_ENROLLMENTS_PER_REP_DAY"] = 500


def test_preview_renders_against_a_real_lead(app, client, login, make_user, make_lead):
    rep = make_user(Role.REP)
    login(rep)
    lead = make_lead(first_name="Linus", company="", owner_id=rep.id)
    form = {
        "subject_a": "For {{ company | default('your team') }}",
        "body_a": "Hi {{ first_name }}",
        "preview_lead_id": lead.id,
    }
    text = client.post("/cadences/preview", data=form, headers=HTMX).get_data(as_text=True)
    assert "For your team" in text and "Hi Linus" in text
    form["body_a"] = "{{ nope }}"
    assert "unknown merge field {{ nope }}" in client.post("/cadences/preview", data=form).get_data(
        as_text=True
    )


def test_library_templates_are_checked_before_saving(app, client, login, make_user):
    login(make_user(Role.REP))
    bad = client.post(
        "/cadences/templates", data={"name": "Intro", "subject": "Hi", "body": "{{ rep.phone }}"}
    )
    assert bad.status_code == 422 and "unknown merge field {{ rep.phone }}" in bad.get_data(
        as_text=True
    )
    good = client.post(
        "/cadences/templates", data={"name": "Intro", "subject": "Hi", "body": "{{ rep.name }}"}
    )
    assert good.status_code == 302
    assert "Intro" in client.get("/cadences/templates").get_data(as_text=True)


def test_senders_need_a_postal_address(app, client, login, make_user):
    login(make_user(Role.MARKETER))
    form = {
        "from_name": "Sales",
        "from_email": "sales@example.com",
        "smtp_host": "mail.example.com",
    }
    refused = client.post("/cadences/senders", data=form)
    assert refused.status_code == 422 and "sales@example.com" in refused.get_data(as_text=True)
    form["postal_address"] = "1 Main St, Springfield"
    assert client.post("/cadences/senders", data=form).status_code == 302
    assert db.session.scalar(sa.select(MailSender.smtp_port)) == 587


def test_other_workspaces_cadences_are_not_found(app, client, login, make_user):
    login(make_user(Role.REP))
    assert client.get("/cadences/12345").status_code == 404
    assert db.session.scalar(sa.select(sa.func.count(CadenceStep.id))) == 0


def test_holidays_are_added_once_and_bad_dates_explained(app, client, login, make_user):
    from cadences.models import Holiday

    login(make_user(Role.MARKETER))
    bad = client.post("/cadences/holidays", data={"day": "25/12/2026"})
    assert bad.status_code == 422 and "is not a date" in bad.get_data(as_text=True)
    for _ in range(2):
        client.post("/cadences/holidays", data={"day": "2026-12-25", "name": "Christmas"})
    assert db.session.scalar(sa.select(sa.func.count(Holiday.id))) == 1
    assert "Christmas" in client.get("/cadences/holidays").get_data(as_text=True)


def test_emails_waiting_to_retry_show_on_the_cadence_page(
    app, client, login, make_user, clock, make_sender, make_cadence, make_lead
):
    from cadences.jobs import process
    from cadences.runner import lease_due
    from tests.cadences.conftest import enroll_now, free_port

    login(make_user(Role.MARKETER))
    cadence = make_cadence(("email", {}), sender=make_sender(free_port()))  # nobody listens
    enroll_now(cadence, make_lead())
    assert process(lease_due(10))["retry"] == 1
    page = client.get(f"/cadences/{cadence.id}").get_data(as_text=True)
    assert "Emails that need attention" in page
    assert "retry" in page and "Connection refused" in page


def test_steps_stay_in_place_while_leads_are_in_the_cadence(
    app, client, login, make_user, make_lead
):
    login(make_user(Role.MARKETER))
    cadence = _new_cadence(client)
    for kind in ("task", "call"):
        client.post(f"/cadences/{cadence.id}/steps", data={"kind": kind})
    lead = make_lead()
    enrolled = client.post(f"/cadences/{cadence.id}/enroll", data={"lead_id": lead.id})
    assert enrolled.status_code == 200, enrolled.get_data(as_text=True)[-3000:]
    db.session.expire_all()
    first = cadence.steps[0]
    refused = client.post(f"/cadences/{cadence.id}/steps/{first.id}/delete", headers=HTMX)
    assert refused.status_code == 422
    assert "1 lead is in this cadence" in refused.get_data(as_text=True)
    moved = client.post(f"/cadences/{cadence.id}/steps/{first.id}/move", data={"direction": "down"})
    assert moved.status_code == 422
    added = client.post(f"/cadences/{cadence.id}/steps", data={"kind": "social"})
    assert added.status_code == 200
    db.session.expire_all()
    assert [s.kind for s in cadence.steps] == ["task", "call", "social"]
