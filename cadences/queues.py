"""Cadence work lands in the owner's queues: calls as callbacks, social touches and
generic tasks as tasks. Rows only, added to the runner's transaction."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.database import insert_ignoring_duplicates
from app.extensions import db
from leads.dial_models import Callback
from leads.tasks import SocialAction, Task, TaskKind, TaskSource, TaskStatus

NOTE_LENGTH = 500


def on_tasks_due(_sender: Any, tasks: list[dict[str, Any]], **_kwargs: Any) -> None:
    """Receiver of ``cadence_tasks_due``: one insert per kind of row for the whole batch.

    A social task whose (lead, network, view) is already pending is not added twice
    (the unique index on pending social tasks decides). Work without an owner has no
    queue to go to and is dropped; the runner only enrols leads with an owner.
    """
    callbacks, task_rows = [], []
    for task in tasks:
        if task["owner_id"] is None:
            continue
        if task["kind"] == "call":
            callbacks.append(_callback_row(task))
        else:
            task_rows.append(_task_row(task))
    if callbacks:
        db.session.execute(sa.insert(Callback.__table__), callbacks)
    if task_rows:
        db.session.execute(insert_ignoring_duplicates(Task.__table__), task_rows)


def _note(task: dict[str, Any], prefix: str = "") -> str:
    return (prefix + (task["instructions"] or "")).strip()[:NOTE_LENGTH] or None


def _callback_row(task: dict[str, Any]) -> dict[str, Any]:
    return {
        "lead_id": task["lead_id"],
        "owner_id": task["owner_id"],
        "due_at": task["due_at"],
        "created_at": task["due_at"],
        "done_at": None,
        "note": _note(task, "Cadence call. "),
        "enrollment_id": task["enrollment_id"],
    }


def _task_row(task: dict[str, Any]) -> dict[str, Any]:
    social = task["kind"] == "social"
    return {
        "workspace_id": task["workspace_id"],
        "lead_id": task["lead_id"],
        "owner_id": task["owner_id"],
        "kind": TaskKind.SOCIAL.value if social else TaskKind.GENERIC.value,
        "status": TaskStatus.OPEN.value,
        "network": task["network"] if social else None,
        # A step built before steps named their action asks for a look at the profile.
        "action": (task.get("action") or SocialAction.VIEW.value) if social else None,
        "outcome": None,
        "due_at": task["due_at"],
        "snoozed_until": None,
        "completed_at": None,
        "source": TaskSource.CADENCE.value,
        "enrollment_id": task["enrollment_id"],
        "note": _note(task),
        "created_by_id": None,
        "created_at": task["due_at"],
    }
