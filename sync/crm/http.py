"""HTTP for CRM targets: one session per client, a timeout on every call, a rate limit
shared by every process through Redis, and retries that back off and honour Retry-After.

Errors come out as three kinds the targets understand: `AuthFailed` (the token is
wrong: nothing will work until an admin fixes it), `Rejected` (this request's data
was refused: retrying cannot help) and `Transient` (down, slow or throttling: try
again after `retry_after` seconds).
"""

from __future__ import annotations

import email.utils
import hashlib
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from redis import Redis

# Seconds; overridable per target in its settings.
DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_ATTEMPTS = 4
DEFAULT_BACKOFF_BASE = 1.0
DEFAULT_BACKOFF_CAP = 30.0
DEFAULT_MAX_WAIT = 60.0
# Pace at this share of the vendor's limit: the rest absorbs clock and network jitter,
# so a sliding-window limit on the vendor's side is never crossed.
PACING_SHARE = 0.95
# Each 429 slows the pace by this share of the rate, down to at most MAX_SLOWDOWN; the
# slowdown wears off by one percent every RECOVERY_WINDOWS windows without a 429.
SLOWDOWN_STEP = 0.05
MAX_SLOWDOWN = 0.2
RECOVERY_WINDOWS = 10


class VendorError(Exception):
    def __init__(self, message: str, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = body


class AuthFailed(VendorError):
    """401/403: the credentials are wrong or lack a permission."""


class Rejected(VendorError):
    """400/404/422 and other 4xx: the vendor refused this request's data."""


class Transient(VendorError):
    """5xx, 429, timeouts, unreadable replies: worth trying again later."""

    def __init__(self, message: str, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: requests.structures.CaseInsensitiveDict


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with jitter; Retry-After is a floor, never shortened."""

    base: float = DEFAULT_BACKOFF_BASE
    cap: float = DEFAULT_BACKOFF_CAP

    def delay(self, attempt: int, at_least: float | None = None) -> float:
        ceiling = min(self.cap, self.base * 2 ** (attempt - 1))
        # "Equal jitter": never less than half the step, so retries cannot bunch at zero.
        return max(at_least or 0.0, random.uniform(ceiling / 2, ceiling))


# A token bucket that lends ahead: a caller takes a token even when none is left and
# is told how long to wait for it, so waiters queue in order without polling. Redis's
# clock is the one clock for every process. After a 429 every caller waits out the
# vendor's Retry-After (`ts` moves into the future), and the pace drops by a step
# (`slow`) that wears off slowly: another app may be spending the same account's
# limit, or the vendor counts differently than we do.
_SLOWDOWN = """
local function slowdown(state_slow, state_slow_ts, now, recovery)
  local slow = tonumber(state_slow) or 0
  local since = now - (tonumber(state_slow_ts) or now)
  return math.max(0, slow - since * recovery)
end
"""

_ACQUIRE_BODY = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local capacity = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'slow', 'slow_ts')
local rate = tonumber(ARGV[1]) * (1 - slowdown(state[3], state[4], now, tonumber(ARGV[3])))
local tokens, ts = tonumber(state[1]) or capacity, tonumber(state[2]) or now
if ts > now then
  tokens = tokens - 1
else
  tokens = math.min(capacity, tokens + (now - ts) * rate) - 1
  ts = now
end
local due = ts
if tokens < 0 then due = ts - tokens / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
-- Kept while slots are owed or a wait is on, and ten idle minutes for the slowdown.
redis.call('PEXPIRE', KEYS[1], math.ceil((due - now + 600) * 1000))
return {tostring(now), tostring(due)}
"""

_BLOCK_BODY = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local seconds, recovery = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'ts', 'slow', 'slow_ts', 'tokens')
local slow = slowdown(state[2], state[3], now, recovery) + tonumber(ARGV[3])
slow = math.min(tonumber(ARGV[4]), slow)
redis.call('HSET', KEYS[1], 'slow', tostring(slow), 'slow_ts', tostring(now))
if now + seconds > (tonumber(state[1]) or 0) then
  -- Slots already lent stay owed: they are added after the wait, never forgiven.
  local tokens = math.min(1, tonumber(state[4]) or 1)
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now + seconds))
end
redis.call('PEXPIRE', KEYS[1], math.ceil((seconds + 600) * 1000))
return 1
"""

# Called when a sleeper wakes to use its slot. A 429 seen meanwhile voids the slot.
# A sleeper woken late (a busy machine) sends late, closer to the next slot than the
# pace allows. Up to `tolerance` seconds that is what the pace's margin is for; past
# it, the slots not yet handed out move back by the excess, so no window on the
# vendor's side holds more than the limit.
_CONFIRM_BODY = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local taken, due, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[5])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'slow', 'slow_ts')
if (tonumber(state[3]) or 0) > taken then return 'void' end
local late = now - due - tolerance
if late > 0 and state[1] then
  local rate = tonumber(ARGV[3]) * (1 - slowdown(state[2], state[3], now, tonumber(ARGV[4])))
  redis.call('HSET', KEYS[1], 'tokens', tostring(tonumber(state[1]) - late * rate))
end
return 'ok'
"""

