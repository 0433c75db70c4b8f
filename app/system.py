"""What the RQ side is doing: queues, workers, schedulers and job registries."""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis
from rq import Queue, Worker
from rq.cron import CronScheduler
from rq.job import Job
from rq.registry import (
    FailedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)

from app.queue import QUEUE_NAMES, redis_connection

REGISTRIES = {
    "scheduled": ScheduledJobRegistry,
    "started": StartedJobRegistry,
    "failed": FailedJobRegistry,
}
JOBS_SHOWN = 50


@dataclass(frozen=True)
class QueueSummary:
    name: str
    queued: int
    scheduled: int
    started: int
    failed: int


def queue_summaries(connection: Redis | None = None) -> list[QueueSummary]:
    connection = connection or redis_connection()
    summaries = []
    for name in QUEUE_NAMES:
        queue = Queue(name, connection=connection)
        summaries.append(
            QueueSummary(
                name=name,
                queued=queue.count,
                scheduled=ScheduledJobRegistry(queue=queue).count,
                started=StartedJobRegistry(queue=queue).count,
                failed=FailedJobRegistry(queue=queue).count,
            )
        )
    return summaries


def workers(connection: Redis | None = None) -> list[Worker]:
    return Worker.all(connection=connection or redis_connection())


def registry_jobs(kind: str, connection: Redis | None = None) -> list[Job]:
    """The newest jobs of one registry across all queues."""
    connection = connection or redis_connection()
    jobs: list[Job] = []
    for name in QUEUE_NAMES:
        registry = REGISTRIES[kind](name, connection=connection)
        ids = registry.get_job_ids(0, JOBS_SHOWN - 1)
        jobs.extend(job for job in Job.fetch_many(ids, connection=connection) if job is not None)
    return jobs[:JOBS_SHOWN]


def cron_schedulers(connection: Redis | None = None) -> list[CronScheduler]:
    """Live cron schedulers (RQ drops those whose heartbeat stopped)."""
    return CronScheduler.all(connection or redis_connection())


def requeue_job(job_id: str) -> None:
    job = Job.fetch(job_id, connection=redis_connection())
    job.requeue()


def delete_job(job_id: str) -> None:
    Job.fetch(job_id, connection=redis_connection()).delete()
