"""Birthday emails: a library template from the chosen sender, once a year, never twice."""

from __future__ import annotations

import re
import subprocess
import time
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from app.extensions import db
from app.models import Role, utcnow
from app.queue import enqueue
from cadences.jobs import remind
from cadences.models import (
    BirthdayEmail,
    BirthdaySettings,
    EmailTemplate,
    Reminder,
    ReminderKind,
)
from cadences.reminders import announce_due_reminders
from leads.models import DoNotContact
from leads.tasks import Task
from tests.cadences.conftest import free_port
from tests.cadences.test_crashes import ROOT, SlowInbox, _worker_command
from tests.processes import kill_worker

# 09:00 in New York on the lead's birthday, November 18.
NINE_IN_NEW_YORK = datetime(2026, 11, 18, 14, 0)


@pytest.fixture
def birthday_email(workspace, make_sender):
    """Greets by email: returns a function taking the SMTP port."""

    def choose(port: int) -> BirthdaySettings:
        template = EmailTemplate(
            workspace_id=workspace.id,
            name="Birthday",
            subject="Happy birthday, {{ first_name }}!",
            body="Hi {{ first_name }},\n\nAll the best from {{ rep.name | default('us') }}.",
        )
        db.session.add(template)
        db.session.flush()
        settings = BirthdaySettings(
            workspace_id=workspace.id, mode="email", template_id=template.id,
            sender_id=make_sender(port).id,
        )  # fmt: skip
        db.session.add(settings)
        db.session.commit()
        return settings

    return choose


def test_a_birthday_email_goes_out_once_with_unsubscribe_headers(
    app, client, clock, smtp_server, birthday_email, make_lead, rep
):
    inbox, port = smtp_server
    birthday_email(port)
    lead = make_lead(first_name="Ann", birthday=date(1990, 11, 18), owner_id=rep.id)
    clock(NINE_IN_NEW_YORK - timedelta(minutes=5))
    remind()
    assert inbox.messages == []  # not 09:00 in the lead's zone yet
    clock(NINE_IN_NEW_YORK)
    remind()
    remind()  # the sweep runs again the same day
    clock(NINE_IN_NEW_YORK + timedelta(hours=10))
    remind()
    [message] = inbox.messages
    assert message["To"] == lead.email and message["Subject"] == "Happy birthday, Ann!"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    body = message.get_content()
    assert "All the best from Rita Rep." in body and "1 Main Street, Springfield" in body
    assert db.session.scalar(sa.select(sa.func.count(Task.id))) == 0  # an email, not a task
    email = db.session.scalar(sa.select(BirthdayEmail))
    assert (email.status, email.attempts) == ("sent", 1)

    link = re.search(r"<https?://[^/]+(/u/[^>]+)>", message["List-Unsubscribe"])[1]
    assert client.post(link).status_code == 200
    assert db.session.scalar(sa.select(DoNotContact.value)) == lead.email_key


def test_a_lead_put_on_do_not_contact_before_the_send_gets_nothing(
    app, clock, smtp_server, birthday_email, make_lead
):
    inbox, port = smtp_server
    birthday_email(port)
    lead = make_lead(birthday=date(1990, 11, 18))
    clock(NINE_IN_NEW_YORK)
    from cadences.reminders import schedule_birthdays

    schedule_birthdays()
    assert announce_due_reminders() == 1  # queued for sending while still contactable
    db.session.add(DoNotContact(workspace_id=lead.workspace_id, kind="email",
                                value=lead.email_key, reason="asked"))  # fmt: skip
    db.session.commit()
    remind()
    assert inbox.messages == []
    email = db.session.scalar(sa.select(BirthdayEmail))
    assert email.status == "cancelled" and "do not contact" in email.last_error


def test_the_task_mode_still_makes_a_task(app, clock, make_lead, rep):
    make_lead(birthday=date(1990, 11, 18), owner_id=rep.id)
    clock(NINE_IN_NEW_YORK)
    remind()
    remind()
    assert db.session.scalar(sa.select(sa.func.count(Task.id))) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(BirthdayEmail)) == 0


@pytest.mark.slow
def test_a_worker_killed_mid_sweep_sends_no_birthday_twice(
    app, service_env, birthday_email, make_leads
):
    """Real kill -9 of the worker running the sweep, then the next sweep."""
    inbox = SlowInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        birthday_email(port)
        leads = make_leads(200)
        # Due now by the real clock: the worker process reads no test clock.
        due = utcnow() - timedelta(minutes=1)
        db.session.execute(sa.insert(Reminder), [
            {"lead_id": lead.id, "owner_id": None, "kind": ReminderKind.BIRTHDAY.value,
             "day": due.date(), "due_at": due, "note": "Birthday"}
            for lead in leads
        ])  # fmt: skip
        db.session.commit()
        enqueue("cadences.jobs.remind", job_id="birthday-sweep-1")
        db.session.close()
        worker = subprocess.Popen(
            _worker_command(), cwd=ROOT, env=service_env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while len(inbox.messages) < 30 and time.monotonic() < deadline:
            time.sleep(0.02)
        kill_worker(worker)
        assert 30 <= len(inbox.messages) < 200, "the kill must land mid-sweep"
        # Ten minutes on: a send cut short is stale; then the next sweeps.
        db.session.execute(
            sa.update(BirthdayEmail)
            .where(BirthdayEmail.status == "sending")
            .values(started_at=utcnow() - timedelta(minutes=11))
        )
        db.session.commit()
        remind()
        remind()
    finally:
        controller.stop()

    ids = inbox.message_ids()
    assert len(ids) == len(set(ids)), "a birthday email went out twice"
    rows = db.session.execute(sa.select(BirthdayEmail.status, BirthdayEmail.message_id)).all()
    assert len(rows) == 200  # one email row per reminder
    sent = {message_id for status, message_id in rows if status == "sent"}
    unconfirmed = [message_id for status, message_id in rows if status == "unconfirmed"]
    assert len(unconfirmed) <= 1 and sent <= set(ids)
    assert len(sent) + len(unconfirmed) == 200


def test_the_settings_page_chooses_task_or_email(
    app, client, login, make_user, make_sender, workspace
):
    login(make_user(Role.MARKETER))
    assert client.get("/cadences/birthdays").status_code == 200
    refused = client.post("/cadences/birthdays", data={"mode": "email"})
    assert refused.status_code == 422
    assert "Choose the template to send from the library" in refused.get_data(as_text=True)
    assert 'value="email" checked' in refused.get_data(as_text=True)  # the choice is kept
    template = EmailTemplate(workspace_id=workspace.id, name="Hi", subject="Hi", body="Hello")
    db.session.add(template)
    db.session.commit()
    no_sender = client.post(
        "/cadences/birthdays", data={"mode": "email", "template_id": str(template.id)}
    )
    assert no_sender.status_code == 422 and "Choose the sender" in no_sender.get_data(as_text=True)
    sender = make_sender(2525)
    saved = client.post("/cadences/birthdays", data={
        "mode": "email", "template_id": str(template.id), "sender_id": str(sender.id),
    })  # fmt: skip
    assert saved.status_code == 200 and "Saved." in saved.get_data(as_text=True)
    settings = db.session.get(BirthdaySettings, workspace.id)
    assert (settings.mode, settings.template_id, settings.sender_id) == (
        "email", template.id, sender.id,
    )  # fmt: skip
    client.post("/cadences/birthdays", data={"mode": "task"})
    db.session.expire_all()
    assert db.session.get(BirthdaySettings, workspace.id).mode == "task"
