"""Redis and RQ wiring: one connection per process, named queues, the @job wrapper."""

from __future__ import annotations

import contextlib
import functools
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ParamSpec, TypeVar

from flask import Flask, current_app, has_app_context
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job

from app.config import ConfigError

QUEUE_NAMES = ("high", "default", "low")

P = ParamSpec("P")
R = TypeVar("R")


def init_redis(app: Flask) -> None:
    """Connect to REDIS_URL, or start the embedded server under instance/ when unset."""
    url = app.config.get("REDIS_URL")
    if not url:
        from app.embedded_redis import ensure_embedded_redis

        url = ensure_embedded_redis(app.instance_path).url
        app.config["REDIS_URL"] = url
    connection = Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)
    app.extensions["redis"] = connection


def check_redis(app: Flask) -> None:
    """Fail fast, naming the variable, when Redis does not answer."""
    try:
        app.extensions["redis"].ping()
    except RedisError as exc:
        raise ConfigError(f"REDIS_URL: cannot connect to {_safe_url(app)}: {exc}") from None


def _safe_url(app: Flask) -> str:
    url = app.config["REDIS_URL"]
    if "@" in url:  # drop a password from redis://:secret@host
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


def redis_connection() -> Redis:
    return current_app.extensions["redis"]


def get_queue(name: str = "default") -> Queue:
    return Queue(name, connection=redis_connection())


def enqueue(
    func_path: str,
    *args: Any,
    queue: str = "default",
    job_id: str | None = None,
    retry: Retry | None = None,
    job_timeout: int | None = None,
    **kwargs: Any,
) -> Job:
    """Enqueue a job by dotted path, so lower packages never import the job's module.

    With an explicit ``job_id`` the enqueue is unique: while a job with that id
    exists (waiting, running, or kept as a result) the existing job is returned.
    """
    q = get_queue(queue)
    if not job_id:
        return q.enqueue(
            func_path, args=args, kwargs=kwargs, retry=retry, job_timeout=job_timeout
        )
    try:
        return q.enqueue(
            func_path, args=args, kwargs=kwargs, job_id=job_id, unique=True, retry=retry,
            job_timeout=job_timeout,
        )  # fmt: skip
    except DuplicateJobError:
        return Job.fetch(job_id, connection=q.connection)


_worker_app: Flask | None = None


def job(func: Callable[P, R]) -> Callable[P, R]:
    """Run a job function inside an application context, creating the app once per process."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if has_app_context():
            return func(*args, **kwargs)
        global _worker_app
        if _worker_app is None:
            from app import create_app

            _worker_app = create_app()
        with _worker_app.app_context():
            return func(*args, **kwargs)

    return wrapper


JOB_KEY_PREFIX = b"rq:job:"
RESULTS_KEY_PREFIX = b"rq:results:"


def forget_jobs_mentioning(needles: Iterable[str]) -> int:
    """Delete every Redis key whose value carries one of ``needles`` (case-insensitive):
    jobs whose arguments or results hold them, with their results; returns how many.

    Jobs take ids, so such keys are rare; this is the erasure's guarantee, not a
    routine. RQ stores arguments zlib-compressed: values are read inflated too.
    """
    wanted = [needle.lower().encode() for needle in needles if needle]
    if not wanted:
        return 0
    redis = redis_connection()
    forgotten = 0
    for key in list(redis.scan_iter(count=1000)):
        if not any(needle in blob for blob in readable_values(redis, key) for needle in wanted):
            continue
        forgotten += 1
        if key.startswith(JOB_KEY_PREFIX):
            job_id = key[len(JOB_KEY_PREFIX) :].decode()
            with contextlib.suppress(NoSuchJobError):
                Job.fetch(job_id, connection=redis).delete()
            redis.delete(RESULTS_KEY_PREFIX + job_id.encode())
        redis.delete(key)
    if forgotten:
        # A snapshot on disk would still hold them until the next save.
        with contextlib.suppress(RedisError):
            redis.bgsave()
    return forgotten


def readable_values(redis: Redis, key: bytes) -> Iterator[bytes]:
    """A key's values, lower-cased, each also inflated when it is zlib data."""
    kind = redis.type(key)
    if kind == b"string":
        values = [redis.get(key)]
    elif kind == b"hash":
        values = list(redis.hgetall(key).values())
    elif kind == b"list":
        values = redis.lrange(key, 0, -1)
    elif kind == b"set":
        values = list(redis.smembers(key))
    elif kind == b"zset":
        values = redis.zrange(key, 0, -1)
    elif kind == b"stream":
        values = [v for _, entry in redis.xrange(key) for v in entry.values()]
    else:
        values = []
    for value in values:
        if not value:
            continue
        yield value.lower()
        try:
            inflated = zlib.decompress(value)
        except zlib.error:
            continue
        yield inflated.lower()
