"""Handing 10,000 qualified leads to the pipeline database, against bare inserts of the same rows.

    .venv/bin/python benchmarks/bench_handoff.py [--leads 10000] [--kills 5] [--seed 8]

Fresh SQLite databases with the real migrations; the leads are inserted already
qualified with their ledger rows (as the Promote button or the disposition
listener leaves them). Then, in this process:

- ``handoff``: ``sync.handoff.deliver_due`` for the pipeline target, the delivery
  job's own code: claim batches of 1,000, upsert account, contact and deal keyed by
  the idempotency key, record results and the lead's timeline;
- ``baseline``: the same accounts, contacts and deals written with bare
  ``executemany`` inserts into empty copies of the pipeline tables, one
  transaction, no ledger: the floor the hand-off cannot beat.

Then the kill run: the same number of new leads, delivered by forked processes
that are sent SIGKILL at random moments (``--kills`` times), each kill followed by
the claim leases running out, and a last clean delivery. It counts duplicates:
deals per lead beyond one, contacts per lead beyond one, hand-off timeline entries
per lead beyond one.

Then the CRM run: a stored HubSpot target is enabled, ``--crm-leads`` more leads are
qualified (rows for the pipeline and the CRM), the pipeline delivers them (so the CRM
gets deals too), and ``sync.handoff.deliver_due`` delivers the CRM target's rows, the
delivery job's own code, to a local HubSpot (the tests' fake, HubSpot's batch shapes)
that enforces a rolling-window rate limit with 429 and Retry-After. HubSpot allows
100 requests per 10 s; the window here is scaled down five times to 20 requests per
2 s (``--crm-limit``, ``--crm-window``): the same rate, a shorter run. The baseline is
the ceiling itself, limit / window requests per second; ``crm_ceiling_ratio`` is the
requests the server accepted per second over it (the library paces at 95%).

Target: handoff <= 5 s for 10,000 leads; crm_ceiling_ratio >= 0.9; duplicates = 0
(pipeline deals, contacts and hand-off entries per lead beyond one, plus contacts per
email and deals per lead beyond one at the CRM). The last line is
``handoff: leads=… seconds=… crm_ceiling_ratio=… duplicates=…``.
"""

from __future__ import annotations

import argparse
import atexit
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
_ROOT = Path(tempfile.mkdtemp(prefix="leadline-bench-handoff-"))
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)
os.environ["LEADLINE_INSTANCE_PATH"] = str(_ROOT / "instance")
os.environ["LEADLINE_ENV"] = "development"
for variable in ("DATABASE_URL", "PIPELINE_DATABASE_URL"):
    os.environ.pop(variable, None)

import sqlalchemy as sa  # noqa: E402
from flask_migrate import upgrade  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import utcnow  # noqa: E402
from app.users import default_workspace  # noqa: E402
from leads.models import Activity, Lead, LeadStatus  # noqa: E402
from sync.crm_targets import set_enabled  # noqa: E402
from sync.handoff import deliver_due, open_handoffs  # noqa: E402
from sync.models import (  # noqa: E402
    Account,
    Contact,
    Deal,
    Handoff,
    HandoffState,
    StoredCrmTarget,
)
from sync.targets import get_target  # noqa: E402


def add_qualified_leads(workspace_id: int, count: int, offset: int) -> list[int]:
    now = utcnow()
    rows = [{"workspace_id": workspace_id, "first_name": "Sam", "last_name": f"Lee{n}",
             "company": f"Company {n // 3}", "title": "Buyer", "email": f"sam{n}@example.com",
             "status": LeadStatus.QUALIFIED.value, "phone_time_zones": [], "other_phones": [],
             "custom_fields": {}, "created_at": now, "updated_at": now, "diallable": False,
             "email_valid": True} for n in range(offset, offset + count)]  # fmt: skip
    db.session.execute(sa.insert(Lead.__table__), rows)
    ids = db.session.scalars(
        sa.select(Lead.id).where(Lead.id > sa.func.coalesce(
            sa.select(sa.func.max(Handoff.lead_id)).scalar_subquery(), 0))
    ).all()  # fmt: skip
    open_handoffs(workspace_id, ids, None)
    db.session.commit()
    return list(ids)


def time_handoff() -> tuple[float, int]:
    target = get_target("pipeline")
    start = time.perf_counter()
    delivered = deliver_due(target, max_batches=1_000)
    return time.perf_counter() - start, delivered


