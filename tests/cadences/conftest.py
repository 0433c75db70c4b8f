"""Cadence fixtures: a real local SMTP server (aiosmtpd), factories for cadences and leads."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import Message

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from app.extensions import db
from app.models import Role
from cadences.models import Cadence, CadenceStep, EmailVariant, Enrollment, MailSender
from leads.models import Lead

# A Wednesday, 15:00 UTC = 10:00 in New York: inside the default send window.
WEDNESDAY_MORNING = datetime(2026, 11, 18, 15, 0)


@dataclass
class Inbox:
    """What the SMTP server accepted; ``reject`` makes it answer RCPT with that code."""

    messages: list[Message] = field(default_factory=list)
    reject: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            code = self.reject[address]
            return f"{code} {'mailbox unavailable' if code >= 500 else 'try again later'}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"

    def message_ids(self) -> list[str]:
        with self.lock:
            return [m["Message-ID"] for m in self.messages]


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def clock(app):
    """Set the runner's clock; returns a setter."""

    def set_now(moment: datetime) -> None:
        app.config["CADENCE_NOW"] = moment

    set_now(WEDNESDAY_MORNING)
    yield set_now
    app.config.pop("CADENCE_NOW", None)


@pytest.fixture
def rep(make_user):
    return make_user(Role.REP, name="Rita Rep", email="rita@example.com")


@pytest.fixture
def make_sender(workspace):
    def build(port: int, **fields) -> MailSender:
        values = {
            "from_name": "Rita Rep",
            "from_email": "rita@sales.example.com",
            "postal_address": "1 Main Street, Springfield, IL 62701",
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "starttls": False,
            "max_per_hour": 10_000,
            "max_per_day": 100_000,
            **fields,
        }
        sender = MailSender(workspace_id=workspace.id, **values)
        db.session.add(sender)
        db.session.commit()
        return sender

    return build


@pytest.fixture
def make_cadence(workspace):
    """Factory: a cadence from (kind, options) pairs; email steps take subject= and body=."""

    def build(
        *steps: tuple[str, dict], sender: MailSender | None = None, name: str = "Outreach"
    ) -> Cadence:
        cadence = Cadence(workspace_id=workspace.id, name=name, sender=sender)
        for position, (kind, options) in enumerate(steps):
            options = dict(options)
            variants = options.pop("variants", None)
            if kind == "email" and variants is None:
                variants = [
                    (
                        options.pop("subject", "Hi {{ first_name }}"),
                        options.pop("body", "Hello {{ first_name | default('there') }}"),
                    )
                ]
            step = CadenceStep(position=position, kind=kind, **options)
            for label, (subject, body) in zip("ABCD", variants or [], strict=False):
                step.variants.append(EmailVariant(label=label, subject=subject, body=body))
            cadence.steps.append(step)
        db.session.add(cadence)
        db.session.commit()
        return cadence

    return build


@pytest.fixture
def make_lead(workspace):
    counter = iter(range(1, 1_000_000))

    def build(**fields) -> Lead:
        number = next(counter)
        values = {
            "first_name": f"Pat{number}",
            "company": "Acme",
            "email": f"pat{number}@example.com",
            "email_key": f"pat{number}@example.com",
            "phone_e164": f"+1212555{number:04d}",
            "time_zone": "America/New_York",
            **fields,
        }
        lead = Lead(workspace_id=workspace.id, **values)
        db.session.add(lead)
        db.session.commit()
        return lead

    return build


@pytest.fixture
def make_leads(workspace):
    """Factory: ``count`` leads in one insert, for tests that need thousands."""

    def build(count: int) -> list[Lead]:
        start = (db.session.scalar(sa.select(sa.func.max(Lead.id))) or 0) + 1
        db.session.execute(
            sa.insert(Lead),
            [
                {
                    "workspace_id": workspace.id,
                    "first_name": f"Bulk{n}",
                    "email": f"bulk{n}@example.com",
                    "email_key": f"bulk{n}@example.com",
                    "phone_e164": f"+1646{n:07d}",
                    "time_zone": "America/Chicago",
                    "status": "new",
                    "phone_time_zones": [],
                    "other_phones": [],
                    "custom_fields": {},
                }
                for n in range(start, start + count)
            ],
        )
        db.session.commit()
        return list(db.session.scalars(sa.select(Lead).where(Lead.id >= start).order_by(Lead.id)))

    return build


def enroll_now(
    cadence: Cadence, lead: Lead, due: datetime = WEDNESDAY_MORNING, owner=None
) -> Enrollment:
    enrollment = Enrollment(
        cadence_id=cadence.id,
        lead_id=lead.id,
        due_at=due,
        owner_id=owner.id if owner else lead.owner_id,
        variant_seed=lead.id,
    )
    db.session.add(enrollment)
    db.session.commit()
    return enrollment
