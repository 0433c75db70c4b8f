"""Erasing a person reaches everywhere: every table of both databases, the database
files, Redis, stored uploads, and the external CRMs (through the ledger, outages too)."""

from __future__ import annotations

import secrets
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import current_app
from rq import Queue

from app.extensions import db
from app.models import utcnow
from app.queue import get_queue, readable_values
from cadences.enrollment import enroll
from cadences.models import Cadence, CadenceStep, Enrollment
from leads.capture import RequestInfo, capture_lead
from leads.dial_models import CallAttempt, Callback
from leads.erasure import erase, same_person
from leads.erasure_models import ErasedContact, LeadErasure
from leads.imports import run_import, source_path
from leads.models import (
    Activity,
    ActivityType,
    ImportRowError,
    ImportRun,
    ImportStatus,
    Lead,
    LeadConsent,
    LeadList,
)
from leads.tasks import Task
from sync.crm import target_for
from sync.crm_delivery import as_result, handoff_items, keep_external_ids
from sync.crm_secrets import unseal
from sync.erasure import deliver_erasures
from sync.handoff import CLAIM_LEASE, claim_due, record_results
from sync.jobs import deliver_handoffs, sweep_handoffs
from sync.models import Contact, CrmErasure, Deal, Handoff, HandoffState
from sync.targets import get_target
from tests.sync.crm.fake_hubspot import TOKEN as HUBSPOT_TOKEN
from tests.sync.crm.fake_pipedrive import TOKEN as PIPEDRIVE_TOKEN
from tests.sync.crm.webhook_receiver import SECRET, Receiver
from tests.sync.crm.wiring import stored_target

LEAD_FORM = {"status": "new", "owner_id": "0", "list_id": "0"}
CSV_HEADER = "First Name,Last Name,Company,Phone,Email\n"


class Person:
    """A person with strings found nowhere else, so a hit can only be theirs."""

    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        digits = f"{int(tag, 16) % 10_000:04d}"
        self.first, self.last = "Quintessa", f"Marrowvale{tag}"
        self.email = f"quintessa.{tag}@erasure-example.org"
        self.phone_raw, self.phone = f"(212) 555-{digits}", f"+1212555{digits}"
        self.mobile_raw, self.mobile = f"(646) 555-{digits}", f"+1646555{digits}"
        self.email_b = f"q.marrowvale.{tag}@other-example.net"

    @property
    def needles(self) -> list[str]:
        return [self.email, self.email_b, self.phone, self.mobile, self.phone_raw,
                f"{self.first} {self.last}", self.last]  # fmt: skip

    def csv_row(self) -> str:
        return f"{self.first},{self.last},Orbit Ltd,{self.phone_raw},{self.email}\n"


def _stored_upload(workspace, text: str, status: ImportStatus) -> ImportRun:
    stored = f"{uuid.uuid4().hex}.csv"
    folder = Path(current_app.instance_path) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / stored).write_text(text, encoding="utf-8")
    run = ImportRun(
        workspace_id=workspace.id, original_name="people.csv", stored_name=stored,
        source_format={"kind": "csv", "encoding": "utf-8", "delimiter": ",", "header_row": 0,
                       "sheet": None},
        mapping=[{"target": t} for t in ("first_name", "last_name", "company", "phone", "email")],
        status=status.value,
    )  # fmt: skip
    db.session.add(run)
    db.session.commit()
    return run


