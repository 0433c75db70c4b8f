"""The import engine on real databases: normalization, dedupe policies, suppression,
resumable chunks, undo, and two imports at once."""

from __future__ import annotations

import csv
import multiprocessing
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm.attributes import set_committed_value

from app import create_app
from app.extensions import db
from app.models import utcnow
from leads import imports
from leads.import_undo import undo_import
from leads.imports import apply_chunk, queue_import, run_import, source_path
from leads.jobs import resume_stalled_imports
from leads.models import (
    Activity,
    ContactKind,
    DoNotContact,
    ImportChange,
    ImportRowError,
    ImportRun,
    ImportStatus,
    Lead,
)
from leads.signals import import_finished
from leads.sources import SourceFormat, read_rows
from tests.processes import kill_worker

HEADER = ["First Name", "Last Name", "Company", "Phone", "Email", "Country", "Industry"]
MAPPING = [
    {"target": "first_name"}, {"target": "last_name"}, {"target": "company"},
    {"target": "phone"}, {"target": "email"}, {"target": "country"},
    {"target": "custom", "custom": "industry"},
]  # fmt: skip


def write_csv(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)


def make_run(workspace, rows, **fields) -> ImportRun:
    """Store a CSV as an upload would and create its run, mapped and ready."""
    stored = f"{uuid.uuid4().hex}.csv"
    folder = Path(current_app.instance_path) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(folder / stored, rows)
    run = ImportRun(
        workspace_id=workspace.id, original_name="list.csv", stored_name=stored,
        source_format={"kind": "csv", "encoding": "utf-8", "delimiter": ",", "header_row": 0,
                       "sheet": None},
        mapping=MAPPING, status=ImportStatus.QUEUED.value, **fields,
    )  # fmt: skip
    db.session.add(run)
    db.session.commit()
    return run


def leads_by_email() -> dict[str, Lead]:
    db.session.expire_all()
    return {lead.email_key: lead for lead in db.session.scalars(sa.select(Lead))}


ROWS = [
    ["Ana", "Pérez", "Acme", "(415) 555-0134 x12", "Ana@Example.com", "US", "Logistics"],
    ["Bo", "Li", "Initech", "001-212-555-0199", "bo@example.com", "", ""],
    ["Cy", "Ng", "", "+44 20 7946 0958", "not an email", "", ""],
    ["", "", "", "", "", "", "only a custom value"],
]


def test_an_import_normalizes_and_reports(app, workspace):
    run = run_import(make_run(workspace, ROWS).id)
    assert run.status == ImportStatus.SUCCEEDED
    assert (run.processed, run.created, run.errors) == (4, 3, 1)
    leads = leads_by_email()
    ana = leads["ana@example.com"]
    assert (ana.phone_e164, ana.phone_extension, ana.email) == (
        "+14155550134",
        "12",
        "Ana@example.com",
    )
    assert ana.custom_fields == {"industry": "Logistics"}
    assert leads["bo@example.com"].phone_e164 == "+12125550199"  # the 001 trap
    cy = next(lead for lead in leads.values() if lead.first_name == "Cy")
    assert (cy.email_raw, cy.email_valid, cy.phone_e164) == ("not an email", False, "+442079460958")
    assert all(lead.pending_import_id is None for lead in leads.values())
    error = db.session.scalar(sa.select(ImportRowError))
    assert (error.line, error.reason) == (5, "No name, company, phone or email in this row.")
    kinds = db.session.scalars(sa.select(Activity.type)).all()
    assert kinds.count("imported") == 3


def test_a_finished_import_is_announced_once_its_leads_are_visible(app, workspace):
    seen = []

    def listener(run, **_):
        # A listener (rotation) reads the leads in its own session.
        with db.engine.connect() as connection:
            pending = connection.scalar(
                sa.select(sa.func.count()).where(Lead.pending_import_id.is_not(None))
            )
        seen.append((run.id, run.status, pending))

    with import_finished.connected_to(listener):
        run = run_import(make_run(workspace, ROWS).id)
    assert seen == [(run.id, ImportStatus.SUCCEEDED, 0)]


def test_running_twice_changes_nothing(app, workspace):
    run = run_import(make_run(workspace, ROWS).id)
    again = run_import(run.id)
    assert (again.created, again.processed) == (3, 4)
    assert db.session.scalar(sa.select(sa.func.count(Lead.id))) == 3


def test_duplicates_within_the_file_become_one_lead(app, workspace):
    rows = [ROWS[0], ["Ana", "P.", "Acme Corp", "415 555 0134", "", "", ""], ROWS[1]]
    run = run_import(make_run(workspace, rows, duplicate_policy="fill").id)
    assert (run.created, run.skipped) == (2, 1)


