"""Fixed-window rate limits counted in Redis, so every web process shares one count."""

from __future__ import annotations

from dataclasses import dataclass

from app.queue import redis_connection


@dataclass(frozen=True)
class RateLimit:
    """At most ``limit`` hits per ``window`` seconds for each key.

    The window starts at a key's first hit and is not extended by later ones, so a
    client that keeps knocking is let in again when the window ends. Hits over the
    limit are counted too: that costs nothing and keeps the arithmetic simple.
    """

    name: str
    limit: int
    window: int

    def hit(self, key: str) -> int | None:
        """Count one hit; the seconds to wait when it is over the limit, else None."""
        redis = redis_connection()
        name = f"leadline:rate:{self.name}:{key}"
        # MULTI/EXEC: the three commands see the same key, so the count and its
        # TTL belong to one window (SET NX EX then INCR keeps the TTL).
        with redis.pipeline(transaction=True) as pipe:
            pipe.set(name, 0, ex=self.window, nx=True)
            pipe.incr(name)
            pipe.ttl(name)
            _, count, ttl = pipe.execute()
        if ttl < 0:
            # The key expired between two hits on an older Redis and INCR made it
            # anew without a TTL; without this it would block the key for ever.
            redis.expire(name, self.window)
            ttl = self.window
        if int(count) > self.limit:
            return max(int(ttl), 1)
        return None

    def reset(self, key: str) -> None:
        redis_connection().delete(f"leadline:rate:{self.name}:{key}")
