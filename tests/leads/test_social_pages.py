"""The social queue pages through the real app: htmx fragments, messages, 422s, quotas, bulk."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Role
from leads.models import Activity, ActivityType, Lead
from leads.queries import LeadFilters
from leads.social import BADGE_CAP, create_task
from leads.social_bulk import bulk_create
from leads.social_quota import daily_quota
from leads.tasks import Network, SocialAction, Task, TaskStatus

HX = {"HX-Request": "true"}


@pytest.fixture
def rep(make_user):
    return make_user(Role.REP, name="Rita Rep")


@pytest.fixture
def rep_client(client, rep, login):
    login(rep)
    return client


def _lead(owner, **fields) -> Lead:
    values = {"first_name": "Grace", "linkedin_url": "https://www.linkedin.com/in/grace", **fields}
    lead = Lead(workspace_id=owner.workspace_id, owner_id=owner.id, **values)
    db.session.add(lead)
    db.session.flush()
    return lead


def _task(owner, **fields) -> Task:
    task = create_task(_lead(owner, **fields), Network.LINKEDIN, SocialAction.CONNECT, owner)
    db.session.commit()
    return task


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_queue_shows_one_task_with_a_safe_profile_link(rep_client, rep):
    _task(rep, first_name="<b>Grace</b>")
    page = _text(rep_client.get("/social"))
    assert "&lt;b&gt;Grace&lt;/b&gt;" in page and "<b>Grace" not in page
    link = re.search(r'<a class="button primary profile-link"[^>]*>', page).group(0)
    assert 'href="https://www.linkedin.com/in/grace"' in link
    assert 'target="_blank"' in link and "noopener" in link
    assert 'data-key="1"' in page and "js/social.js" in page
    assert "<script>" not in page and " onclick=" not in page


def test_an_unsafe_profile_address_is_never_a_link(rep_client, rep):
    task = _task(rep)
    db.session.get(Lead, task.lead_id).linkedin_url = "javascript:alert(1)"
    db.session.commit()
    page = _text(rep_client.get("/social"))
    assert "javascript:" not in page
    assert "Only https:// addresses are accepted." in page and "No profile" in page


def test_logging_an_outcome_swaps_in_the_next_task(rep_client, rep):
    first, second = _task(rep, first_name="First"), _task(rep, first_name="Second")
    response = rep_client.post(
        f"/social/tasks/{first.id}/outcome", data={"outcome": "connected"}, headers=HX
    )
    body = _text(response)
    assert response.status_code == 200 and "<html" not in body
    assert "Logged: connected." in body and "Second" in body and "1 of 25" in body
    assert "social-changed" in response.headers["HX-Trigger"]
    assert f'data-task-id="{second.id}"' in body
    touch = db.session.scalar(
        sa.select(Activity).where(
            Activity.lead_id == first.lead_id, Activity.type == "social_touch"
        )
    )
    assert touch.data["outcome"] == "connected" and touch.actor_id == rep.id


def test_a_double_submitted_outcome_is_recorded_once(rep_client, rep):
    task = _task(rep)
    url = f"/social/tasks/{task.id}/outcome"
    rep_client.post(url, data={"outcome": "done"}, headers=HX)
    again = rep_client.post(url, data={"outcome": "done"}, headers=HX)
    assert again.status_code == 200 and "Already recorded" in _text(again)
    other_tab = rep_client.post(url, data={"outcome": "replied"}, headers=HX)
    assert "already handled, probably in another tab" in _text(other_tab)
    count = db.session.scalar(
        sa.select(sa.func.count(Activity.id)).where(
            Activity.type == ActivityType.SOCIAL_TOUCH.value
        )
    )
    assert count == 1
    assert db.session.get(Task, task.id).outcome == "done"


def test_a_task_that_was_moved_away_says_so(rep_client, rep, make_user):
    task = _task(rep)
    db.session.get(Task, task.id).owner_id = make_user(Role.REP).id
    db.session.commit()
    response = rep_client.post(f"/social/tasks/{task.id}/skip", headers=HX)
    assert "no longer yours" in _text(response)
    assert db.session.get(Task, task.id).status == TaskStatus.OPEN


def test_without_htmx_an_outcome_redirects_back_to_the_queue(rep_client, rep):
    task = _task(rep)
    response = rep_client.post(f"/social/tasks/{task.id}/outcome", data={"outcome": "done"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/social")
    assert "Logged: done." in _text(rep_client.get("/social"))


@pytest.mark.parametrize(
    ("url", "data"),
    [("outcome", {"outcome": "liked"}), ("outcome", {}), ("snooze", {"until": "forever"})],
)
def test_bad_choices_are_422_with_a_message(rep_client, rep, url, data):
    task = _task(rep)
    response = rep_client.post(f"/social/tasks/{task.id}/{url}", data=data, headers=HX)
    assert response.status_code == 422 and "Choose" in _text(response)
    assert db.session.get(Task, task.id).status == TaskStatus.OPEN


def test_snooze_then_the_empty_state_says_all_snoozed(rep_client, rep):
    task = _task(rep)
    response = rep_client.post(
        f"/social/tasks/{task.id}/snooze", data={"until": "tomorrow"}, headers=HX
    )
    body = _text(response)
    assert "Snoozed: back tomorrow 9:00." in body and "Everything is snoozed." in body
    assert db.session.get(Task, task.id).status == TaskStatus.SNOOZED


def test_empty_states_say_why(rep_client, rep, manager_client):
    assert "No social tasks." in _text(rep_client.get("/social"))
    manager_client.post("/social/quotas", data={"default": "0"})
    _task(rep)
    body = _text(rep_client.get("/social"))
    assert "Today's quota is reached" in body and 'data-empty-reason="quota_reached"' in body


def test_badge_counts_due_tasks_up_to_its_cap(rep_client, rep):
    _task(rep)
    _task(rep, first_name="Other")
    assert ">2</span>" in _text(rep_client.get("/social/badge", headers=HX))
    for number in range(BADGE_CAP):
        _lead(rep, linkedin_url=f"https://linkedin.com/in/p{number}")
    bulk_create(rep, LeadFilters(), Network.LINKEDIN, SocialAction.VIEW)
    db.session.commit()
    assert f">{BADGE_CAP}+</span>" in _text(rep_client.get("/social/badge", headers=HX))


# -- tasks on a lead -----------------------------------------------------------


def test_lead_card_loads_the_social_panel(rep_client, rep):
    lead = _lead(rep)
    db.session.commit()
    card = _text(rep_client.get(f"/leads/{lead.id}"))
    assert f'hx-get="/leads/{lead.id}/social-tasks"' in card
    panel = rep_client.get(f"/leads/{lead.id}/social-tasks", headers=HX)
    assert "<html" not in _text(panel) and "Add social task" in _text(panel)


def test_add_a_task_on_a_lead(rep_client, rep):
    lead = _lead(rep)
    db.session.commit()
    response = rep_client.post(
        f"/leads/{lead.id}/social-tasks",
        data={"network": "linkedin", "action": "message"},
        headers=HX,
    )
    assert response.status_code == 201
    assert "Added: Send a message on LinkedIn." in _text(response)
    task = db.session.scalar(sa.select(Task))
    assert (task.owner_id, task.action, task.source) == (rep.id, "message", "manual")


def test_a_refused_task_keeps_what_was_chosen(rep_client, rep):
    lead = _lead(rep, x_url=None)
    db.session.commit()
    response = rep_client.post(
        f"/leads/{lead.id}/social-tasks",
        data={"network": "x", "action": "comment", "due_on": "2030-02-03"},
        headers=HX,
    )
    body = _text(response)
    assert response.status_code == 422 and "No X address." in body
    assert '<option selected value="x">' in body and '<option selected value="comment">' in body
    assert 'value="2030-02-03"' in body
    bad_date = rep_client.post(
        f"/leads/{lead.id}/social-tasks", data={"network": "x", "action": "comment",
                                                "due_on": "soon"}, headers=HX,
    )  # fmt: skip
    assert bad_date.status_code == 422 and "Not a valid date" in _text(bad_date)


def test_someone_elses_lead_is_a_404(rep_client, make_user):
    lead = _lead(make_user(Role.REP))
    db.session.commit()
    assert rep_client.get(f"/leads/{lead.id}/social-tasks").status_code == 404


# -- bulk from the leads view --------------------------------------------------


def test_leads_list_offers_bulk_tasks_with_its_filters(rep_client):
    page = _text(rep_client.get("/leads?status=contacted"))
    assert 'href="/social/bulk?status=contacted"' in page
    fragment = _text(rep_client.get("/leads?status=new", headers=HX))
    assert 'id="social-bulk"' in fragment and "status=new" in fragment


def test_bulk_creates_for_the_filtered_view_and_reports_skips(rep_client, rep):
    _lead(rep, status="contacted")
    _lead(rep, status="contacted", first_name="NoProfile", linkedin_url=None)
    _lead(rep, status="new")
    db.session.commit()
    form = _text(rep_client.get("/social/bulk?status=contacted"))
    assert "<strong>2</strong> leads" in form
    response = rep_client.post(
        "/social/bulk?status=contacted", data={"network": "linkedin", "action": "view"}, headers=HX
    )
    body = _text(response)
    assert "<html" not in body and "Created 1 task." in body
    assert "1 with no LinkedIn address" in body
    assert db.session.scalar(sa.select(sa.func.count(Task.id))) == 1


def test_bulk_with_a_bad_choice_is_422(rep_client):
    response = rep_client.post("/social/bulk", data={"network": "myspace", "action": "view"})
    assert response.status_code == 422 and "Not a valid choice" in _text(response)


# -- quotas --------------------------------------------------------------------


@pytest.fixture
def manager_client(app, make_user, login):
    other = app.test_client()
    login(make_user(Role.MANAGER, name="Mona Manager"), on=other)
    return other


def test_manager_sets_default_and_per_rep_quotas(manager_client, rep, make_user):
    other = make_user(Role.REP, name="Otto Rep")
    page = _text(manager_client.get("/social/quotas"))
    assert "Rita Rep" in page and "Otto Rep" in page and 'value="25"' in page
    response = manager_client.post(
        "/social/quotas", data={"default": "12", f"quota-{rep.id}": "40", f"quota-{other.id}": ""}
    )
    assert response.status_code == 302
    assert (daily_quota(rep), daily_quota(other)) == (40, 12)
    assert f'name="quota-{rep.id}" value="40"' in _text(manager_client.get("/social/quotas"))


def test_bad_quota_keeps_what_was_typed(manager_client, rep):
    response = manager_client.post(
        "/social/quotas", data={"default": "-3", f"quota-{rep.id}": "lots"}
    )
    body = _text(response)
    assert response.status_code == 422
    assert 'value="-3"' in body and 'value="lots"' in body
    assert "A whole number from 0" in body and "Number must be between 0 and 10000" in body
    assert daily_quota(rep) == 25


def test_lead_form_refuses_a_profile_address_that_cannot_be_opened(rep_client):
    typed = "http://www.linkedin.com/in/grace"
    response = rep_client.post(
        "/leads/new",
        data={"first_name": "Grace", "status": "new", "list_id": "0", "linkedin_url": typed,
              "x_url": "https://twitter.com/grace"},
    )  # fmt: skip
    body = _text(response)
    assert response.status_code == 422 and "Only https:// addresses are accepted." in body
    assert f'value="{typed}"' in body
    assert db.session.scalar(sa.select(sa.func.count(Lead.id))) == 0
    fixed = rep_client.post(
        "/leads/new",
        data={"first_name": "Grace", "status": "new", "list_id": "0",
              "linkedin_url": "https://www.linkedin.com/in/grace",
              "x_url": "https://twitter.com/grace"},
    )  # fmt: skip
    assert fixed.status_code == 302
