"""What the cadence runner announces, for the queues that turn it into work."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# Sent inside the runner's transaction, before it commits, once per batch of call,
# social and generic task steps that came due (and reminders), with tasks= a list of
# dicts: lead_id=, owner_id=, workspace_id=, kind= ("call", "social", "task"),
# due_at= (naive UTC), step_run_id= and enrollment_id= (None for reminders),
# instructions=, network= and action= (for social steps: the step's network, or the
# lead's first usable profile, and its action, default "view"; None otherwise) and
# reminder= (the reminder's kind, or None). A receiver must only add rows to
# db.session (work in the owner's queue): they commit, or roll back, together with the
# step runs, which is what makes the work exactly-once. One signal per batch lets a
# receiver write its rows with one set-based insert.
cadence_tasks_due = _signals.signal("cadence-tasks-due")
