"""The shared rate limit (two real processes on one Redis), backoff and Retry-After."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from email.utils import formatdate
from pathlib import Path

import pytest

from sync.crm.http import Backoff, RateLimiter, retry_after_seconds

ROOT = Path(__file__).resolve().parents[3]
# Each process takes its slots, sleeping until each is due, and prints when each was
# due on Redis's clock. (The time it woke up would also measure how late a busy
# machine wakes a sleeper.)
_TAKER = """
import json, sys
from redis import Redis
from sync.crm.http import RateLimiter
limiter = RateLimiter(Redis.from_url(sys.argv[1]), "test:shared", 10, 1.0)
print(json.dumps([limiter.acquire().due for _ in range(int(sys.argv[2]))]))
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
    slot = limiter.acquire()

    assert slot.wait >= 0.39 and time.monotonic() - started >= 0.39


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


def test_a_429_slows_the_pace_for_every_caller_and_keeps_what_is_owed(redis):
    limiter = RateLimiter(redis, "test:slow", 20, 1.0)
    other_process = RateLimiter(redis, "test:slow", 20, 1.0)
    before = [other_process.reserve().due for _ in range(20)]

    limiter.block(0)
    after = [other_process.reserve().due for _ in range(20)]

    # One slot at once and 19 at 19/s. After the 429 the pace is 19 × 0.95/s, and the
    # 19 slots already lent are still owed: 39 slots from the start at the new pace.
    slower = 19 * 0.95
    assert before[-1] - before[0] == pytest.approx(19 / 19, abs=0.02)
    assert after[0] - before[0] == pytest.approx(20 / slower, abs=0.02)
    assert after[-1] - before[0] == pytest.approx(39 / slower, abs=0.02)


def test_a_slot_taken_before_a_429_is_not_used_after_it(redis):
    limiter = RateLimiter(redis, "test:void", 10, 1.0)
    limiter.acquire()  # the next slot is due in about 0.1 s
    sleeper: list = []
    waiting = threading.Thread(target=lambda: sleeper.append(limiter.acquire()))
    waiting.start()
    time.sleep(0.03)
    blocked_from = time.time()
    RateLimiter(redis, "test:void", 10, 1.0).block(0.5)  # another process got a 429

    waiting.join(timeout=5)

    assert time.time() - blocked_from >= 0.45
    assert sleeper[0].taken > blocked_from  # a fresh slot, taken after the block (same clock)


def test_a_late_sender_moves_the_slots_not_yet_handed_out(redis):
    limiter = RateLimiter(redis, "test:late", 20, 1.0)  # 19 slots a second
    first, second = limiter.reserve(), limiter.reserve()
    time.sleep(first.wait + 0.2)  # woken 0.2 s late, as on a busy machine

    assert limiter.confirm(first)
    third = limiter.reserve()

    assert second.due - first.due == pytest.approx(1 / 19, abs=0.01)
    # Half the margin (21 slots need 20/19 s, 53 ms more than the window) is allowed.
    excess = 0.2 - (20 / 19 - 1) / 2
    assert third.due - second.due == pytest.approx(1 / 19 + excess, abs=0.03)