def time_baseline(count: int) -> float:
    """Bare executemany of the same rows per lead into an empty pipeline database."""
    engine = sa.create_engine(f"sqlite:///{_ROOT / 'baseline.db'}")
    copies = [Account.__table__, Contact.__table__, Deal.__table__]
    db.metadatas["pipeline"].create_all(engine)
    now = utcnow()
    accounts = [{"id": n + 1, "workspace_id": 1, "name": f"Company {n}", "name_key": f"company {n}",
                 "created_at": now} for n in range(count // 3 + 1)]  # fmt: skip
    contacts = [{"id": n + 1, "workspace_id": 1, "account_id": n // 3 + 1, "lead_id": n + 1,
                 "name": f"Sam Lee{n}", "email": f"sam{n}@example.com", "created_at": now}
                for n in range(count)]  # fmt: skip
    deals = [{"workspace_id": 1, "handoff_key": f"{n:032x}", "lead_id": n + 1,
              "account_id": n // 3 + 1, "contact_id": n + 1, "pipeline_id": 1, "stage_id": 1,
              "title": f"Company {n // 3}", "value": 0, "currency": "USD", "outcome": "open",
              "created_at": now, "updated_at": now} for n in range(count)]  # fmt: skip
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        connection.exec_driver_sql("PRAGMA synchronous=NORMAL")
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # the floor: no stages to point at
        connection.commit()
        start = time.perf_counter()
        with connection.begin():
            for table, rows in zip(copies, (accounts, contacts, deals), strict=True):
                connection.execute(table.insert(), rows)
        seconds = time.perf_counter() - start
    engine.dispose()
    return seconds


def killed_deliveries(app, kills: int, chaos: random.Random) -> list[int]:
    """Delivery in forked processes, each killed with SIGKILL at a random moment;
    returns how many rows were delivered after each kill."""
    target = get_target("pipeline")
    progress = []
    for _ in range(kills):
        db.session.remove()
        pid = os.fork()
        if pid == 0:  # the child delivers until it is killed
            with app.app_context():
                deliver_due(target, max_batches=1_000)
            os._exit(0)
        time.sleep(chaos.uniform(0.2, 1.5))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        # The dead child's claims would wait out their lease; move past it.
        db.session.execute(
            sa.update(Handoff)
            .where(Handoff.state == HandoffState.PENDING.value)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        progress.append(db.session.scalar(
            sa.select(sa.func.count()).where(Handoff.state == HandoffState.DELIVERED.value)
        ))  # fmt: skip
    deliver_due(target, max_batches=1_000)
    return progress


def duplicates() -> int:
    def extra(column: sa.Column, *where) -> int:
        per_key = (
            sa.select(sa.func.count().label("n"))
            .select_from(column.table)
            .where(*where)
            .group_by(column)
            .subquery()
        )
        return db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(per_key.c.n - 1), 0)))

    handed = Activity.summary.like("Handed off to the pipeline%")
    return extra(Deal.lead_id) + extra(Contact.lead_id) + extra(Activity.lead_id, handed)


def crm_run(workspace_id: int, args) -> tuple[float, int]:
    """Deliver ``--crm-leads`` new leads to a rate-limited local HubSpot; (ratio, duplicates)."""
    import logging

    from pytest_httpserver import HTTPServer

    from tests.sync.crm.fake_hubspot import TOKEN, FakeHubSpot

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    fake = FakeHubSpot(limit=args.crm_limit, window=args.crm_window)
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    fake.install(server)
    server.start()
    try:
        stored = StoredCrmTarget(
            workspace_id=workspace_id, kind="hubspot", name="HubSpot", field_mapping={},
            settings={"token": TOKEN, "base_url": server.url_for("/"),
                      "requests_per_window": args.crm_limit, "window_seconds": args.crm_window},
        )  # fmt: skip
        db.session.add(stored)
        set_enabled(stored, True)
        db.session.commit()
        lead_ids = add_qualified_leads(workspace_id, args.crm_leads, 2 * args.leads)
        deliver_due(get_target("pipeline"), max_batches=1_000)
        target = get_target(stored.ledger_name)
        time.sleep(args.crm_window)  # nothing of the set-up left in the server's window
        fake.statuses.clear()
        start = time.perf_counter()
        delivered = deliver_due(target, max_batches=1_000)
        seconds = time.perf_counter() - start
    finally:
        server.stop()
    assert delivered == len(lead_ids), f"the CRM got {delivered} of {len(lead_ids)}"
    accepted = sum(n for status, n in fake.statuses.items() if status != 429)
    ratio = accepted / seconds / (args.crm_limit / args.crm_window)
    emails = [contact["email"] for contact in fake.objects["contacts"].values()]
    extra = len(emails) - len(set(emails)) + len(fake.objects["deals"]) - len(lead_ids)
    print(f"crm       {len(lead_ids):,} leads to a local HubSpot limited to {args.crm_limit} "
          f"requests per {args.crm_window:g} s (HubSpot: 100 per 10 s) in {seconds:.1f} s: "
          f"{accepted} requests accepted, {fake.statuses[429]} answered 429; "
          f"{accepted / seconds:.2f} requests/s of a {args.crm_limit / args.crm_window:g}/s "
          f"ceiling")  # fmt: skip
    return ratio, extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--crm-leads", type=int, default=3_000)
    parser.add_argument("--crm-limit", type=int, default=20, help="requests per window")
    parser.add_argument("--crm-window", type=float, default=2.0, help="seconds")
    args = parser.parse_args()
    app = create_app({"CHECK_CONNECTIONS": True})
    with app.app_context():
        upgrade()
        workspace_id = default_workspace().id
        db.session.commit()
        add_qualified_leads(workspace_id, args.leads, 0)
        seconds, delivered = time_handoff()
        assert delivered == args.leads, f"delivered {delivered} of {args.leads}"
        baseline = time_baseline(args.leads)
        print(f"handoff   {args.leads:,} leads in {seconds:.2f} s ({args.leads / seconds:,.0f}/s)")
        print(f"baseline  bare inserts of the same rows in {baseline:.2f} s")
        print(f"ratio     handoff takes {seconds / baseline:.1f}x the bare inserts")
        add_qualified_leads(workspace_id, args.leads, args.leads)
        progress = killed_deliveries(app, args.kills, random.Random(args.seed))
        left = db.session.scalar(
            sa.select(sa.func.count()).where(Handoff.state != HandoffState.DELIVERED.value)
        )
        assert left == 0, f"{left} rows not delivered after the kill run"
        found = duplicates()
        print(f"kills     {args.kills} SIGKILLs delivering {args.leads:,} more leads; rows "
              f"delivered (of {2 * args.leads:,}) after each: {progress}")  # fmt: skip
        ratio, crm_duplicates = crm_run(workspace_id, args)
        print(f"handoff: leads={args.leads} seconds={seconds:.2f} crm_ceiling_ratio={ratio:.3f} "
              f"duplicates={found + crm_duplicates}")  # fmt: skip
        db.session.remove()
    app.extensions["redis"].close()


if __name__ == "__main__":
    main()
