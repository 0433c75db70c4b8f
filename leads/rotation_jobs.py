"""RQ entry points of rotation: one batch of ~1,000 leads per job, chained by cursor.

Job ids name the workspace, the trigger and the cursor, so a trigger that fires
twice enqueues its work once; SQL decides what is left to do, so a rerun (after a
kill, or a sweep finding work Redis lost) only does what is not done.
"""

from __future__ import annotations

import sqlalchemy as sa
from rq import Retry

from app.extensions import db
from app.queue import enqueue, job
from leads import clock
from leads.rotation import BatchResult, announce_assignments, assign_unassigned, unassigned_leads
from leads.rotation_models import RotationRule
from leads.rotation_sla import rerotate_stale

# A conflict (another writer took a claimed lead) rolls the batch back; the next
# attempt sees the new state.
RETRY = Retry(max=3, interval=[5, 15, 60])


def queue_rotation(
    workspace_id: int, trigger: str, after_id: int = 0, lead_ids: list[int] | None = None
):
    """Enqueue the rotation of a workspace's unassigned leads (from ``after_id`` on)."""
    return enqueue(
        "leads.rotation_jobs.rotate_leads", workspace_id, trigger, after_id, lead_ids,
        job_id=f"rotation_{workspace_id}_{trigger}_{after_id}", retry=RETRY,
    )  # fmt: skip


def queue_sla_sweep(workspace_id: int, trigger: str, after_id: int = 0):
    return enqueue(
        "leads.rotation_jobs.rerotate_stale_leads", workspace_id, trigger, after_id,
        job_id=f"rotation_sla_{workspace_id}_{trigger}_{after_id}", retry=RETRY,
    )  # fmt: skip


def _announce(workspace_id: int, result: BatchResult) -> None:
    announce_assignments(workspace_id, result.owners)


@job
def rotate_leads(
    workspace_id: int, trigger: str, after_id: int = 0, lead_ids: list[int] | None = None
) -> int:
    """Assign one batch of unowned leads, then enqueue the next batch if there is one."""
    try:
        result = assign_unassigned(workspace_id, after_id, lead_ids, reason=trigger.split("-")[0])
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    _announce(workspace_id, result)
    if result.more and result.last_id is not None:
        queue_rotation(workspace_id, trigger, result.last_id, lead_ids)
    return result.assigned


@job
def rerotate_stale_leads(workspace_id: int, trigger: str, after_id: int = 0) -> int:
    """Move on or escalate one batch of leads past their SLA, then chain the next."""
    try:
        result = rerotate_stale(workspace_id, after_id)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    _announce(workspace_id, result)
    if result.more and result.last_id is not None:
        queue_sla_sweep(workspace_id, trigger, result.last_id)
    return result.assigned + result.escalated


@job
def sweep_rotation() -> int:
    """Periodic: rotate waiting leads and enforce SLAs in every workspace with rules.

    The scheduler registers this at its start from code, not from Redis, so a Redis
    that lost its data gets the sweep back with the next scheduler start.
    """
    stamp = clock.now().strftime("%Y%m%d%H%M")
    workspaces = db.session.scalars(
        sa.select(RotationRule.workspace_id).where(RotationRule.enabled.is_(True)).distinct()
    ).all()
    for workspace_id in workspaces:
        waiting = db.session.execute(unassigned_leads(workspace_id).limit(1)).first()
        if waiting is not None:
            queue_rotation(workspace_id, f"sweep-{stamp}")
        queue_sla_sweep(workspace_id, f"sweep-{stamp}")
    db.session.rollback()
    return len(workspaces)


def on_import_finished(run, **_extra) -> None:
    """An import published its leads: hand out the unowned ones."""
    workspace_id, run_id = _loaded(run, "workspace_id", "id")
    queue_rotation(workspace_id, f"import-{run_id}")


def on_lead_captured(lead_list, lead_id: int, created: bool, suppressed: bool, **_extra) -> None:
    """A new lead came in through a form: hand it out at once (unless nobody may contact it)."""
    if created and not suppressed:
        (workspace_id,) = _loaded(lead_list, "workspace_id")
        queue_rotation(workspace_id, f"capture-{lead_id}", lead_ids=[lead_id])


def _loaded(row, *names: str) -> tuple:
    # The sender was committed just before the signal, so reading it reloads it and
    # begins a transaction (on SQLite one that takes the write lock): end it at once
    # rather than hold the lock against the sender's other listeners.
    values = tuple(getattr(row, name) for name in names)
    db.session.commit()
    return values