def _everything_about(person: Person, workspace, rep, admin, promoted) -> tuple[Lead, Lead]:
    """Two leads of the person, and their data in every place the app keeps some."""
    cadence = Cadence(workspace_id=workspace.id, name="Follow up")
    cadence.steps.append(CadenceStep(position=0, kind="call"))
    db.session.add(cadence)
    lead_b = Lead(
        workspace_id=workspace.id, first_name=person.first, last_name=person.last,
        email=person.email_b, email_key=person.email_b, phone_raw=person.mobile_raw,
        phone_e164=person.mobile, notes=f"Met {person.first} {person.last} at the fair",
        owner_id=rep.id, status="new",
    )  # fmt: skip
    db.session.add(lead_b)
    db.session.commit()
    enroll(cadence, lead_b, admin)
    lead_a = promoted(
        first_name=person.first, last_name=person.last, email=person.email,
        email_key=person.email, phone_raw=person.phone_raw, phone_e164=person.phone,
        other_phones=[{"kind": "mobile", "raw": person.mobile_raw, "e164": person.mobile}],
    )  # fmt: skip
    now = utcnow()
    db.session.add_all([
        Activity(lead_id=lead_a.id, type=ActivityType.NOTE.value,
                 summary=f"{person.first} {person.last} asked for a call on {person.phone_raw}"),
        Task(workspace_id=workspace.id, lead_id=lead_a.id, owner_id=rep.id, kind="generic",
             note=f"Send {person.email} the deck"),
        Callback(lead_id=lead_b.id, owner_id=rep.id, due_at=now, note=f"ring {person.mobile}"),
        CallAttempt(workspace_id=workspace.id, lead_id=lead_a.id, caller_id=rep.id,
                    lease_token=uuid.uuid4().hex, outcome="no_answer", category="no_answer",
                    started_at=now, note=f"{person.last} was out"),
        LeadConsent(lead_id=lead_a.id, text="Yes, call me", ip_address="203.0.113.9",
                    user_agent=f"agent of {person.last}"),
    ])  # fmt: skip
    finished = _stored_upload(workspace, CSV_HEADER + person.csv_row(), ImportStatus.SUCCEEDED)
    db.session.add(ImportRowError(import_run_id=finished.id, line=2, raw=person.csv_row(),
                                  reason="duplicate"))  # fmt: skip
    db.session.commit()
    return lead_a, lead_b


def _database_texts() -> list[str]:
    """Every row of every table in both databases, as text."""
    texts = []
    for bind in (None, "pipeline"):
        with db.engines[bind].connect() as connection:
            for table in db.metadatas[bind].sorted_tables:
                texts += [repr(tuple(row)) for row in connection.execute(table.select())]
    return texts


def _database_files() -> list[Path]:
    files = []
    for engine in db.engines.values():
        if engine.dialect.name == "sqlite":
            path = Path(engine.url.database)
            files += [p for p in (path, path.with_name(path.name + "-wal")) if p.exists()]
    return files


def _files_mentioning(needle: str) -> str:
    """The SQLite files (and logs) holding ``needle``, by grep in its own process: opening
    and closing them here would drop the locks SQLite holds on them in this process."""
    files = [str(path) for path in _database_files()]
    if not files:
        return ""
    found = subprocess.run(["grep", "-a", "-i", "-F", "-l", needle, *files],
                           capture_output=True, text=True)  # fmt: skip
    return found.stdout


def _redis_blobs(redis) -> list[bytes]:
    blobs = []
    for key in redis.keys("*"):
        blobs.append(key)
        blobs.append(redis.dump(key) or b"")
        blobs += list(readable_values(redis, key))
    return blobs


def _assert_nowhere(person: Person, redis) -> None:
    texts = "\n".join(_database_texts()).lower()
    blobs = _redis_blobs(redis)
    for needle in person.needles:
        assert needle.lower() not in texts, needle
        assert _files_mentioning(needle) == "", needle
        for blob in blobs:
            assert needle.lower().encode() not in blob.lower(), needle


