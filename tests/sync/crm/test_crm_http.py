"""The shared rate limit (two real processes on one Redis), backoff and Retry-After."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from email.utils import formatdate
from pathlib import Path

import pytest

from sync.crm.http import Backoff, RateLimiter, retry_after_seconds

ROOT = Path(__file__).resolve().parents[3]
# Each process takes its slots and prints the time each was given for. (The time it
# woke up would also measure how late a busy machine wakes a sleeper.)
_TAKER = """
import json, sys, time
from redis import Redis
from sync.crm.http import RateLimiter
limiter = RateLimiter(Redis.from_url(sys.argv[1]), "test:shared", 10, 1.0)
stamps = []
for _ in range(int(sys.argv[2])):
    asked = time.time()
    stamps.append(asked + limiter.acquire())
print(json.dumps(stamps))
"""


def test_two_processes_together_stay_under_the_limit(app):
    url = app.config["REDIS_URL"]
    takers = [
        subprocess.Popen(
            [sys.executable, "-c", _TAKER, url, "15"], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    stamps = sorted(t for p in takers for t in json.loads(p.communicate(timeout=60)[0]))

    assert len(stamps) == 30
    busiest = max(sum(1 for t in stamps if start <= t < start + 1.0) for start in stamps)
    assert busiest <= 10
    # 30 slots at 9.5/s after a burst of one: close to the ceiling, not far below it.
    assert stamps[-1] - stamps[0] < 30 / 9.5 + 0.5


def test_a_block_holds_every_caller_back(redis):
    limiter = RateLimiter(redis, "test:block", 100, 1.0)
    limiter.acquire()

    limiter.block(0.4)
    started = time.monotonic()
    limiter.acquire()

    assert time.monotonic() - started >= 0.35


def test_a_single_caller_is_paced_at_the_share_of_the_limit(redis):
    limiter = RateLimiter(redis, "test:pace", 20, 1.0)
    started = time.monotonic()
    for _ in range(20):
        limiter.acquire()

    # One slot up front, then 19 at 19 per second.
    assert 0.9 <= time.monotonic() - started < 1.3


def test_backoff_grows_is_capped_and_jittered():
    backoff = Backoff(base=1.0, cap=8.0)
    delays = [[backoff.delay(attempt) for _ in range(200)] for attempt in range(1, 7)]

    for attempt, seen in enumerate(delays, start=1):
        step = min(8.0, 2 ** (attempt - 1))
        assert all(step / 2 <= d <= step for d in seen)
        assert len(set(seen)) > 100  # jittered, so workers do not retry in step
    assert backoff.delay(1, at_least=30) == 30


@pytest.mark.parametrize(
    ("header", "seconds"), [("3", 3), ("0.5", 0.5), (None, None), ("soon", None), ("-4", 0)]
)
def test_retry_after_in_seconds(header, seconds):
    assert retry_after_seconds(header) == seconds


def test_retry_after_as_an_http_date():
    assert 8 <= retry_after_seconds(formatdate(time.time() + 10, usegmt=True)) <= 10


def test_a_429_slows_the_pace_for_every_caller(redis):
    limiter = RateLimiter(redis, "test:slow", 20, 1.0)
    other_process = RateLimiter(redis, "test:slow", 20, 1.0)

    def span_of(count: int) -> float:
        """Seconds between the first and the last slot given (not when sleepers woke)."""
        slots = []
        for _ in range(count):
            asked = time.time()
            slots.append(asked + other_process.acquire())
        return slots[-1] - slots[0]

    before = span_of(20)
    limiter.block(0)
    after = span_of(20)

    # 19 slots at 19/s, then 19 at 19 × 0.95/s.
    assert before == pytest.approx(1.0, abs=0.03)
    assert after == pytest.approx(1 / 0.95, abs=0.03)
