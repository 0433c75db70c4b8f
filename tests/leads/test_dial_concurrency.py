"""Callers in separate processes draining one queue: no lead is ever served twice."""

from __future__ import annotations

import multiprocessing

import sqlalchemy as sa

from app import create_app
from app.database import write_transaction
from app.extensions import db
from app.models import Role, User
from leads.dial_models import CallAttempt
from leads.dialing import claim_next
from leads.dispositions import Disposition, dispose
from tests.leads.dial_factories import OPEN, make_lead

CALLERS = 4
LEADS = 120


def _caller(config: dict, user_id: int, served, errors) -> None:
    application = create_app(config)
    with application.app_context():
        user = db.session.get(User, user_id)
        while True:
            try:
                # The write transaction the dial endpoints use, file-lock queue included.
                with write_transaction():
                    lead = claim_next(user, {}, at=OPEN)
                    token = lead.dial_lease_token if lead else None
                if lead is None:
                    return
                served.put(lead.id)
                with write_transaction():
                    dispose(user, Disposition(token, "not_interested"), at=OPEN)
            except Exception as exc:  # reported by the test, whatever it is
                db.session.rollback()
                errors.put(repr(exc))
                return


def test_concurrent_callers_never_share_a_lead(app, app_config, make_user):
    # Managers see every lead, so all four queues hold the same leads.
    users = [make_user(Role.MANAGER) for _ in range(CALLERS)]
    for _ in range(LEADS):
        make_lead(None, workspace_id=users[0].workspace_id)
    user_ids = [u.id for u in users]
    db.session.commit()
    db.session.close()
    context = multiprocessing.get_context("spawn")
    served, errors = context.Queue(), context.Queue()
    processes = [
        context.Process(target=_caller, args=(app_config, uid, served, errors)) for uid in user_ids
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=180)
    ids = []
    while not served.empty():
        ids.append(served.get())
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    assert failures == []
    assert [p.exitcode for p in processes] == [0] * CALLERS
    assert len(ids) == LEADS and len(set(ids)) == LEADS
    calls = db.session.execute(sa.select(CallAttempt.lead_id, CallAttempt.caller_id)).all()
    assert len(calls) == LEADS and len({lead for lead, _ in calls}) == LEADS
    # Every process took part: the test really exercised contention.
    assert len({caller for _, caller in calls}) > 1