@pytest.mark.parametrize(
    ("policy", "company", "title_kept"),
    [("skip", "Old Co", True), ("fill", "Old Co", True), ("overwrite", "Acme", True)],
)
def test_duplicate_policies_against_existing_leads(app, workspace, policy, company, title_kept):
    db.session.add(
        Lead(
            workspace_id=workspace.id,
            first_name="Ana",
            company="Old Co",
            title="Director",
            email_key="ana@example.com",
            email="ana@example.com",
        )
    )
    db.session.commit()
    run = run_import(make_run(workspace, [ROWS[0]], duplicate_policy=policy).id)
    ana = leads_by_email()["ana@example.com"]
    assert ana.company == company and ana.title == "Director"
    assert (run.created, run.updated, run.skipped) == (
        0,
        0 if policy == "skip" else 1,
        1 if policy == "skip" else 0,
    )
    if policy == "fill":
        assert ana.phone_e164 == "+14155550134" and ana.last_name == "Pérez"


def test_a_row_matching_two_leads_is_refused(app, workspace):
    db.session.add_all([
        Lead(workspace_id=workspace.id, first_name="A", email_key="ana@example.com"),
        Lead(workspace_id=workspace.id, first_name="B", phone_e164="+14155550134"),
    ])  # fmt: skip
    db.session.commit()
    run = run_import(make_run(workspace, [ROWS[0]], duplicate_policy="overwrite").id)
    assert run.errors == 1
    assert "two different leads" in db.session.scalar(sa.select(ImportRowError.reason))


@pytest.mark.parametrize(("policy", "created"), [("suppress", 2), ("skip", 1)])
def test_do_not_contact_rows_are_suppressed_or_skipped(app, workspace, policy, created):
    db.session.add(
        DoNotContact(workspace_id=workspace.id, kind=ContactKind.PHONE, value="+12125550199")
    )
    db.session.commit()
    run = run_import(make_run(workspace, ROWS[:2], suppression_policy=policy).id)
    assert (run.created, run.suppressed) == (created, 1)


def test_a_resumed_import_continues_after_the_last_committed_chunk(app, workspace, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_ROWS", 2)
    rows = [[f"P{n}", "X", "", f"+1 212 555 {n:04}", f"p{n}@example.com", "", ""]
            for n in range(7)]  # fmt: skip
    run = make_run(workspace, rows)
    records = list(read_rows(source_path(run), SourceFormat(**run.source_format)))
    apply_chunk(run, records[:2])  # then the worker died
    assert db.session.scalar(sa.select(ImportRun.processed).where(ImportRun.id == run.id)) == 2
    # Nothing of a running import is visible yet.
    assert (
        db.session.scalar(sa.select(sa.func.count()).where(Lead.pending_import_id.is_(None))) == 0
    )
    run = run_import(run.id)
    assert (run.processed, run.created) == (7, 7)
    assert db.session.scalar(sa.select(sa.func.count(Lead.id))) == 7


def test_a_stale_runner_cannot_apply_a_chunk_twice(app, workspace):
    run = make_run(workspace, ROWS[:2])
    records = list(read_rows(source_path(run), SourceFormat(**run.source_format)))
    apply_chunk(run, records)
    # A second runner that read the run before the first one committed its chunk.
    set_committed_value(run, "processed", 0)
    with pytest.raises(imports.ImportSuperseded):
        apply_chunk(run, records)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Lead.id))) == 2


def test_undo_removes_created_restores_updated_and_keeps_touched(app, workspace, admin):
    existing = Lead(
        workspace_id=workspace.id,
        first_name="Bo",
        company="Old Co",
        email_key="bo@example.com",
        email="bo@example.com",
    )
    db.session.add(existing)
    db.session.commit()
    run = run_import(make_run(workspace, ROWS[:3], duplicate_policy="overwrite").id)
    assert (run.created, run.updated) == (2, 1)
    assert leads_by_email()["bo@example.com"].company == "Initech"
    touched = leads_by_email()["ana@example.com"]
    db.session.add(Activity(lead_id=touched.id, type="note", summary="called", actor_id=admin.id))
    db.session.commit()

    report = undo_import(db.session.get(ImportRun, run.id))
    leads = leads_by_email()
    assert leads["bo@example.com"].company == "Old Co"  # restored
    assert "ana@example.com" in leads  # kept: someone worked on it
    assert len(leads) == 2  # Cy, untouched, is gone
    assert (report["deleted"], report["restored"], report["kept_count"]) == (1, 1, 1)
    assert report["kept"][0]["reason"].startswith("Has calls, notes")
    assert db.session.get(ImportRun, run.id).status == ImportStatus.UNDONE


