"""The dial queue's service: order, calling hours, leases, dispositions, callbacks, DNC."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Role
from leads import dnc
from leads.dial_models import CallAttempt, Callback, DialSettings
from leads.dialing import claim_next, held_lead, summarize
from leads.dispositions import Disposition, DispositionError, Result, dispose
from leads.models import Activity, ContactKind, Lead
from tests.leads.dial_factories import OPEN, make_lead


@pytest.fixture
def caller(make_user):
    return make_user(Role.CALLER, name="Cal Caller")


def _work(user, outcome="no_answer", at=OPEN, **fields):
    lead = claim_next(user, {}, at=at)
    assert lead is not None
    result = dispose(user, Disposition(lead.dial_lease_token, outcome, **fields), at=at)
    db.session.commit()
    return lead, result


def test_claims_fresh_leads_oldest_first_and_holds_one_at_a_time(caller):
    first, second = make_lead(caller), make_lead(caller)
    lead = claim_next(caller, {}, at=OPEN)
    db.session.commit()
    assert lead.id == first.id and lead.dial_leased_by_id == caller.id
    # Asking again without a disposition gives the same lead back: one at a time.
    assert claim_next(caller, {}, at=OPEN).id == first.id
    dispose(caller, Disposition(lead.dial_lease_token, "no_answer"), at=OPEN)
    db.session.commit()
    assert claim_next(caller, {}, at=OPEN).id == second.id


def test_a_caller_is_never_served_another_owners_lead(caller, make_user):
    other = make_user(Role.CALLER)
    make_lead(other)
    assert claim_next(caller, {}, at=OPEN) is None


def test_two_callers_never_hold_the_same_lead(caller, make_user):
    other = make_user(Role.MANAGER)  # sees every lead, so both queues contain it
    only = make_lead(caller)
    assert claim_next(caller, {}, at=OPEN).id == only.id
    db.session.commit()
    assert claim_next(other, {}, at=OPEN) is None


def test_an_abandoned_lease_returns_the_lead_to_the_queue(caller, make_user):
    manager = make_user(Role.MANAGER)
    lead = make_lead(caller)
    claim_next(caller, {}, at=OPEN)
    db.session.commit()
    assert claim_next(manager, {}, at=OPEN + timedelta(minutes=4)) is None
    db.session.commit()
    taken = claim_next(manager, {}, at=OPEN + timedelta(minutes=6))
    assert taken.id == lead.id and taken.dial_leased_by_id == manager.id


def test_a_lead_where_it_is_0730_is_not_served(caller):
    los_angeles, new_york = make_lead(caller, "213"), make_lead(caller, "212")
    early = OPEN.replace(hour=15, minute=30)  # 07:30 in Los Angeles, 10:30 in New York
    assert claim_next(caller, {}, at=early).id == new_york.id
    db.session.commit()
    summary = summarize(caller, {}, at=early)
    assert summary.waiting_for_hours == 1
    assert summary.next_callable_at == OPEN.replace(hour=16, minute=0)
    held = held_lead(caller, early)
    dispose(caller, Disposition(held.dial_lease_token, "no_answer"), at=early)
    db.session.commit()
    assert claim_next(caller, {}, at=early) is None
    assert claim_next(caller, {}, at=OPEN.replace(hour=16)).id == los_angeles.id


def test_order_is_due_callbacks_then_fresh_then_retries(caller):
    retry, callback_lead = make_lead(caller), make_lead(caller)
    _work(caller, "busy")  # retry: busy, comes back after the recent-call window
    _work(caller, "call_back", callback_local="2026-01-14T15:00")  # 20:00 UTC
    fresh = make_lead(caller)
    later = OPEN + timedelta(hours=3)
    assert claim_next(caller, {}, at=later).id == callback_lead.id
    db.session.commit()
    _, result = _work(caller, "no_answer", at=later)
    assert result.result is Result.RECORDED
    assert db.session.scalar(
        sa.select(Callback.done_at).where(Callback.lead_id == callback_lead.id)
    )
    assert claim_next(caller, {}, at=later).id == fresh.id
    db.session.commit()
    _work(caller, "no_answer", at=later)
    assert claim_next(caller, {}, at=later).id == retry.id


def test_retry_spacing_follows_the_outcome_and_the_recent_call_window(caller, workspace):
    make_lead(caller)
    lead, _ = _work(caller, "no_answer")
    assert db.session.get(Lead, lead.id).dial_next_at == OPEN + timedelta(hours=4)
    # Busy asks for 30 minutes, but leads called in the last hour are skipped.
    busy = make_lead(caller)
    _work(caller, "busy")
    assert db.session.get(Lead, busy.id).dial_next_at == OPEN + timedelta(hours=1)
    db.session.add(DialSettings(workspace_id=workspace.id, recent_call_minutes=15))
    db.session.commit()
    again = make_lead(caller)
    _work(caller, "busy")
    assert db.session.get(Lead, again.id).dial_next_at == OPEN + timedelta(minutes=30)


def test_max_attempts_takes_a_lead_out_of_the_queue(caller, workspace):
    db.session.add(DialSettings(workspace_id=workspace.id, max_attempts=2))
    lead = make_lead(caller)
    _work(caller, "busy")
    _work(caller, "busy", at=OPEN + timedelta(hours=2))
    assert db.session.get(Lead, lead.id).dial_done
    assert claim_next(caller, {}, at=OPEN + timedelta(days=1)) is None


def test_a_disposition_records_once_and_a_stale_token_records_nothing(caller, make_user):
    lead = make_lead(caller)
    held = claim_next(caller, {}, at=OPEN)
    token = held.dial_lease_token
    entry = Disposition(token, "conversation", note="Spoke to her", duration_seconds=95)
    assert dispose(caller, entry, at=OPEN).result is Result.RECORDED
    db.session.commit()
    assert dispose(caller, entry, at=OPEN).result is Result.ALREADY_RECORDED
    other = make_user(Role.CALLER)
    assert dispose(other, Disposition("f" * 32, "busy"), at=OPEN).result is Result.NOT_HELD
    db.session.commit()
    call = db.session.scalar(sa.select(CallAttempt))
    assert db.session.scalar(sa.select(sa.func.count(CallAttempt.id))) == 1
    assert (call.outcome, call.category, call.duration_seconds) == (
        "conversation",
        "conversation",
        95,
    )
    assert call.started_at == OPEN - timedelta(seconds=95) and call.lead_local_hour == 12
    assert call.caller_id == caller.id and call.note == "Spoke to her"
    summaries = db.session.scalars(sa.select(Activity.summary).where(Activity.lead_id == lead.id))
    assert "Called: Conversation (1:35)" in list(summaries)


@pytest.mark.parametrize(
    ("local", "message"),
    [
        ("2026-01-14T07:00", "in the past"),
        ("2026-01-14T21:30", "outside calling hours"),
        ("", "Pick the callback"),
    ],
)
def test_a_callback_in_the_past_or_outside_hours_is_refused(caller, local, message):
    make_lead(caller)
    held = claim_next(caller, {}, at=OPEN)
    with pytest.raises(DispositionError, match=message):
        dispose(
            caller, Disposition(held.dial_lease_token, "call_back", callback_local=local), at=OPEN
        )


def test_do_not_contact_takes_effect_on_the_very_next_claim(caller, make_user):
    manager = make_user(Role.MANAGER)
    listed, other = make_lead(caller), make_lead(caller)
    held = claim_next(manager, {}, at=OPEN)
    db.session.commit()
    assert held.id == listed.id
    dnc.add(caller.workspace_id, ContactKind.PHONE, listed.phone_e164, manager, "asked")
    db.session.commit()
    # Gone from the screen of the manager holding it and from every other queue.
    assert held_lead(manager, OPEN) is None
    assert claim_next(caller, {}, at=OPEN).id == other.id
    db.session.commit()
    summary = summarize(manager, {}, at=OPEN + timedelta(minutes=10))
    assert summary.suppressed == 1


def test_do_not_call_outcome_lists_the_leads_contacts(caller):
    lead = make_lead(caller, email="pat@example.com", email_key="pat@example.com")
    _work(caller, "do_not_call")
    values = set(db.session.scalars(sa.select(dnc.DoNotContact.value)))
    assert values == {lead.phone_e164, "pat@example.com"}
    assert db.session.get(Lead, lead.id).status == "disqualified"


def test_dnc_survives_deleting_the_lead_and_removal_is_audited(caller, make_user):
    manager = make_user(Role.MANAGER)
    lead = make_lead(caller)
    dnc.add_lead(lead, caller, "by hand")
    number = lead.phone_e164
    db.session.delete(lead)
    db.session.commit()
    entry = db.session.scalar(sa.select(dnc.DoNotContact))
    assert entry.value == number
    with pytest.raises(dnc.DncError):
        dnc.remove(entry, manager, " ")
    removal = dnc.remove(entry, manager, "Consent given on the phone")
    db.session.commit()
    assert (removal.value, removal.added_by_id, removal.removed_by_id) == (
        number,
        caller.id,
        manager.id,
    )
    assert db.session.scalar(sa.select(sa.func.count(dnc.DoNotContact.id))) == 0


def test_importing_a_list_normalizes_and_counts(caller):
    text = "212-555-0199\n+1 212 555 0199\nPat@Example.com; not a number\n\n"
    report = dnc.import_entries(caller.workspace_id, text, caller, "list", "US")
    db.session.commit()
    assert (report.added, report.already, len(report.rejected)) == (2, 0, 1)
    again = dnc.import_entries(caller.workspace_id, "2125550199", caller, "list", "US")
    assert (again.added, again.already) == (0, 1)


def test_saved_view_filters_narrow_the_queue(caller):
    make_lead(caller, custom_fields={"tier": "B"})
    gold = make_lead(caller, custom_fields={"tier": "A"})
    lead = claim_next(caller, {"field": "tier", "field_value": "A"}, at=OPEN)
    assert lead.id == gold.id


def test_claim_uses_the_partial_index(app, caller):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite plan")
    from leads.dialing import Rules, _step_parameters, _steps

    fresh = list(_steps(caller, {}))[1].params(_step_parameters(OPEN, Rules.for_user(caller)))
    compiled = fresh.limit(25).compile(db.engine, compile_kwargs={"literal_binds": True})
    plan = " ".join(str(r) for r in db.session.execute(sa.text(f"EXPLAIN QUERY PLAN {compiled}")))
    assert "ix_leads_dial_fresh_owner" in plan
