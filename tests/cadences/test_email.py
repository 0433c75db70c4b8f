"""Email steps against a real local SMTP server: once, with unsubscribe, retried, bounced."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.extensions import db
from cadences.jobs import process
from cadences.mailer import SmtpPool
from cadences.models import Enrollment, ExitReason, RunStatus, StepRun
from cadences.runner import lease_due
from cadences.sending import send_email_step
from leads.models import ContactKind, DoNotContact
from tests.cadences.conftest import WEDNESDAY_MORNING, enroll_now, free_port


def _tick() -> dict[str, int]:
    ids = lease_due(10_000)
    db.session.commit()
    return process(ids) if ids else {}


def _run(enrollment: Enrollment) -> StepRun:
    db.session.expire_all()
    return db.session.scalar(sa.select(StepRun).where(StepRun.enrollment_id == enrollment.id))


def test_an_email_goes_out_once_with_unsubscribe_link_and_headers(
    app, clock, smtp_server, make_sender, make_cadence, make_lead, rep
):
    inbox, port = smtp_server
    cadence = make_cadence(
        (
            "email",
            {"subject": "Hello {{ company }}", "body": "Hi {{ first_name }}, {{ rep.name }} here."},
        ),
        sender=make_sender(port),
    )
    lead = make_lead(first_name="Grace", company="Hopper Labs")
    enrollment = enroll_now(cadence, lead, owner=rep)
    ids = lease_due(10)
    db.session.commit()
    outcome = process(ids)
    assert outcome.get("sent") == 1, (outcome, _run(enrollment).last_error)
    assert "sent" not in process(ids)  # the job again: nothing more goes out
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    run = _run(enrollment)
    assert message["Message-ID"] == run.message_id
    assert message["Subject"] == "Hello Hopper Labs"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = message["List-Unsubscribe"].strip("<>")
    assert link.endswith(f"/u/{run.unsubscribe_token}")
    body = message.get_content()
    assert "Hi Grace, Rita Rep here." in body
    assert f"Unsubscribe: {link}" in body
    assert "1 Main Street, Springfield, IL 62701" in body
    assert run.status == RunStatus.SENT


def test_one_connection_carries_a_whole_batch(
    app, clock, smtp_server, make_sender, make_cadence, make_lead
):
    inbox, port = smtp_server
    cadence = make_cadence(("email", {}), sender=make_sender(port))
    for _ in range(5):
        enroll_now(cadence, make_lead())
    connections = []
    original = SmtpPool._connection

    def counting(self, sender):
        if sender.id not in self._connections:
            connections.append(sender.id)
        return original(self, sender)

    SmtpPool._connection = counting
    try:
        assert _tick()["sent"] == 5
    finally:
        SmtpPool._connection = original
    assert len(connections) == 1
    assert len(set(inbox.message_ids())) == 5


def test_an_opt_out_after_the_job_was_queued_wins(
    app, clock, workspace, smtp_server, make_sender, make_cadence, make_lead
):
    inbox, port = smtp_server
    cadence = make_cadence(("email", {}), sender=make_sender(port))
    lead = make_lead()
    enrollment = enroll_now(cadence, lead)
    ids = lease_due(10)
    db.session.commit()
    db.session.add(
        DoNotContact(workspace_id=workspace.id, kind=ContactKind.EMAIL.value, value=lead.email_key)
    )
    db.session.commit()
    process(ids)
    assert inbox.messages == []
    db.session.refresh(enrollment)
    assert (enrollment.status, enrollment.exit_reason) == ("exited", ExitReason.DO_NOT_CONTACT)


def test_an_unreachable_server_means_retry_with_backoff_then_one_send(
    app, clock, smtp_server, make_sender, make_cadence, make_lead
):
    inbox, port = smtp_server
    sender = make_sender(free_port())
    cadence = make_cadence(("email", {}), sender=sender)
    enrollment = enroll_now(cadence, make_lead())
    assert _tick()["retry"] == 1
    run = _run(enrollment)
    assert run.status == RunStatus.RETRY and run.attempts == 1
    assert "Connection refused" in run.last_error or "Errno" in run.last_error
    assert enrollment.due_at == WEDNESDAY_MORNING + timedelta(minutes=1)
    clock(WEDNESDAY_MORNING + timedelta(minutes=1))
    assert _tick()["retry"] == 1
    assert _run(enrollment).attempts == 2
    assert db.session.get(Enrollment, enrollment.id).due_at == WEDNESDAY_MORNING + timedelta(
        minutes=3
    )
    sender.smtp_port = port  # the server is back
    db.session.commit()
    clock(WEDNESDAY_MORNING + timedelta(minutes=3))
    assert _tick()["sent"] == 1
    run = _run(enrollment)
    assert (run.status, run.attempts) == (RunStatus.SENT, 3)
    assert inbox.message_ids() == [run.message_id]


def test_a_temporary_refusal_retries_and_a_hard_bounce_ends_the_cadence(
    app, clock, smtp_server, make_sender, make_cadence, make_lead
):
    inbox, port = smtp_server
    cadence = make_cadence(("email", {}), ("task", {}), sender=make_sender(port))
    later, gone = make_lead(), make_lead()
    inbox.reject = {later.email: 451, gone.email: 550}
    first, second = enroll_now(cadence, later), enroll_now(cadence, gone)
    outcome = _tick()
    assert (outcome["retry"], outcome["bounced"]) == (1, 1)
    db.session.expire_all()
    assert first.status == "active" and _run(first).status == RunStatus.RETRY
    assert (second.status, second.exit_reason) == ("exited", ExitReason.BOUNCED)
    assert "550" in _run(second).last_error
    assert inbox.messages == []


def test_a_send_cut_short_by_a_dead_worker_is_never_repeated(
    app, clock, smtp_server, make_sender, make_cadence, make_lead
):
    inbox, port = smtp_server
    cadence = make_cadence(("email", {}), sender=make_sender(port))
    enrollment = enroll_now(cadence, make_lead())
    # What a worker killed during the SMTP exchange leaves behind: a claimed run.
    db.session.add(
        StepRun(
            enrollment_id=enrollment.id,
            step_id=cadence.steps[0].id,
            lead_id=enrollment.lead_id,
            status=RunStatus.SENDING.value,
            message_id="<x@sales.example.com>",
            attempts=1,
            started_at=WEDNESDAY_MORNING,
        )
    )
    db.session.commit()
    with SmtpPool() as pool:
        assert send_email_step(enrollment.id, cadence.steps[0].id, pool) == "already sending"
        clock(WEDNESDAY_MORNING + timedelta(minutes=11))
        assert send_email_step(enrollment.id, cadence.steps[0].id, pool) == "unconfirmed"
    assert inbox.messages == []
    db.session.refresh(enrollment)
    assert enrollment.position == 1


def test_held_emails_wait_for_the_reps_approval(
    app, clock, smtp_server, make_sender, make_cadence, make_lead
):
    from cadences.sending import approve_held

    inbox, port = smtp_server
    cadence = make_cadence(("email", {"hold_for_review": True}), sender=make_sender(port))
    enrollment = enroll_now(cadence, make_lead())
    assert _tick()["held"] == 1
    assert _tick() == {} and inbox.messages == []
    approve_held(_run(enrollment))
    db.session.commit()
    assert _tick()["sent"] == 1
    assert len(inbox.messages) == 1


def test_variants_split_evenly(app, clock, smtp_server, make_sender, make_cadence, make_lead):
    inbox, port = smtp_server
    cadence = make_cadence(
        ("email", {"variants": [("Subject A", "a"), ("Subject B", "b")]}), sender=make_sender(port)
    )
    for _ in range(10):
        enroll_now(cadence, make_lead())
    _tick()
    subjects = sorted(m["Subject"] for m in inbox.messages)
    assert subjects.count("Subject A") == subjects.count("Subject B") == 5


def test_the_hourly_limit_holds_the_rest_for_later(
    app, clock, smtp_server, make_sender, make_cadence, make_lead
):
    inbox, port = smtp_server
    cadence = make_cadence(("email", {}), sender=make_sender(port, max_per_hour=3))
    enrollments = [enroll_now(cadence, make_lead()) for _ in range(5)]
    outcome = _tick()
    assert (outcome["sent"], outcome["throttled"]) == (3, 2)
    db.session.expire_all()
    assert {e.due_at for e in enrollments if e.position == 0} == {
        WEDNESDAY_MORNING + timedelta(hours=1)
    }
    clock(WEDNESDAY_MORNING + timedelta(hours=1, minutes=1))
    assert _tick()["sent"] == 2
    assert len(set(inbox.message_ids())) == 5


def test_a_message_with_accents_and_long_lines_reads_back_as_written():
    """Non-ASCII names, subjects and bodies, and lines past SMTP's limit, survive the trip."""
    from email import message_from_bytes, policy

    from cadences.mailer import Outgoing, SenderSettings, build_message

    sender = SenderSettings(
        1, "Zoë Müller", "zoe@example.com", "Hauptstraße 1, Köln", "127.0.0.1", 25,
        None, None, False, 10, 10,
    )  # fmt: skip
    body = "Grüße, Renée!\n" + "x" * 1500 + "\n.\nEnd"
    subject = "Ein Angebot für Café Ünter " + "lang " * 60
    raw = build_message(sender, Outgoing("renee@example.com", subject, body, "<m1@example.com>",
                                         "https://leadline.example/u/tok"))  # fmt: skip
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    message = message_from_bytes(raw, policy=policy.default)
    assert message["Subject"] == subject.strip()
    assert message["From"].addresses[0].display_name == "Zoë Müller"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_content().replace("\r\n", "\n")
    assert text.startswith(body) and "Hauptstraße 1, Köln" in text
    assert text.rstrip().endswith("Unsubscribe: https://leadline.example/u/tok")
