"""The cadence panel on the lead card: enrol the lead, see its cadence, mark a reply."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from cadences.models import Enrollment, EnrollmentStatus, ExitReason

HX = {"HX-Request": "true"}


@pytest.fixture
def signed_in_rep(client, login, rep):
    login(rep)
    return rep


def test_the_card_loads_the_panel_which_enrols_and_marks_replied(
    client, signed_in_rep, make_cadence, make_lead, clock
):
    lead = make_lead(owner_id=signed_in_rep.id)
    cadence = make_cadence(("task", {}), name="Warm <intro>")
    card = client.get(f"/leads/{lead.id}").get_data(as_text=True)
    assert f'hx-get="/cadences/leads/{lead.id}/panel"' in card
    panel = client.get(f"/cadences/leads/{lead.id}/panel", headers=HX).get_data(as_text=True)
    assert "Warm &lt;intro&gt;" in panel and "Enrol" in panel and "Replied" not in panel

    enrolled = client.post(
        f"/cadences/leads/{lead.id}/enroll", data={"cadence_id": cadence.id}, headers=HX
    )
    html = enrolled.get_data(as_text=True)
    assert enrolled.status_code == 200 and "Enrolled in" in html and "Replied" in html
    twice = client.post(
        f"/cadences/leads/{lead.id}/enroll", data={"cadence_id": cadence.id}, headers=HX
    )
    assert twice.status_code == 422 and "one cadence at a time" in twice.get_data(as_text=True)

    replied = client.post(f"/cadences/leads/{lead.id}/replied-panel", headers=HX)
    assert "cadence stopped" in replied.get_data(as_text=True)
    enrollment = db.session.scalar(sa.select(Enrollment).where(Enrollment.lead_id == lead.id))
    assert (enrollment.status, enrollment.exit_reason) == (
        EnrollmentStatus.EXITED,
        ExitReason.REPLIED,
    )
    again = client.post(f"/cadences/leads/{lead.id}/replied-panel", headers=HX)
    assert "No running cadence" in again.get_data(as_text=True)


def test_a_missing_cadence_is_a_422_with_a_message(client, signed_in_rep, make_lead):
    lead = make_lead(owner_id=signed_in_rep.id)
    response = client.post(f"/cadences/leads/{lead.id}/enroll", data={"cadence_id": "x"})
    assert response.status_code == 422 and "Choose a cadence" in response.get_data(as_text=True)
    assert client.get("/cadences/leads/999999/panel").status_code == 404
