"""Factories for the hand-off tests: qualified-ready leads, promoted leads."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Role
from leads.models import Lead, LeadStatus
from sync.qualification import DEFAULT_CHECKLIST, criteria_for, promote, save_answers


@pytest.fixture
def rep(make_user):
    return make_user(Role.REP, name="Rita Rep", email="rita@example.com")


@pytest.fixture
def make_lead(workspace, rep):
    """Factory: a lead owned by the rep, by default with a company and every check ticked."""
    counter = iter(range(1, 1_000_000))

    def build(ticked: list[str] | None = None, **fields) -> Lead:
        number = next(counter)
        values = {"first_name": "Pat", "last_name": f"Buyer{number}", "company": f"Acme {number}",
                  "email": f"pat{number}@example.com", "owner_id": rep.id,
                  "status": LeadStatus.CONNECTED.value, **fields}  # fmt: skip
        lead = Lead(workspace_id=workspace.id, **values)
        db.session.add(lead)
        db.session.flush()
        save_answers(lead, DEFAULT_CHECKLIST if ticked is None else ticked,
                     criteria_for(workspace.id))  # fmt: skip
        db.session.commit()
        return lead

    return build


@pytest.fixture
def promoted(make_lead, rep):
    """Factory: a lead promoted by the rep and committed."""

    def build(**fields) -> Lead:
        lead = make_lead(**fields)
        promote(lead, rep)
        db.session.commit()
        return lead

    return build