def test_an_erased_person_is_nowhere_and_every_crm_gets_its_delete(
    app, workspace, server, hubspot, pipedrive, rep, admin, promoted, redis
):
    receiver = Receiver()
    server.expect_request("/hooks/leadline", method="POST").respond_with_handler(receiver.handle)
    targets = [
        stored_target(workspace, "hubspot", token=HUBSPOT_TOKEN, base_url=server.url_for("/")),
        stored_target(workspace, "pipedrive", token=PIPEDRIVE_TOKEN, base_url=server.url_for("/")),
        stored_target(workspace, "webhook", url=server.url_for("/hooks/leadline"), secret=SECRET),
    ]
    person = Person()
    lead_a, lead_b = _everything_about(person, workspace, rep, admin, promoted)
    assert deliver_handoffs("pipeline") == 1
    for stored in targets:
        assert deliver_handoffs(stored.ledger_name) == 1
    assert hubspot.by_email(person.email) is not None and len(pipedrive.objects["persons"]) == 1
    deal_value_before = db.session.scalar(sa.select(Deal.value).where(Deal.lead_id == lead_a.id))
    # Job data in Redis: a queued job naming the person and a finished one returning them.
    get_queue().enqueue("json.dumps", {"to": person.email})
    Queue("default", connection=redis, is_async=False).enqueue("json.dumps", [person.phone])
    upload = source_path(db.session.scalars(sa.select(ImportRun)).one())
    assert upload.exists()

    assert [lead.id for lead in same_person(lead_a)] == [lead_b.id]
    # The checks below can fail: before the erasure the person is everywhere.
    assert _files_mentioning(person.email) or db.engine.dialect.name != "sqlite"
    assert any(person.email.encode() in blob for blob in _redis_blobs(redis))
    erasure = erase([lead_a, lead_b], admin)

    _assert_nowhere(person, redis)
    assert not upload.exists()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Enrollment)) == 0
    # The deal keeps its value; its contact is there but holds nothing of the person.
    deal = db.session.scalars(sa.select(Deal)).one()
    assert deal.value == deal_value_before
    contact = db.session.get(Contact, deal.contact_id)
    assert (contact.email, contact.phone) == (None, None)
    # Calls still count for the metrics, without the lead or the note.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CallAttempt)) == 1
    audit = db.session.get(LeadErasure, erasure.id)
    assert audit.erased_by_id == admin.id and audit.lead_count == 2
    removed = audit.removed
    assert removed["leads"] == 2 and removed["activities"] >= 1 and removed["tasks"] == 1
    assert removed["cadence_enrollments_stopped"] == 1 and removed["redis_keys"] >= 2
    assert removed["crm_deletes_queued"] == 3 and removed["import_uploads_deleted"] == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ErasedContact)) == 4
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Handoff)) == 0

    for stored in targets:
        assert deliver_erasures(stored.ledger_name) == 1
    assert hubspot.by_email(person.email) is None and len(hubspot.archived["contacts"]) == 1
    assert pipedrive.objects["persons"] == {} and len(pipedrive.deleted["persons"]) == 1
    assert not pipedrive.violations
    event = receiver.received[-1][0]
    assert event["event"] == "leadline.erasure"
    assert person.email not in repr(event)
    states = db.session.scalars(sa.select(CrmErasure.state)).all()
    assert states == [HandoffState.DELIVERED.value] * 3
    # Sending again changes nothing: every delete is recorded once.
    assert all(deliver_erasures(stored.ledger_name) == 0 for stored in targets)


def test_a_crm_that_is_down_gets_the_delete_from_the_backlog(
    app, workspace, server, hubspot, admin, promoted, client, login
):
    stored = stored_target(workspace, "hubspot", token=HUBSPOT_TOKEN, base_url=server.url_for("/"))
    lead = promoted(email="gone.soon@erasure-example.org")
    assert deliver_handoffs(stored.ledger_name) == 1
    hubspot.faults = ["500"] * 10  # down: every retry of the client fails too
    erase([lead], admin)

    assert deliver_erasures(stored.ledger_name) == 0
    row = db.session.scalars(sa.select(CrmErasure)).one()
    assert row.state == HandoffState.FAILED.value and "500" in row.last_error
    assert hubspot.by_email("gone.soon@erasure-example.org") is not None
    # Not due yet: nothing is sent before the backoff has passed.
    assert deliver_erasures(stored.ledger_name) == 0
    login(admin)
    page = client.get("/sync").get_data(as_text=True)
    assert "Deletes of erased people" in page and "0 done · 1 waiting" in page

    hubspot.faults = []  # back up; the sweep queues the due deletes
    later = utcnow() + timedelta(hours=2)
    assert deliver_erasures(stored.ledger_name, now=later) == 1
    assert hubspot.by_email("gone.soon@erasure-example.org") is None
    db.session.expire_all()
    assert db.session.get(CrmErasure, row.id).state == HandoffState.DELIVERED.value


def test_the_sweep_queues_due_deletes(app, workspace, server, hubspot, admin, promoted):
    stored = stored_target(workspace, "hubspot", token=HUBSPOT_TOKEN, base_url=server.url_for("/"))
    lead = promoted(email="swept@erasure-example.org")
    deliver_handoffs(stored.ledger_name)
    erase([lead], admin)
    get_queue().empty()
    sweep_handoffs()
    queued = [job.func_name for job in get_queue().get_jobs()]
    assert "sync.jobs.deliver_erasures" in queued