def test_undo_notices_edits_since_the_import(app, workspace):
    run = run_import(make_run(workspace, ROWS[:1]).id)
    lead = leads_by_email()["ana@example.com"]
    lead.title = "Edited later"
    db.session.commit()
    report = undo_import(db.session.get(ImportRun, run.id))
    assert report["kept_count"] == 1 and "Changed since the import" in report["kept"][0]["reason"]
    assert leads_by_email()["ana@example.com"].title == "Edited later"
    # The change rows are used up: undoing again finds nothing more to do.
    assert db.session.scalar(sa.select(sa.func.count(ImportChange.id))) == 0


def test_cancelling_undoes_the_run(app, workspace, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_ROWS", 1)
    run = make_run(workspace, ROWS[:3])
    calls = []
    original = imports.write_chunk

    def cancel_after_first(*args):
        original(*args)
        calls.append(1)  # the marketer presses Stop while the first chunk is written
        db.session.execute(sa.update(ImportRun).values(cancel_requested=True))
        db.session.commit()

    monkeypatch.setattr(imports, "write_chunk", cancel_after_first)
    run = run_import(run.id)
    assert run.status == ImportStatus.CANCELLED and calls == [1]
    assert db.session.scalar(sa.select(sa.func.count(Lead.id))) == 0


def _import_in_process(config: dict, run_id: int, results) -> None:
    application = create_app(config)
    with application.app_context():
        try:
            run = run_import(run_id)
            results.put((run.created, run.updated, run.skipped))
        except Exception as exc:  # reported to the test, whatever it is
            results.put(repr(exc))


def test_two_imports_of_overlapping_files_give_one_lead_each(app, app_config, workspace):
    people = [[f"P{n}", "X", "", f"+1 212 555 {n:04}", f"p{n}@example.com", "", ""]
              for n in range(3000)]  # fmt: skip
    run_ids = [make_run(workspace, part, duplicate_policy="fill").id
               for part in (people[:2000], people[1000:])]  # fmt: skip
    db.session.commit()  # hold no transaction while the importers run
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [context.Process(target=_import_in_process, args=(app_config, run_id, results))
               for run_id in run_ids]  # fmt: skip
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    outcomes = [results.get(timeout=5) for _ in workers]
    assert all(isinstance(o, tuple) for o in outcomes), outcomes
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Lead.id))) == 3000
    assert db.session.scalar(sa.select(sa.func.count(sa.distinct(Lead.phone_e164)))) == 3000
    assert sum(created for created, _, _ in outcomes) == 3000


@pytest.mark.slow
def test_a_worker_killed_mid_import_leaves_nothing_half_done(app, workspace, service_env):
    """kill -9 the worker and its work-horse mid-run; the sweep resumes; every row once."""
    people = [[f"P{n}", "Kill", f"Co {n % 97}", f"+1 {212 + n // 10000} 555 {n % 10000:04}",
               f"p{n}@example.com", "", ""] for n in range(12_000)]  # fmt: skip
    run = make_run(workspace, people + people[:500])  # the tail repeats earlier people
    queue_import(run)
    run_id = run.id
    db.session.commit()
    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "rq", "worker", "--burst"]
    worker = subprocess.Popen(command, cwd=root, env=service_env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    # Progress is read on a plain connection of its own: the app's sessions begin SQLite
    # transactions IMMEDIATE, so a poll through them would queue for the importer's write
    # lock and see only what it commits last.
    reader = sa.create_engine(db.engine.url)
    deadline = time.monotonic() + 60
    processed = 0
    while processed == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
        with reader.connect() as connection:
            processed = connection.scalar(
                sa.select(ImportRun.processed).where(ImportRun.id == run_id)
            )
    reader.dispose()
    assert 0 < processed < 12_500, "the kill must land mid-import"
    kill_worker(worker)
    visible = sa.select(sa.func.count()).where(Lead.pending_import_id.is_(None))
    assert db.session.scalar(visible) == 0  # nothing half-done shows

    # The sweep sees a silent run and hands it to a new worker, which resumes it.
    db.session.execute(sa.update(ImportRun).values(heartbeat_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    assert resume_stalled_imports() == 1
    finished = subprocess.run(command, cwd=root, env=service_env, capture_output=True,
                              text=True, timeout=300)  # fmt: skip
    db.session.expire_all()
    run = db.session.get(ImportRun, run_id)
    assert run.status == ImportStatus.SUCCEEDED, finished.stdout + finished.stderr
    assert (run.processed, run.created, run.skipped, run.errors) == (12_500, 12_000, 500, 0)
    assert db.session.scalar(sa.select(sa.func.count(Lead.id))) == 12_000
    assert db.session.scalar(sa.select(sa.func.count(sa.distinct(Lead.email_key)))) == 12_000
    assert db.session.scalar(visible) == 12_000
