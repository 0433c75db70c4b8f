"""The Erase action: who sees it, the confirm step, and what a confirmed erasure does."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Role
from leads.erasure_models import LeadErasure
from leads.models import Lead


def _lead(workspace, **fields) -> Lead:
    lead = Lead(workspace_id=workspace.id, status="new", **fields)
    db.session.add(lead)
    db.session.commit()
    return lead


def test_the_lead_page_offers_erase_to_managers_only(client, login, make_user, workspace):
    lead = _lead(workspace, first_name="Odile", email="odile@example.com")
    login(make_user(Role.MANAGER))
    assert f"/leads/{lead.id}/erase" in client.get(f"/leads/{lead.id}").get_data(as_text=True)
    rep_client = client.application.test_client()
    login(make_user(Role.MARKETER), on=rep_client)
    page = rep_client.get(f"/leads/{lead.id}").get_data(as_text=True)
    assert f"/leads/{lead.id}/erase" not in page


def test_confirm_names_the_other_leads_and_what_goes(client, login, admin, workspace):
    mobile = {"kind": "mobile", "raw": "646 555 0177", "e164": "+16465550177"}
    lead = _lead(workspace, first_name="Odile", email_key="odile@example.com",
                 phone_e164="+12125550177", other_phones=[mobile])  # fmt: skip
    twin = _lead(workspace, first_name="O.", phone_e164="+16465550177")
    _lead(workspace, first_name="Stranger", phone_e164="+12125550999")
    # The match works both ways: a lead that lists this lead's phone among its others.
    other = {"kind": "other", "raw": "212 555 0177", "e164": "+12125550177"}
    cousin = _lead(workspace, first_name="Cousin", other_phones=[other])
    login(admin)
    page = client.get(f"/leads/{lead.id}/erase").get_data(as_text=True)
    assert f'name="also" value="{twin.id}"' in page
    assert f'name="also" value="{cousin.id}"' in page
    assert "Stranger" not in page
    assert "3 leads" in page  # both are planned by default


def test_erasing_needs_the_confirm_box(client, login, admin, workspace):
    lead = _lead(workspace, first_name="Odile", email="odile@example.com")
    login(admin)
    response = client.post(f"/leads/{lead.id}/erase", data={})
    assert response.status_code == 422
    assert "Tick the box" in response.get_data(as_text=True)
    assert db.session.get(Lead, lead.id) is not None


def test_a_confirmed_erasure_removes_the_chosen_leads_and_is_audited(
    client, login, admin, workspace
):
    mobile = {"kind": "mobile", "raw": "646 555 0178", "e164": "+16465550178"}
    lead = _lead(workspace, first_name="Odile", email_key="odile@example.com",
                 other_phones=[mobile])  # fmt: skip
    twin = _lead(workspace, first_name="O.", phone_e164="+16465550178")
    login(admin)
    response = client.post(
        f"/leads/{lead.id}/erase", data={"confirm": "erase", "also": [str(twin.id)]}
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Lead)) == 0
    audit = db.session.scalars(sa.select(LeadErasure)).one()
    assert (audit.erased_by_id, audit.lead_count, audit.removed["leads"]) == (admin.id, 2, 2)
    assert "odile" not in repr(audit.removed).lower() and len(audit.subject_digest) == 64