_ACQUIRE = _SLOWDOWN + _ACQUIRE_BODY
_BLOCK = _SLOWDOWN + _BLOCK_BODY
_CONFIRM = _SLOWDOWN + _CONFIRM_BODY


@dataclass(frozen=True)
class Slot:
    due: float  # on Redis's clock, the same for every process
    wait: float  # seconds from the reservation until it is due
    taken: float  # when it was reserved, on Redis's clock


class RateLimiter:
    """At most ``limit`` requests per ``window`` seconds for one key, across processes."""

    def __init__(self, redis: Redis, key: str, limit: int, window: float) -> None:
        self.redis = redis
        self.key = f"leadline:crm:bucket:{key}"
        self.rate = limit * PACING_SHARE / window
        # Any window then holds at most capacity + rate × window requests: the burst
        # takes half the margin under the limit, the other half absorbs requests that
        # reach the vendor later than others (a busy machine, a slow connection).
        self.capacity = max(1, math.floor(limit * (1 - PACING_SHARE) / 2))
        self.recovery = 0.01 / (RECOVERY_WINDOWS * window)  # slowdown shed per second
        # How late a request may reach the vendor without a window holding limit + 1
        # (52 ms at 10 per 1 s, 420 ms at 100 per 10 s); a late wake-up may use half.
        slack = (limit + 1 - self.capacity) / self.rate - window
        self.late_tolerance = max(slack / 2, 0.0)
        self._acquire = redis.register_script(_ACQUIRE)
        self._block = redis.register_script(_BLOCK)
        self._confirm = redis.register_script(_CONFIRM)

    def reserve(self) -> Slot:
        """Take the next slot without waiting for it."""
        args = [self.rate, self.capacity, self.recovery]
        now, due = self._acquire(keys=[self.key], args=args)
        return Slot(due=float(due), wait=max(float(due) - float(now), 0.0), taken=float(now))

    def acquire(self) -> Slot:
        """Take the next slot and sleep until it is due.

        A 429 seen by another process while this one slept voids the slot: the
        vendor's window is full, so the request waits for a slot after the block. A
        late wake-up moves the slots not yet handed out back by the lateness.
        """
        while True:
            slot = self.reserve()
            if slot.wait > 0:
                time.sleep(slot.wait)
            if self.confirm(slot):
                return slot

    def confirm(self, slot: Slot) -> bool:
        """Whether a slot whose time has come may be used (see `acquire`)."""
        args = [slot.taken, slot.due, self.rate, self.recovery, self.late_tolerance]
        return self._confirm(keys=[self.key], args=args) in (b"ok", "ok")

    def block(self, seconds: float) -> None:
        """Hold every process back for ``seconds`` (the vendor said so), then go slower."""
        args = [max(seconds, 0.0), self.recovery, SLOWDOWN_STEP, MAX_SLOWDOWN]
        self._block(keys=[self.key], args=args)


