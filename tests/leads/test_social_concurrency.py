"""Several processes (tabs, double clicks) logging the same tasks at once: each once."""

from __future__ import annotations

import multiprocessing

import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.models import Role, User
from leads.models import Activity, ActivityType, Lead
from leads.social import Handled, create_task, log_outcome
from leads.tasks import Network, SocialAction, SocialOutcome, Task

PROCESSES = 4
TASKS = 25


def _logger(config: dict, user_id: int, task_ids: list[int], start, results) -> None:
    application = create_app(config)
    with application.app_context():
        user = db.session.get(User, user_id)
        applied = 0
        # Outside requests SQLite transactions begin IMMEDIATE: end the read before
        # waiting for the others, or this process would keep the write lock from them.
        db.session.commit()
        start.wait(timeout=60)
        for task_id in task_ids:
            try:
                applied += log_outcome(user, task_id, SocialOutcome.DONE) is Handled.APPLIED
                db.session.commit()
            except Exception as exc:  # the test reports every failure, whatever its type
                db.session.rollback()
                results.put(repr(exc))
        results.put(applied)


def test_each_task_is_logged_once_whoever_races(app, app_config, make_user):
    rep = make_user(Role.REP)
    rep_id, task_ids = rep.id, []
    for number in range(TASKS):
        lead = Lead(workspace_id=rep.workspace_id, owner_id=rep.id, first_name=f"L{number}",
                    linkedin_url=f"https://linkedin.com/in/l{number}")  # fmt: skip
        db.session.add(lead)
        db.session.flush()
        task_ids.append(create_task(lead, Network.LINKEDIN, SocialAction.VIEW, rep).id)
    db.session.commit()
    # Hold no transaction while the processes run: on SQLite, reading an expired
    # attribute would begin one IMMEDIATE and keep the write lock from them.
    db.session.close()
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(PROCESSES), context.Queue()
    processes = [
        context.Process(target=_logger, args=(app_config, rep_id, task_ids, start, results))
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0] * PROCESSES
    outcomes = [results.get(timeout=5) for _ in range(PROCESSES)]
    assert all(isinstance(o, int) for o in outcomes), outcomes
    assert sum(outcomes) == TASKS
    db.session.rollback()
    touched = db.session.scalars(
        sa.select(Activity.data["task_id"].as_integer()).where(
            Activity.type == ActivityType.SOCIAL_TOUCH.value
        )
    ).all()
    assert sorted(touched) == sorted(task_ids)  # every task once, none twice
    assert set(db.session.scalars(sa.select(Task.status))) == {"done"}
