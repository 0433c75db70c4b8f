"""Qualification: the criteria a lead must meet, and promoting it into the hand-off."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.extensions import db
from app.models import User
from leads.models import ActivityType, Lead, LeadStatus
from leads.timeline import record
from sync.handoff import QUALIFIED_STATUSES, open_handoffs
from sync.models import QualificationAnswers, QualificationCriteria

# Lead fields a workspace may require, with what the rep is told when one is empty.
REQUIRABLE_FIELDS = {
    "company": "Company",
    "title": "Job title",
    "email": "A valid email address",
    "phone_e164": "A valid phone number",
    "owner_id": "An owner",
    "country": "Country",
}
DEFAULT_REQUIRED_FIELDS = ["company"]
DEFAULT_CHECKLIST = ["Budget", "Authority", "Need", "Timing"]
MAX_CHECKLIST_ITEMS = 20


class NotQualified(Exception):
    """The lead misses some criteria; ``missing`` says which, in words for the rep."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__("; ".join(missing))
        self.missing = missing


@dataclass(frozen=True)
class Criteria:
    required_fields: list[str]
    checklist: list[str]


def criteria_for(workspace_id: int) -> Criteria:
    """The workspace's criteria, or the defaults (company and BANT) when none were set."""
    row = db.session.get(QualificationCriteria, workspace_id)
    if row is None:
        return Criteria(list(DEFAULT_REQUIRED_FIELDS), list(DEFAULT_CHECKLIST))
    return Criteria(list(row.required_fields), list(row.checklist))


def save_criteria(workspace_id: int, required_fields: list[str], checklist: list[str]) -> None:
    """Replace the workspace's criteria, dropping unknown fields and blank items. Caller commits."""
    row = db.session.get(QualificationCriteria, workspace_id)
    if row is None:
        row = QualificationCriteria(workspace_id=workspace_id)
        db.session.add(row)
    row.required_fields = [name for name in required_fields if name in REQUIRABLE_FIELDS]
    items = [item.strip()[:80] for item in checklist if item.strip()]
    row.checklist = list(dict.fromkeys(items))[:MAX_CHECKLIST_ITEMS]


def answers_for(lead: Lead) -> dict[str, bool]:
    row = db.session.get(QualificationAnswers, lead.id)
    return {key: bool(value) for key, value in (row.answers if row else {}).items()}


def save_answers(lead: Lead, ticked: list[str], criteria: Criteria) -> None:
    """Store which checklist items are met for the lead; caller commits."""
    row = db.session.get(QualificationAnswers, lead.id)
    if row is None:
        row = QualificationAnswers(lead_id=lead.id)
        db.session.add(row)
    row.answers = {item: item in ticked for item in criteria.checklist}


def missing_for(lead: Lead, criteria: Criteria, answers: dict[str, bool]) -> list[str]:
    """What keeps the lead from promotion, in the rep's words; empty when it qualifies."""
    missing = [
        f"{REQUIRABLE_FIELDS[name]} is missing"
        for name in criteria.required_fields
        if name in REQUIRABLE_FIELDS and not getattr(lead, name)
    ]
    missing += [f"{item} is not confirmed" for item in criteria.checklist if not answers.get(item)]
    return missing


def is_promoted(lead: Lead) -> bool:
    return lead.status in QUALIFIED_STATUSES


def promote(lead: Lead, user: User) -> bool:
    """Qualify the lead and open its hand-off in one transaction; the caller commits.

    Raises NotQualified with what is missing. Returns False when the lead was
    qualified already (a second tab, a double click): nothing changes then.
    """
    # Lock the lead so two promotions at once serialize (SQLite writes do anyway).
    db.session.execute(sa.select(Lead.id).where(Lead.id == lead.id).with_for_update())
    db.session.refresh(lead)
    if is_promoted(lead):
        open_handoffs(lead.workspace_id, [lead.id], user.id)
        return False
    missing = missing_for(lead, criteria_for(lead.workspace_id), answers_for(lead))
    if missing:
        raise NotQualified(missing)
    previous = LeadStatus(lead.status).label
    lead.status = LeadStatus.QUALIFIED.value
    summary = f"Promoted to the pipeline ({previous} → Qualified)"
    record(lead, ActivityType.STATUS_CHANGE, user, summary)
    open_handoffs(lead.workspace_id, [lead.id], user.id)
    return True
