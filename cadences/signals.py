"""What the cadence runner announces, for the queues that turn it into work."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# Sent inside the runner's transaction, before it commits, when a call, social or
# generic task step comes due: with lead_id=, owner_id=, kind= ("call", "social",
# "task"), due_at= (naive UTC), step_run_id= and instructions=. A receiver must only
# add rows to db.session (a Task in the owner's queue): they commit, or roll back,
# together with the step run, which is what makes the task exactly-once.
cadence_task_due = _signals.signal("cadence-task-due")
