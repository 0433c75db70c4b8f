"""Social queue services: due order, quota at the rep's midnight, snooze, outcomes once,
suppression, bulk creation from a view, profile addresses."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Role
from leads.models import Activity, ActivityType, ContactKind, DoNotContact, Lead
from leads.profiles import profile_url_problem
from leads.queries import LeadFilters
from leads.social import (
    EmptyReason,
    Handled,
    TaskError,
    create_task,
    due_count,
    log_outcome,
    move_pending_tasks,
    queue_state,
    skip_task,
    snooze_task,
)
from leads.social_bulk import SkipReason, bulk_create
from leads.social_quota import daily_quota, day_bounds, set_quotas, touches_today
from leads.tasks import Network, SocialAction, SocialOutcome, Task, TaskStatus

# Nov 10 in Los Angeles is UTC-8: local midnight of Nov 11 is 08:00 UTC.
LA_MIDNIGHT = datetime(2026, 11, 11, 8, 0)


@pytest.fixture
def rep(make_user):
    return make_user(Role.REP, name="Rita Rep", time_zone="America/Los_Angeles")


@pytest.fixture
def make_lead(workspace):
    counter = iter(range(1, 100_000))

    def build(owner, **fields) -> Lead:
        number = next(counter)
        values = {
            "first_name": f"Lead{number}",
            "linkedin_url": f"https://www.linkedin.com/in/lead-{number}",
            "x_url": f"https://x.com/lead{number}",
            **fields,
        }
        lead = Lead(workspace_id=workspace.id, owner_id=owner.id if owner else None, **values)
        db.session.add(lead)
        db.session.flush()
        return lead

    return build


def _task(lead, actor, due_at, network=Network.LINKEDIN, action=SocialAction.CONNECT) -> Task:
    task = create_task(lead, network, action, actor, due_at=due_at)
    db.session.commit()
    return task


def test_queue_serves_the_soonest_due_task_and_not_future_ones(rep, make_lead):
    now = datetime(2026, 11, 10, 18, 0)
    later = _task(make_lead(rep), rep, now - timedelta(hours=1))
    first = _task(make_lead(rep), rep, now - timedelta(hours=5))
    _task(make_lead(rep), rep, now + timedelta(hours=1))
    assert queue_state(rep, now).task.id == first.id
    assert due_count(rep, now) == 2
    log_outcome(rep, first.id, SocialOutcome.DONE, now)
    assert queue_state(rep, now).task.id == later.id


def test_quota_resets_at_midnight_in_the_reps_time_zone(rep, make_lead):
    set_quotas(rep.workspace_id, 10, {rep.id: 2}, rep)
    tasks = [_task(make_lead(rep), rep, LA_MIDNIGHT - timedelta(days=1)) for _ in range(4)]
    before_midnight = LA_MIDNIGHT - timedelta(minutes=10)
    for task in tasks[:2]:
        assert log_outcome(rep, task.id, SocialOutcome.DONE, before_midnight) is Handled.APPLIED
    db.session.commit()

    assert daily_quota(rep) == 2
    one_second_before = queue_state(rep, LA_MIDNIGHT - timedelta(seconds=1))
    assert one_second_before.task is None
    assert one_second_before.empty_reason is EmptyReason.QUOTA_REACHED
    # 08:00 UTC is midnight in Los Angeles but 03:00 in New York: the rep's zone decides.
    at_midnight = queue_state(rep, LA_MIDNIGHT)
    assert at_midnight.task is not None and at_midnight.done_today == 0
    log_outcome(rep, at_midnight.task.id, SocialOutcome.CONNECTED, LA_MIDNIGHT)
    db.session.commit()
    assert touches_today(rep, LA_MIDNIGHT) == 1
    assert day_bounds(rep, LA_MIDNIGHT) == (LA_MIDNIGHT, LA_MIDNIGHT + timedelta(days=1))


def test_workspace_default_applies_until_a_rep_has_an_override(rep, make_user):
    other = make_user(Role.REP)
    set_quotas(rep.workspace_id, 7, {rep.id: 3}, rep)
    db.session.commit()
    assert (daily_quota(rep), daily_quota(other)) == (3, 7)
    set_quotas(rep.workspace_id, 8, {rep.id: None}, rep)
    db.session.commit()
    assert (daily_quota(rep), daily_quota(other)) == (8, 8)


def test_snoozed_task_comes_back_after_its_time_in_due_order(rep, make_lead):
    now = datetime(2026, 11, 10, 18, 0)
    task = _task(make_lead(rep), rep, now - timedelta(days=1))
    assert snooze_task(rep, task.id, now + timedelta(hours=1), now) is Handled.APPLIED
    db.session.commit()
    state = queue_state(rep, now)
    assert state.task is None and state.empty_reason is EmptyReason.ALL_SNOOZED
    assert state.next_due_at == now + timedelta(hours=1)
    fresh = _task(make_lead(rep), rep, now + timedelta(minutes=30))
    assert queue_state(rep, now).empty_reason is EmptyReason.NOTHING_DUE
    # Back at its time, and ahead of a task due after it.
    assert queue_state(rep, now + timedelta(hours=2)).task.id == fresh.id
    assert queue_state(rep, now + timedelta(minutes=59)).task.id == fresh.id
    log_outcome(rep, fresh.id, SocialOutcome.DONE, now + timedelta(hours=2))
    assert queue_state(rep, now + timedelta(hours=2)).task.id == task.id
    with pytest.raises(TaskError):
        snooze_task(rep, task.id, now - timedelta(minutes=1), now)


def test_an_outcome_submitted_twice_is_recorded_once(rep, make_lead):
    task = _task(make_lead(rep), rep, None)
    assert log_outcome(rep, task.id, SocialOutcome.REPLIED) is Handled.APPLIED
    db.session.commit()
    assert log_outcome(rep, task.id, SocialOutcome.REPLIED) is Handled.REPEATED
    # A second tab choosing something else changes nothing either.
    assert log_outcome(rep, task.id, SocialOutcome.DONE) is Handled.ALREADY_HANDLED
    assert skip_task(rep, task.id) is Handled.ALREADY_HANDLED
    db.session.commit()
    touches = db.session.scalars(
        sa.select(Activity).where(Activity.type == ActivityType.SOCIAL_TOUCH.value)
    ).all()
    assert len(touches) == 1
    assert touches[0].data == {
        "task_id": task.id, "network": "linkedin", "action": "connect", "outcome": "replied",
    }  # fmt: skip
    assert db.session.get(Task, task.id).outcome == "replied"


def test_a_task_of_someone_else_is_not_yours(rep, make_user, make_lead):
    other = make_user(Role.REP)
    task = _task(make_lead(rep), rep, None)
    assert log_outcome(other, task.id, SocialOutcome.DONE) is Handled.NOT_YOURS
    assert log_outcome(rep, 999_999, SocialOutcome.DONE) is Handled.NOT_YOURS
    lead = db.session.get(Lead, task.lead_id)
    lead.owner_id = other.id
    assert move_pending_tasks([lead.id], other.id) == 1
    db.session.commit()
    assert log_outcome(rep, task.id, SocialOutcome.DONE) is Handled.NOT_YOURS
    assert queue_state(other).task.id == task.id


def test_skip_closes_the_task_without_counting_toward_the_quota(rep, make_lead):
    task = _task(make_lead(rep), rep, None)
    assert skip_task(rep, task.id) is Handled.APPLIED
    db.session.commit()
    assert db.session.get(Task, task.id).status == TaskStatus.SKIPPED
    assert touches_today(rep) == 0
    assert queue_state(rep).empty_reason is EmptyReason.NO_TASKS


@pytest.mark.parametrize("kind", [ContactKind.PHONE, ContactKind.EMAIL])
def test_a_suppressed_lead_is_never_served(rep, make_lead, kind):
    lead = make_lead(rep, phone_e164="+14155550134", email_key="a@example.com")
    _task(lead, rep, None)
    value = "+14155550134" if kind is ContactKind.PHONE else "a@example.com"
    db.session.add(DoNotContact(workspace_id=rep.workspace_id, kind=kind.value, value=value))
    db.session.commit()
    state = queue_state(rep)
    assert state.task is None and state.suppressed == 1
    assert state.empty_reason is EmptyReason.NO_TASKS
    assert due_count(rep) == 0


def test_create_task_refuses_a_missing_or_foreign_profile(rep, make_lead):
    with pytest.raises(TaskError, match="No LinkedIn address"):
        create_task(make_lead(rep, linkedin_url=None), Network.LINKEDIN, SocialAction.VIEW, rep)
    with pytest.raises(TaskError, match="linkedin.com"):
        create_task(
            make_lead(rep, linkedin_url="https://evil.example/linkedin.com/in/x"),
            Network.LINKEDIN, SocialAction.VIEW, rep,
        )  # fmt: skip
    lead = make_lead(rep)
    create_task(lead, Network.LINKEDIN, SocialAction.VIEW, rep)
    with pytest.raises(TaskError, match="already has a pending"):
        create_task(lead, Network.LINKEDIN, SocialAction.VIEW, rep)


@pytest.mark.parametrize(
    ("network", "url", "ok"),
    [
        (Network.LINKEDIN, "https://www.linkedin.com/in/ada", True),
        (Network.LINKEDIN, "https://uk.linkedin.com/in/ada", True),
        (Network.LINKEDIN, "http://www.linkedin.com/in/ada", False),
        (Network.LINKEDIN, "https://linkedin.com.evil.example/in/ada", False),
        (Network.LINKEDIN, "https://notlinkedin.com/in/ada", False),
        (Network.LINKEDIN, "javascript:alert(1)//linkedin.com", False),
        (Network.X, "https://x.com/ada", True),
        (Network.X, "https://twitter.com/ada", True),
        (Network.X, "https://mobile.twitter.com/ada", True),
        (Network.X, "https://x.company.example/ada", False),
        (Network.OTHER, "https://ada.example.org/", True),
        (Network.OTHER, "data:text/html,hi", False),
        (Network.OTHER, "https://[::1", False),
        (Network.OTHER, "", False),
    ],
)
def test_profile_addresses(network, url, ok):
    assert (profile_url_problem(network, url) is None) is ok


def test_bulk_creation_skips_and_says_why(rep, make_user, make_lead, admin):
    for _ in range(5):
        make_lead(rep)
    make_lead(rep, x_url=None)
    make_lead(rep, x_url="http://x.com/insecure")
    make_lead(None)  # unowned
    listed = make_lead(rep, email="b@example.com", email_key="b@example.com")
    db.session.add(DoNotContact(workspace_id=rep.workspace_id, kind="email", value="b@example.com"))
    _task(make_lead(rep), rep, None, network=Network.X, action=SocialAction.MESSAGE)
    db.session.commit()

    result = bulk_create(admin, LeadFilters(), Network.X, SocialAction.MESSAGE)
    db.session.commit()
    assert result.created == 5
    assert dict(result.skipped) == {
        SkipReason.NO_PROFILE: 1,
        SkipReason.BAD_PROFILE: 1,
        SkipReason.UNASSIGNED: 1,
        SkipReason.SUPPRESSED: 1,
        SkipReason.ALREADY_PENDING: 1,
    }
    assert listed.id not in set(db.session.scalars(sa.select(Task.lead_id)))
    assert set(db.session.scalars(sa.select(Task.owner_id))) == {rep.id}
    # Running it again adds nothing: every task is pending already.
    again = bulk_create(admin, LeadFilters(), Network.X, SocialAction.MESSAGE)
    assert again.created == 0 and again.skipped[SkipReason.ALREADY_PENDING] == 6


def test_bulk_creation_follows_the_filters_and_the_reps_scope(rep, make_user, make_lead):
    other = make_user(Role.REP)
    mine = make_lead(rep, status="contacted")
    make_lead(rep, status="new")
    make_lead(other, status="contacted")
    db.session.commit()
    result = bulk_create(rep, LeadFilters(status="contacted"), Network.LINKEDIN, SocialAction.VIEW)
    assert result.created == 1 and not result.skipped
    assert list(db.session.scalars(sa.select(Task.lead_id))) == [mine.id]


def test_bulk_creation_of_thousands_is_set_based(rep, workspace):
    rows = [
        {"workspace_id": workspace.id, "owner_id": rep.id, "first_name": f"L{i}",
         "linkedin_url": f"https://linkedin.com/in/l{i}" if i % 4 else None,
         "status": "new", "phone_time_zones": [], "other_phones": [], "custom_fields": {}}
        for i in range(3_000)
    ]  # fmt: skip
    db.session.execute(sa.insert(Lead), rows)
    db.session.commit()
    statements = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        result = bulk_create(rep, LeadFilters(), Network.LINKEDIN, SocialAction.CONNECT)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    db.session.commit()
    assert result.created == 2_250 and result.skipped[SkipReason.NO_PROFILE] == 750
    assert db.session.scalar(sa.select(sa.func.count(Task.id))) == 2_250
    # One read and a few batched inserts, not a statement per lead.
    assert len(statements) < 20, len(statements)


def test_reassigning_a_lead_hands_its_pending_tasks_to_the_new_owner(rep, make_user, make_lead):
    from leads.rotation import reassign

    other = make_user(Role.REP, name="Otto Other")
    manager = make_user(Role.MANAGER)
    lead = make_lead(rep)
    pending = _task(lead, rep, due_at=datetime(2026, 11, 10))
    done = _task(lead, rep, due_at=datetime(2026, 11, 10), action=SocialAction.VIEW)
    done.status = TaskStatus.DONE.value
    db.session.commit()

    assert reassign([lead.id], lead.workspace_id, other, manager, "holiday cover") == {
        lead.id: other.id
    }
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Task, pending.id).owner_id == other.id
    assert db.session.get(Task, done.id).owner_id == rep.id  # history stays with who did it
