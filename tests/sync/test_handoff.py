"""The hand-off ledger: promotion, delivery into the pipeline, exactly once."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import utcnow
from app.queue import get_queue
from leads.models import Activity, Lead, LeadStatus
from leads.signals import lead_qualified
from sync.handoff import claim_due, deliver_due, open_missing_handoffs, record_results
from sync.inbound import carry_back
from sync.jobs import sweep_handoffs
from sync.models import Account, Contact, Deal, DealActivity, Handoff, HandoffState, StageOutcome
from sync.pipeline import move_deal, outcome_stage
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


def test_the_qualified_signal_opens_the_row_once(make_lead, rep):
    # What the dial queue does after committing a "qualified" disposition.
    lead = make_lead(status=LeadStatus.QUALIFIED.value)
    lead_qualified.send(lead, user_id=rep.id)
    lead_qualified.send(lead, user_id=rep.id)
    rows = db.session.scalars(sa.select(Handoff)).all()
    assert [(row.lead_id, row.qualified_by_id) for row in rows] == [(lead.id, rep.id)]


def test_the_sweep_queues_due_deliveries_from_sql(app, promoted):
    promoted()
    app.extensions["redis"].flushdb()  # Redis lost every job
    sweep_handoffs()
    queued = get_queue().get_job_ids()
    assert any(job_id.startswith("sync-deliver-pipeline-") for job_id in queued)
    assert any(job_id.startswith("sync-carry-back-") for job_id in queued)


def test_deal_changes_reach_the_lead_once_even_if_the_mark_is_lost(promoted, rep):
    lead = promoted()
    deliver_due(pipeline())
    deal = db.session.scalar(sa.select(Deal))
    move_deal(deal, outcome_stage(deal, StageOutcome.WON), rep)
    db.session.commit()
    # A carrier that died after the lead's commit, before marking the activities carried:
    pending = db.session.execute(
        sa.select(DealActivity).where(DealActivity.lead_synced_at.is_(None))
    ).scalars().all()
    assert len(pending) == 1
    assert carry_back() == 1
    db.session.execute(sa.update(DealActivity).values(lead_synced_at=None))
    db.session.commit()
    assert carry_back() == 2  # both looked at again (created and won) ...
    assert carry_back() == 0
    won = sa.select(sa.func.count(Activity.id)).where(Activity.summary.like("Deal %won%"))
    assert db.session.scalar(won) == 1  # ... but applied once
    assert db.session.get(Lead, lead.id).status == LeadStatus.WON
