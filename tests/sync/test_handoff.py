"""The hand-off ledger: promotion, delivery into the pipeline, exactly once."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import utcnow
from leads.models import Activity, Lead, LeadStatus
from sync.handoff import claim_due, deliver_due, open_missing_handoffs, record_results
from sync.models import Account, Contact, Deal, Handoff, HandoffState
from sync.qualification import NotQualified, promote
from sync.targets import get_target


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def pipeline():
    return get_target("pipeline")


def test_promotion_writes_status_and_ledger_row_together(make_lead, rep):
    lead = make_lead()
    assert promote(lead, rep) is True
    db.session.commit()
    row = db.session.scalar(sa.select(Handoff).where(Handoff.lead_id == lead.id))
    assert (lead.status, row.target, row.state) == ("qualified", "pipeline", "pending")
    assert len(row.idempotency_key) == 32


def test_promotion_says_what_is_missing(make_lead, rep):
    lead = make_lead(ticked=["Budget", "Need"], company=None)
    with pytest.raises(NotQualified) as refused:
        promote(lead, rep)
    assert refused.value.missing == [
        "Company is missing", "Authority is not confirmed", "Timing is not confirmed",
    ]
    db.session.rollback()
    assert count(Handoff) == 0
    assert db.session.get(Lead, lead.id).status == LeadStatus.CONNECTED


def test_promoting_twice_opens_one_row(make_lead, rep):
    lead = make_lead()
    assert promote(lead, rep) is True
    db.session.commit()
    assert promote(lead, rep) is False
    db.session.commit()
    assert count(Handoff) == 1


def test_delivery_makes_account_contact_deal_and_hands_the_lead_off(promoted):
    lead = promoted(company="Initech")
    assert deliver_due(pipeline()) == 1
    db.session.expire_all()
    row = db.session.scalar(sa.select(Handoff))
    deal = db.session.scalar(sa.select(Deal))
    assert row.state == HandoffState.DELIVERED
    assert row.external_ids == {"deal_id": deal.id, "account_id": deal.account_id,
                                "contact_id": deal.contact_id}  # fmt: skip
    assert (deal.title, deal.stage.name, deal.lead_id) == ("Initech", "Qualified", lead.id)
    assert db.session.get(Lead, lead.id).status == LeadStatus.HANDED_OFF
    summaries = db.session.scalars(sa.select(Activity.summary).where(Activity.lead_id == lead.id))
    assert f"Handed off to the pipeline as deal #{deal.id}" in list(summaries)
    assert deliver_due(pipeline()) == 0  # nothing left to do


def test_a_delivery_repeated_after_a_crash_finds_what_the_first_made(promoted):
    leads = [promoted(company="Same Co") for _ in range(3)]
    target = pipeline()
    rows = claim_due(target, 10, utcnow())
    first = target.deliver(rows)  # the pipeline committed; the ledger never heard of it
    second = target.deliver(rows)  # a retry after the lease ran out
    assert first == second
    record_results(target, rows, second, utcnow())
    assert (count(Account), count(Contact), count(Deal)) == (1, 3, 3)
    assert {d.lead_id for d in db.session.scalars(sa.select(Deal))} == {x.id for x in leads}


def test_two_leads_of_one_company_share_an_account(promoted):
    promoted(company="Globex")
    promoted(company="globex ")
    deliver_due(pipeline())
    assert (count(Account), count(Contact), count(Deal)) == (1, 2, 2)


def test_the_sweep_opens_rows_for_qualified_leads_without_one(make_lead):
    # The dial queue commits the status, then its process dies before the signal.
    lead = make_lead(status=LeadStatus.QUALIFIED.value)
    assert open_missing_handoffs() == 1
    db.session.commit()
    assert open_missing_handoffs() == 0
    assert db.session.scalar(sa.select(Handoff.lead_id)) == lead.id