def limiter_key(kind: str, credential: str) -> str:
    """A bucket per vendor account: the vendor limits per token, so do we."""
    return f"{kind}:{hashlib.sha256(credential.encode()).hexdigest()[:16]}"


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


@dataclass
class RetryPolicy:
    timeout: float = DEFAULT_TIMEOUT
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff: Backoff = Backoff()
    # A wait longer than this is not slept in the worker: the items go back to the
    # ledger as "retry" with the delay instead.
    max_wait: float = DEFAULT_MAX_WAIT

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> RetryPolicy:
        return cls(
            timeout=float(settings.get("timeout_seconds", DEFAULT_TIMEOUT)),
            max_attempts=int(settings.get("max_attempts", DEFAULT_MAX_ATTEMPTS)),
            backoff=Backoff(
                float(settings.get("backoff_base", DEFAULT_BACKOFF_BASE)),
                float(settings.get("backoff_cap", DEFAULT_BACKOFF_CAP)),
            ),
            max_wait=float(settings.get("max_wait_seconds", DEFAULT_MAX_WAIT)),
        )


class HttpClient:
    """Calls one vendor's API; ``error_message`` reads the vendor's error body."""

    def __init__(
        self,
        vendor: str,
        base_url: str,
        headers: dict[str, str],
        limiter: RateLimiter | None,
        policy: RetryPolicy,
        error_message: Callable[[Any], str | None],
    ) -> None:
        self.vendor = vendor
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update(headers)
        self.limiter = limiter
        self.policy = policy
        self.error_message = error_message
        self.expects_json = True
        self.requests_sent = 0
        self.throttled = 0  # 429 answers seen

    def request(self, method: str, path: str, **kwargs: Any) -> Reply:
        """Send with retries; a Reply for 2xx, else AuthFailed, Rejected or Transient."""
        attempt = 0
        while True:
            attempt += 1
            error = self._attempt(method, path, **kwargs)
            if isinstance(error, Reply):
                return error
            delay = self.policy.backoff.delay(attempt, error.retry_after)
            if attempt >= self.policy.max_attempts or delay > self.policy.max_wait:
                error.retry_after = delay
                raise error
            time.sleep(delay)

    def _attempt(self, method: str, path: str, **kwargs: Any) -> Reply | Transient:
        if self.limiter:
            self.limiter.acquire()
        self.requests_sent += 1
        try:
            response = self.session.request(
                method, self.base_url + path, timeout=self.policy.timeout, **kwargs
            )
        except requests.Timeout:
            return Transient(f"{self.vendor} did not answer within {self.policy.timeout:g} s.")
        except requests.RequestException as exc:
            return Transient(f"Could not reach {self.vendor}: {type(exc).__name__}.")
        return self._read(response)

    def _read(self, response: requests.Response) -> Reply | Transient:
        status = response.status_code
        body = _json_or_none(response)
        if status < 300:
            if body is None and response.content and self.expects_json:
                return Transient(f"{self.vendor} sent a reply that is not valid JSON.")
            return Reply(status, body, response.headers)
        message = self.error_message(body) or response.text[:300] or response.reason
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        if status == 429:
            self.throttled += 1
            if self.limiter:
                self.limiter.block(retry_after or self.policy.backoff.base)
            return Transient(f"{self.vendor} is rate limiting: {message}", retry_after)
        if status >= 500 or status == 408:
            return Transient(f"{self.vendor} answered {status}: {message}", retry_after)
        if status in (401, 403):
            raise AuthFailed(f"{self.vendor} refused the credentials: {message}", status, body)
        raise Rejected(f"{self.vendor} rejected the request: {message}", status, body)


def _json_or_none(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None
