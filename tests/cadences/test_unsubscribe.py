"""One-click unsubscribe: POST without sign-in or CSRF, idempotent; GET only asks."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from cadences.jobs import process
from cadences.models import Enrollment, ExitReason, StepRun
from cadences.runner import lease_due
from leads.models import ContactKind, DoNotContact
from tests.cadences.conftest import enroll_now


def _send_one(make_cadence, make_sender, make_lead, port) -> tuple[Enrollment, str]:
    cadence = make_cadence(("email", {}), ("task", {}), sender=make_sender(port))
    enrollment = enroll_now(cadence, make_lead())
    process(lease_due(10))
    run = db.session.scalar(sa.select(StepRun).where(StepRun.enrollment_id == enrollment.id))
    return enrollment, run.unsubscribe_token


def test_a_get_only_shows_a_confirm_page(
    app, client, clock, smtp_server, make_cadence, make_sender, make_lead
):
    enrollment, token = _send_one(make_cadence, make_sender, make_lead, smtp_server[1])
    page = client.get(f"/u/{token}")
    assert page.status_code == 200
    assert "Unsubscribe?" in page.get_data(as_text=True)
    db.session.refresh(enrollment)
    assert enrollment.status == "active"
    assert db.session.scalar(sa.select(sa.func.count(DoNotContact.id))) == 0


def test_the_one_click_post_needs_no_login_or_csrf_and_is_idempotent(
    app, client, clock, smtp_server, make_cadence, make_sender, make_lead
):
    enrollment, token = _send_one(make_cadence, make_sender, make_lead, smtp_server[1])
    inbox = smtp_server[0]
    link = inbox.messages[0]["List-Unsubscribe"].strip("<>")
    client.csrf = False  # as a mail provider posts it: no session, no token
    for _ in range(2):
        response = client.post(
            link.removeprefix("http://127.0.0.1:5000"),
            data="List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 200
        assert "You are unsubscribed" in response.get_data(as_text=True)
    db.session.expire_all()
    assert (enrollment.status, enrollment.exit_reason) == ("exited", ExitReason.UNSUBSCRIBED)
    entries = db.session.execute(sa.select(DoNotContact.kind, DoNotContact.value)).all()
    assert entries == [(ContactKind.EMAIL.value, enrollment_email(enrollment))]


def enrollment_email(enrollment: Enrollment) -> str:
    from leads.models import Lead

    return db.session.get(Lead, enrollment.lead_id).email_key


def test_links_survive_a_secret_rotation(
    app, make_app, clock, smtp_server, make_cadence, make_sender, make_lead
):
    _enrollment, token = _send_one(make_cadence, make_sender, make_lead, smtp_server[1])
    db.session.commit()
    rotated = make_app(SECRET_KEY="a-completely-new-secret-key-for-this-test-0123456789")
    other = rotated.test_client()
    other.csrf = False
    with rotated.app_context():
        assert other.post(f"/u/{token}").status_code == 200


def test_an_unknown_token_is_a_404(client):
    client.csrf = False
    assert client.get("/u/nope").status_code == 404
    assert client.post("/u/nope").status_code == 404
