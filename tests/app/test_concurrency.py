"""Several processes writing at once: read-then-write transactions must wait, not fail."""

from __future__ import annotations

import multiprocessing

import sqlalchemy as sa

from app import create_app
from app.extensions import db
from leads.models import LeadList

WRITERS = 4
WRITES_EACH = 40


def _writer(config: dict, workspace_id: int, number: int, errors) -> None:
    application = create_app(config)
    with application.app_context():
        for n in range(WRITES_EACH):
            try:
                # Read first, then write: under a plain BEGIN on SQLite this is the
                # pattern that fails with "database is locked" when others write.
                db.session.scalar(sa.select(sa.func.count(LeadList.id)))
                db.session.add(LeadList(workspace_id=workspace_id, name=f"w{number}-{n}"))
                db.session.commit()
            except Exception as exc:  # the test reports every failure, whatever its type
                db.session.rollback()
                errors.put(repr(exc))


def test_concurrent_read_then_write_transactions_all_succeed(app, app_config, workspace):
    workspace_id = workspace.id
    db.session.commit()  # hold no transaction while the writers run
    context = multiprocessing.get_context("spawn")
    errors = context.Queue()
    processes = [
        context.Process(target=_writer, args=(app_config, workspace_id, i, errors))
        for i in range(WRITERS)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0] * WRITERS
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    assert failures == []
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(LeadList.id))) == WRITERS * WRITES_EACH


def test_signed_in_reads_do_not_take_the_write_lock(app, client, admin, login):
    """A GET must begin deferred even when a blueprint hook loads the user first."""
    if db.engine.dialect.name != "sqlite":
        return
    statements: list[str] = []

    def remember(conn, cursor, statement, *args):
        statements.append(statement)

    login(admin)
    sa.event.listen(db.engine, "before_cursor_execute", remember)
    try:
        assert client.get("/leads").status_code == 200
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", remember)
    begins = [s for s in statements if s.startswith("BEGIN")]
    assert begins and set(begins) == {"BEGIN"}
