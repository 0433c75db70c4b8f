"""My tasks: due generic tasks of the signed-in user, done or snoozed once, over htmx."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Role, utcnow
from leads.models import Activity, Lead
from leads.tasks import Task, TaskStatus

HX = {"HX-Request": "true"}


@pytest.fixture
def rep(make_user, login):
    user = make_user(Role.REP, name="Rae Rep")
    login(user)
    return user


def _task(owner, note: str, due_in: timedelta = timedelta(minutes=-5)) -> Task:
    lead = Lead(workspace_id=owner.workspace_id, owner_id=owner.id, first_name=note.split()[-1])
    db.session.add(lead)
    db.session.flush()
    task = Task(
        workspace_id=owner.workspace_id,
        lead_id=lead.id,
        owner_id=owner.id,
        kind="generic",
        note=note,
        due_at=utcnow() + due_in,
        source="cadence",
    )
    db.session.add(task)
    db.session.commit()
    return task


def test_the_list_shows_due_tasks_only_and_says_when_empty(client, rep):
    assert "No tasks due" in client.get("/tasks").get_data(as_text=True)
    _task(rep, "Send the case study to Ann")
    _task(rep, "Call about renewal with Bo", due_in=timedelta(days=1))
    html = client.get("/tasks").get_data(as_text=True)
    assert "Send the case study to Ann" in html and "renewal" not in html
    assert 'href="/tasks"' in html  # reachable from the navigation


def test_done_removes_the_task_once_and_notes_it_on_the_timeline(client, rep):
    task = _task(rep, "Wish <b>Cy</b> a happy birthday")
    first = client.post(f"/tasks/{task.id}/done", headers=HX).get_data(as_text=True)
    assert "Done." in first and "No tasks due" in first and "<html" not in first
    again = client.post(f"/tasks/{task.id}/done", headers=HX).get_data(as_text=True)
    assert "Already done" in again
    db.session.refresh(task)
    assert task.status == TaskStatus.DONE and task.completed_at is not None
    notes = db.session.scalars(sa.select(Activity.summary).where(Activity.lead_id == task.lead_id))
    assert list(notes) == ["Task done: Wish <b>Cy</b> a happy birthday"]


def test_snooze_hides_the_task_until_later_and_a_bad_choice_is_422(client, rep):
    task = _task(rep, "Follow up with Di")
    bad = client.post(f"/tasks/{task.id}/snooze", data={"until": "forever"}, headers=HX)
    assert bad.status_code == 422 and "Follow up with Di" in bad.get_data(as_text=True)
    html = client.post(f"/tasks/{task.id}/snooze", data={"until": "hour"}, headers=HX)
    assert "Snoozed." in html.get_data(as_text=True)
    db.session.refresh(task)
    assert task.status == TaskStatus.SNOOZED and task.due_at > utcnow() + timedelta(minutes=50)


def test_someone_elses_task_is_not_shown_nor_changed(client, rep, make_user):
    other = make_user(Role.REP, name="Oz Other")
    task = _task(other, "Their task for Ed")
    assert "Their task" not in client.get("/tasks").get_data(as_text=True)
    response = client.post(f"/tasks/{task.id}/done", headers=HX).get_data(as_text=True)
    assert "no longer yours" in response
    db.session.refresh(task)
    assert task.status == TaskStatus.OPEN