def test_a_lead_never_sent_to_a_crm_owes_it_nothing(
    app, workspace, server, hubspot, admin, promoted
):
    stored_target(workspace, "hubspot", token=HUBSPOT_TOKEN, base_url=server.url_for("/"))
    lead = promoted(email="never.sent@erasure-example.org")
    erasure = erase([lead], admin)
    assert erasure.removed["crm_deletes_queued"] == 0
    assert hubspot.requests == []


def test_reimport_capture_and_the_form_cannot_bring_the_person_back(
    app, workspace, admin, client, login, promoted
):
    person = Person()
    lead = promoted(
        first_name=person.first, last_name=person.last, email=person.email,
        email_key=person.email, phone_e164=person.phone, phone_raw=person.phone_raw,
    )  # fmt: skip
    erase([lead], admin)

    run = _stored_upload(workspace, CSV_HEADER + person.csv_row(), ImportStatus.QUEUED)
    run = run_import(run.id)
    assert (run.created, run.skipped, run.suppressed) == (0, 1, 1)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Lead)) == 0

    lead_list = LeadList(workspace_id=workspace.id, name="Website", capture_key="k" * 20)
    db.session.add(lead_list)
    db.session.commit()
    fields = {"first_name": "Q", "email": person.email, "phone": person.phone_raw}
    captured = capture_lead(lead_list, fields, None, RequestInfo(None, None, None))
    assert (captured.errors, captured.lead_id, captured.suppressed) == ({}, None, True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Lead)) == 0

    login(admin)
    page = client.post(
        "/leads/new", data={**LEAD_FORM, "first_name": "Someone", "email": person.email.upper()}
    )
    assert page.status_code == 422
    assert "erased on request" in page.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Lead)) == 0


def test_an_upload_still_being_mapped_loses_only_the_persons_lines(app, workspace, admin, promoted):
    person = Person()
    lead = promoted(first_name=person.first, last_name=person.last, email=person.email,
                    email_key=person.email)  # fmt: skip
    other = "Ada,Stone,Acme,(212) 555-0100,ada.stone@example.com\n"
    run = _stored_upload(workspace, CSV_HEADER + person.csv_row() + other, ImportStatus.UPLOADED)
    erasure = erase([lead], admin)
    assert erasure.removed["import_uploads_rewritten"] == 1
    assert source_path(run).read_text(encoding="utf-8") == CSV_HEADER + other


def test_a_running_import_holding_the_person_makes_the_erasure_wait(
    app, workspace, admin, promoted
):
    from leads.erasure import ErasureRefused

    person = Person()
    lead = promoted(first_name=person.first, last_name=person.last, email=person.email,
                    email_key=person.email)  # fmt: skip
    _stored_upload(workspace, CSV_HEADER + person.csv_row(), ImportStatus.RUNNING)
    with pytest.raises(ErasureRefused, match="still running"):
        erase([lead], admin)
    db.session.rollback()
    assert db.session.get(Lead, lead.id) is not None


def test_a_delivery_in_flight_during_the_erasure_is_deleted_after_it(
    app, workspace, server, hubspot, admin, promoted
):
    stored = stored_target(workspace, "hubspot", token=HUBSPOT_TOKEN, base_url=server.url_for("/"))
    lead = promoted(email="in.flight@erasure-example.org")
    target = get_target(stored.ledger_name)
    # A worker holds the row and has read the lead; HubSpot has not answered yet.
    claimed = claim_due(target, 10, utcnow())
    items = handoff_items(claimed)
    erase([lead], admin)
    owed = db.session.scalars(sa.select(CrmErasure)).one()
    assert owed.next_attempt_at >= utcnow() + CLAIM_LEASE - timedelta(seconds=5)

    # The worker carries on as deliver_to_crm does: HubSpot now holds the person.
    crm = target_for("hubspot", unseal(stored.settings))
    answers = {answer.key: answer for answer in crm.deliver(list(items.values()))}
    keep_external_ids(claimed, answers)
    record_results(target, claimed, [as_result(a, 1) for a in answers.values()], utcnow())
    assert hubspot.by_email("in.flight@erasure-example.org") is not None
    assert deliver_erasures(stored.ledger_name) == 0  # waits for the lease
    assert deliver_erasures(stored.ledger_name, now=utcnow() + CLAIM_LEASE) == 1
    assert hubspot.by_email("in.flight@erasure-example.org") is None
