"""The cadence runner on due steps: task steps by the hundred thousand, then emails over SMTP.

    .venv/bin/python benchmarks/bench_cadence.py [--tasks 100000] [--emails 2000]

1. ``--tasks`` enrolments whose next step is a social task, all due: the real tick
   leases them and enqueues batch jobs, a second tick runs while they wait (it must
   lease nothing), and an RQ ``SimpleWorker`` in this process runs the jobs (the
   real job path without the fork per job, so the figure is the runner's).
2. ``--emails`` enrolments whose next step is an email, against a local SMTP server
   (aiosmtpd, in a thread of this process), the same way.

Baselines, in the same process: for tasks, a bare ``executemany`` that inserts one
row and updates one row per step in a bare SQLite table with the app's settings (the
least a durable step costs); for email, ``smtplib`` sending the same number of
messages of the same size, built beforehand, over one connection to the same server
(what SMTP allows), just before and just after the runner's emails.
Duplicates: task announcements repeated plus messages the server received twice.

Targets: task steps <= 10 s; email bound by SMTP (ratio near 1); duplicates 0.
Last line: ``cadence: due_steps=… seconds=… steps_per_s=… emails_per_s=… duplicates=…
task_ratio=… email_ratio=… email_cpu_ratio=…``.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import smtplib
import socket
import sqlite3
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

_ROOT = Path(tempfile.mkdtemp(prefix="leadline-bench-cadence-"))
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)
os.environ["LEADLINE_INSTANCE_PATH"] = str(_ROOT / "instance")
os.environ["LEADLINE_ENV"] = "development"

import sqlalchemy as sa  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from rq import SimpleWorker, Worker  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Role, utcnow  # noqa: E402
from app.queue import get_queue, redis_connection  # noqa: E402
from app.users import create_user, default_workspace  # noqa: E402
from cadences.jobs import tick  # noqa: E402
from cadences.models import Cadence, CadenceStep, EmailVariant, Enrollment, MailSender  # noqa: E402
from cadences.signals import cadence_tasks_due  # noqa: E402
from leads.models import Lead  # noqa: E402
from leads.tasks import Task  # noqa: E402

ALWAYS_OPEN = {"window_start": 0, "window_end": 24 * 60, "business_days_only": False}
INSERT_BATCH = 10_000


class Inbox:
    def __init__(self) -> None:
        self.message_ids: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        for line in envelope.content.splitlines():
            if line.lower().startswith(b"message-id:"):
                self.message_ids.append(line.split(b":", 1)[1].strip().decode())
                break
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_cadence(workspace_id: int, user_id: int, kind: str, sender_id: int | None) -> int:
    cadence = Cadence(
        workspace_id=workspace_id, name=f"Bench {kind}", created_by_id=user_id, sender_id=sender_id
    )
    step = CadenceStep(position=0, kind=kind, **ALWAYS_OPEN)
    if kind == "email":
        step.variants = [
            EmailVariant(
                label="A", subject="Hello {{ company }}", body="Hi {{ first_name }},\n" * 8
            ),
            EmailVariant(label="B", subject="A note for {{ first_name }}", body="Hello,\n" * 8),
        ]
    cadence.steps.append(step)
    db.session.add(cadence)
    db.session.commit()
    return cadence.id


def enroll_new_leads(
    workspace_id: int, owner_id: int, cadence_id: int, count: int, offset: int
) -> None:
    """Leads and due enrolments by executemany: setting up is not what is measured."""
    due = utcnow()
    for start in range(offset, offset + count, INSERT_BATCH):
        numbers = range(start, min(start + INSERT_BATCH, offset + count))
        db.session.execute(
            sa.insert(Lead),
            [
                {
                    "workspace_id": workspace_id,
                    "first_name": f"Pat{n}",
                    "company": f"Co {n % 997}",
                    "email": f"pat{n}@example.com",
                    "email_key": f"pat{n}@example.com",
                    "phone_e164": f"+1646{n:07d}",
                    "linkedin_url": f"https://www.linkedin.com/in/pat{n}",
                    "time_zone": "America/Chicago",
                    "status": "new",
                }
                for n in numbers
            ],
        )
        first_id = db.session.scalar(sa.select(sa.func.max(Lead.id))) - len(numbers) + 1
        db.session.execute(
            sa.insert(Enrollment),
            [
                {
                    "cadence_id": cadence_id,
                    "lead_id": first_id + i,
                    "owner_id": owner_id,
                    "due_at": due,
                    "variant_seed": i,
                }
                for i in range(len(numbers))
            ],
        )
        db.session.commit()


def run_due_steps(label: str) -> tuple[float, float, float]:
    """Tick, tick again while the jobs wait, then work the queue; (seconds, the runner's
    CPU, the process's CPU) in seconds."""
    started, cpu, own = time.perf_counter(), time.process_time(), time.thread_time()
    leased = tick()
    assert tick() == 0, "a second tick leased enrolments a job already holds"
    SimpleWorker([get_queue()], connection=redis_connection()).work(burst=True)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    own = time.thread_time() - own
    # CPU next to wall time: on a shared machine the difference is time spent waiting.
    # The process's CPU includes the SMTP server's thread; this thread's is the runner's.
    print(
        f"  {label}: leased={leased} seconds={seconds:.2f} cpu_seconds={cpu:.2f} "
        f"runner_cpu_seconds={own:.2f}"
    )
    return seconds, own, cpu


def task_baseline(count: int) -> float:
    """Seconds for the least a durable step costs: insert a run row, update the enrolment."""
    path = _ROOT / "baseline.db"
    connection = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-65536"):
        connection.execute(f"PRAGMA {pragma}")
    connection.execute("CREATE TABLE e (id INTEGER PRIMARY KEY, position INT, due TEXT)")
    connection.execute("CREATE TABLE r (id INTEGER PRIMARY KEY, e INT, s INT, UNIQUE (e, s))")
    connection.executemany("INSERT INTO e VALUES (?, 0, 'x')", ((i,) for i in range(count)))
    started = time.perf_counter()
    for start in range(0, count, 1000):
        ids = range(start, min(start + 1000, count))
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(
            "INSERT INTO r (e, s) VALUES (?, 1) ON CONFLICT DO NOTHING", ((i,) for i in ids)
        )
        connection.executemany(
            "UPDATE e SET position = 1, due = 'y' WHERE id = ? AND position = 0",
            ((i,) for i in ids),
        )
        connection.execute("COMMIT")
    seconds = time.perf_counter() - started
    connection.close()
    return seconds


def email_baseline(port: int, count: int) -> tuple[float, float, float]:
    """(seconds, client CPU, process CPU) for smtplib alone to hand ``count`` ready-made
    messages of the same size to the same server: the SMTP transactions and nothing else."""
    messages = []
    for n in range(count):
        message = EmailMessage()
        message["From"], message["To"] = "bench@example.com", f"pat{n}@example.com"
        message["Subject"], message["Message-ID"] = "Hello", f"<base{n}@example.com>"
        message.set_content("Hi there,\n" * 8 + "\n--\n1 Main St\nUnsubscribe: http://x/u/t\n")
        messages.append((message["To"], message.as_bytes()))
    started, own, cpu = time.perf_counter(), time.thread_time(), time.process_time()
    with smtplib.SMTP("127.0.0.1", port) as connection:
        for to, data in messages:
            connection.sendmail("bench@example.com", [to], data)
    return (
        time.perf_counter() - started,
        time.thread_time() - own,
        time.process_time() - cpu,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--emails", type=int, default=2_000)
    args = parser.parse_args()
    folder = _ROOT / "db"
    folder.mkdir()
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'leadline.db'}",
            "SQLALCHEMY_BINDS": {"pipeline": f"sqlite:///{folder / 'pipeline.db'}"},
        }
    )
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    announced: list[int] = []

    def count_task(_sender, **kwargs) -> None:
        announced.extend(task["step_run_id"] for task in kwargs["tasks"])

    try:
        with app.app_context():
            upgrade()
            if Worker.all(connection=redis_connection()):
                raise SystemExit("other workers listen on this Redis; unset REDIS_URL")
            user, _ = create_user(
                default_workspace(), email="bench@example.com", name="Bench", roles={Role.MARKETER}
            )
            db.session.commit()
            workspace_id = user.workspace_id
            sender = MailSender(
                workspace_id=workspace_id,
                from_name="Bench",
                from_email="bench@example.com",
                postal_address="1 Main St, Springfield",
                smtp_host="127.0.0.1",
                smtp_port=port,
                starttls=False,
                max_per_hour=10**9,
                max_per_day=10**9,
            )
            db.session.add(sender)
            db.session.commit()

            print(f"tasks: {args.tasks} due social-task steps")
            enroll_new_leads(
                workspace_id,
                user.id,
                make_cadence(workspace_id, user.id, "social", None),
                args.tasks,
                0,
            )
            with cadence_tasks_due.connected_to(count_task):
                task_seconds, _, _ = run_due_steps("task steps")
            queued = db.session.scalar(sa.select(sa.func.count(Task.id)))
            print(f"  social tasks in the owner's queue: {queued}")
            if queued != args.tasks:
                raise SystemExit(f"{args.tasks - queued} due steps left no task in the queue")
            run_due_steps("finishing (not counted)")  # past their one step: finished
            task_base = task_baseline(args.tasks)

            print(f"emails: {args.emails} due email steps")
            enroll_new_leads(
                workspace_id,
                user.id,
                make_cadence(workspace_id, user.id, "email", sender.id),
                args.emails,
                args.tasks,
            )
            # SMTP alone just before and just after the runner: on a shared machine the
            # load drifts, and the mean of the two stands for the runner's moment.
            before = email_baseline(port, args.emails)
            email_seconds, email_cpu, email_process_cpu = run_due_steps("email steps")
            after = email_baseline(port, args.emails)
            email_base, smtp_cpu, smtp_process_cpu = (
                (x + y) / 2 for x, y in zip(before, after, strict=True)
            )
    finally:
        controller.stop()

    received = [m for m in inbox.message_ids if not m.startswith("<base")]
    per_email = 1000 / args.emails
    duplicates = (len(announced) - len(set(announced))) + (len(received) - len(set(received)))
    missing = (args.tasks - len(set(announced))) + (args.emails - len(set(received)))
    if missing:
        raise SystemExit(f"{missing} steps did not run")
    task_rate, email_rate = args.tasks / task_seconds, args.emails / email_seconds
    bound_tasks, bound_emails = args.tasks / task_base, args.emails / email_base
    print(f"bound: task_steps_per_s={bound_tasks:.0f} smtp_emails_per_s={bound_emails:.0f}")
    print(f"tasks: seconds={task_seconds:.2f} steps_per_s={task_rate:.0f}")
    print(f"emails: seconds={email_seconds:.2f} emails_per_s={email_rate:.0f}")
    # Per email in CPU, which a shared machine does not blur as it does wall time: the
    # runner's thread against smtplib's, and the whole process (the SMTP server's thread
    # included) with the runner against SMTP alone.
    print(
        f"emails: runner_cpu_ms_per_email={email_cpu * per_email:.2f} "
        f"smtp_client_cpu_ms_per_email={smtp_cpu * per_email:.2f} "
        f"process_cpu_ms_per_email={email_process_cpu * per_email:.2f} "
        f"smtp_process_cpu_ms_per_email={smtp_process_cpu * per_email:.2f} "
        f"smtp_ms_per_email={email_base * per_email:.2f}"
    )
    print(
        f"cadence: due_steps={args.tasks + args.emails} seconds={task_seconds + email_seconds:.2f} "
        f"steps_per_s={task_rate:.0f} emails_per_s={email_rate:.0f} duplicates={duplicates} "
        f"task_ratio={task_base / task_seconds:.2f} email_ratio={email_base / email_seconds:.2f} "
        f"email_cpu_ratio={smtp_process_cpu / email_process_cpu:.2f}"
    )


if __name__ == "__main__":
    main()
