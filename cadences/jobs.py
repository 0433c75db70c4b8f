"""RQ entry points of the cadence runner: the tick and the batch job."""

from __future__ import annotations

from app.extensions import db
from app.queue import enqueue, job
from cadences.birthdays import send_due as send_birthday_emails
from cadences.mailer import SmtpPool
from cadences.reminders import announce_due_reminders, schedule_birthdays
from cadences.runner import BATCH_SIZE, lease_due, run_batch
from cadences.schedule import now
from cadences.sending import Batch, send_email_step

# One tick hands out at most this many batches; the rest wait for the next tick.
MAX_BATCHES_PER_TICK = 200


@job
def tick() -> int:
    """Lease due enrolments in batches and enqueue one job per batch; returns the count."""
    leased = lease_due(BATCH_SIZE * MAX_BATCHES_PER_TICK)
    db.session.commit()
    stamp = int(now().timestamp())
    for start in range(0, len(leased), BATCH_SIZE):
        batch = leased[start : start + BATCH_SIZE]
        # The id names the lease (its time and first enrolment): the same lease is never
        # enqueued twice, while a re-lease after a lost job gets a job of its own.
        enqueue("cadences.jobs.run_steps", batch, job_id=f"cadence-steps-{stamp}-{batch[0]}")
    return len(leased)


@job
def remind() -> int:
    """Create today's birthday reminders, announce every reminder that is due and send
    the birthday emails that came due."""
    schedule_birthdays()
    db.session.commit()
    announced = announce_due_reminders()
    db.session.commit()
    with SmtpPool() as pool:
        send_birthday_emails(pool)
    return announced


@job
def run_steps(enrollment_ids: list[int]) -> dict[str, int]:
    """Run the due step of each enrolment: tasks and waits at once, then the emails."""
    return process(enrollment_ids)


def process(enrollment_ids: list[int]) -> dict[str, int]:
    """The batch job's work, callable in-process (tests, the benchmark's baseline)."""
    result = run_batch(enrollment_ids)
    outcomes: dict[str, int] = {}
    batch = Batch()
    with SmtpPool() as pool:
        for enrollment_id, step_id in result.emails:
            outcome = send_email_step(enrollment_id, step_id, pool, batch)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        db.session.commit()  # the last message's record
    return {
        "tasks": result.tasks,
        "waits": result.waits,
        "skipped": result.skipped,
        "exited": result.exited,
        "finished": result.finished,
        "deferred": result.deferred,
        **outcomes,
    }
