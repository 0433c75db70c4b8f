"""How close the HubSpot target runs to a vendor rate limit, from several worker processes.

    .venv/bin/python benchmarks/bench_crm.py                 # 20 requests per 2 s, 2 workers, 40 s
    .venv/bin/python benchmarks/bench_crm.py --limit 10 --window 1
    .venv/bin/python benchmarks/bench_crm.py --limit 100 --window 10 --seconds 60
    .venv/bin/python benchmarks/bench_crm.py --full          # companies, deals, associations too

A local HubSpot (the tests' fake: HubSpot's batch shapes, batches of at most 100, a
rolling-window limit answering 429 with Retry-After) runs in this process. ``--workers``
processes each build a `HubSpotTarget` with the same token, so they share one rate
limit in Redis (``REDIS_URL``, else an embedded server in a temporary folder), and
deliver their share of the items in batches of 100.

HubSpot's limit is 100 requests per 10 s; by default the window is scaled down five
times, to 20 requests per 2 s: the same rate, and a run takes under a minute. The
limiter paces at 95% of the limit, so the time a request may reach the server late
without crossing the window shrinks with the window: about 420 ms at 100 per 10 s,
105 ms at 20 per 2 s, 52 ms at 10 per 1 s, which a loaded two-core machine's
scheduling delays exceed now and then (one 429, then a slower pace).

Before the clock starts each worker opens its connection with the target's
``check()``, as the admin's "test connection" does; ``--cold`` skips that.

The baseline is the ceiling itself, ``limit / window`` requests per second: the
ratio is the requests the server accepted per second over it. Targets: ratio >= 0.9
and at most one 429. The last line is ``crm: items=… requests=… seconds=…
crm_ceiling_ratio=… http_429=…``, printed only when every item was delivered and the
server holds every contact.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))


def deliver_share(redis_url: str, base_url: str, args: dict, first: int, last: int, go, out):
    """Worker process: build the target, wait for the start, deliver items first..last-1."""
    from redis import Redis

    from sync.crm import target_for
    from tests.sync.crm.fake_hubspot import TOKEN

    settings = {
        "token": TOKEN,
        "base_url": base_url,
        "requests_per_window": args["limit"],
        "window_seconds": args["window"],
        "batch_size": 100,
    }
    target = target_for("hubspot", settings, None, redis=Redis.from_url(redis_url))
    if args["warm"]:
        target.check()  # opens the connection, as the admin's "test connection" would
    out.put("ready")
    go.wait()
    outcomes: dict[str, int] = {}
    for start in range(first, last, 100 * 5):  # the ledger hands over ~500 items a job
        items = [_item(n, args["full"]) for n in range(start, min(start + 500, last))]
        for result in target.deliver(items):
            outcomes[str(result.outcome)] = outcomes.get(str(result.outcome), 0) + 1
    out.put((outcomes, target.client.requests_sent - args["warm"], target.client.throttled))


def _item(number: int, full: bool):
    from decimal import Decimal

    from sync.crm import HandoffItem

    extra = {}
    if full:
        extra = {
            "company": f"Company {number // 3}",
            "deal_name": f"Deal {number}",
            "deal_value": Decimal(number),
            "deal_currency": "USD",
        }
    return HandoffItem(
        key=f"bench-{number}",
        email=f"person{number}@example.com",
        first_name="Pat",
        last_name=f"Lee{number}",
        **extra,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=20, help="requests per window (HubSpot: 100)")
    parser.add_argument("--window", type=float, default=2.0, help="seconds (HubSpot: 10)")
    parser.add_argument("--seconds", type=float, default=40.0, help="about how long to run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--full", action="store_true", help="companies, deals and associations")
    parser.add_argument(
        "--cold", dest="warm", action="store_false", help="no connection opened before the start"
    )
    args = parser.parse_args()

    import logging

    from pytest_httpserver import HTTPServer
    from redis import Redis

    from sync.crm.http import PACING_SHARE, limiter_key
    from tests.sync.crm.fake_hubspot import TOKEN, FakeHubSpot

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    ceiling = args.limit / args.window
    requests_per_batch = 6 if args.full else 1
    items = int(args.seconds * ceiling * PACING_SHARE / requests_per_batch) * 100
    redis_url, stop_redis = _redis()
    try:
        Redis.from_url(redis_url).delete(f"leadline:crm:bucket:{limiter_key('hubspot', TOKEN)}")
        fake = FakeHubSpot(limit=args.limit, window=args.window)
        server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        fake.install(server)
        server.start()
        try:
            totals, seconds = _run(args, redis_url, server.url_for("/"), items, fake)
        finally:
            server.stop()
    finally:
        stop_redis()
    _report(args, fake, totals, seconds, items, ceiling)


def _run(args, redis_url: str, base_url: str, items: int, fake):
    context = multiprocessing.get_context("spawn")
    go, out = context.Event(), context.Queue()
    share = -(-items // args.workers)
    workers = [
        context.Process(
            target=deliver_share,
            args=(redis_url, base_url, vars(args), first, min(first + share, items), go, out),
        )
        for first in range(0, items, share)
    ]
    for worker in workers:
        worker.start()
    for _ in workers:  # every worker has built its target (and opened its connection)
        out.get(timeout=120)
    time.sleep(args.window)  # the warm-up requests leave the server's window
    fake.statuses.clear()
    started = time.monotonic()
    go.set()
    totals = [out.get(timeout=600) for _ in workers]
    seconds = time.monotonic() - started
    for worker in workers:
        worker.join()
    return totals, seconds


def _report(args, fake, totals, seconds: float, items: int, ceiling: float) -> None:
    outcomes: dict[str, int] = {}
    for counts, _sent, _throttled in totals:
        for outcome, count in counts.items():
            outcomes[outcome] = outcomes.get(outcome, 0) + count
    accepted = sum(n for status, n in fake.statuses.items() if status != 429)
    http_429 = fake.statuses[429]
    ratio = accepted / seconds / ceiling
    print(
        f"scaled window: {args.limit} requests per {args.window:g} s "
        f"(HubSpot: 100 per 10 s); workers={args.workers} full={args.full}"
    )
    print(f"outcomes: {outcomes} contacts_on_server={len(fake.objects['contacts'])}")
    print(
        f"sent: {sum(t[1] for t in totals)} throttled_seen_by_clients={sum(t[2] for t in totals)}"
    )
    if outcomes != {"delivered": items} or len(fake.objects["contacts"]) != items:
        sys.exit("not every item was delivered: no figures")
    print(
        f"crm: items={items} requests={accepted} seconds={seconds:.2f} "
        f"crm_ceiling_ratio={ratio:.3f} http_429={http_429}"
    )


def _redis():
    """REDIS_URL, or an embedded server in a temporary folder, stopped at the end."""
    import os

    if url := os.environ.get("REDIS_URL"):
        return url, lambda: None
    from app.embedded_redis import EmbeddedRedis

    folder = Path(tempfile.mkdtemp(prefix="leadline-bench-crm-"))
    server = EmbeddedRedis(folder)
    server.start()

    def stop() -> None:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)

    return server.url, stop


if __name__ == "__main__":
    main()
