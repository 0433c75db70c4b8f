"""Save-and-next on the dial screen: concurrent callers through the real endpoints.

    .venv/bin/python benchmarks/bench_dial.py [--leads 1000000] [--callers 8] [--seconds 20]
                                              [--think-ms 0]

It builds fresh databases with the real migrations (SQLite in a temporary folder,
or new PostgreSQL databases beside DATABASE_URL when it is set), fills them with
``--leads`` diallable leads spread over ten North American area codes and owned
round-robin by ``--callers`` callers, and freezes the dial clock at a Wednesday
09:30 in New York, when Mountain, Pacific and Hawaiian leads wait for calling
hours: every claim has to step over them.

Then one process per caller signs in, opens the dial screen, claims a lead
(POST /dial/next) and repeats save-and-next (POST /dial/dispose: record the call,
claim the next lead) for ``--seconds``, timing each request's server time (the
WSGI call, in the process). Double claims are leads served more than once,
counted from the served ids and from the recorded calls.

Those callers never pause, so on a small machine the figures are mostly time spent
queueing for a core. ``--think-ms N`` adds a second run on the same database after
the first, in which each caller waits N ms between requests as a person reading the
card would; its figures print on their own line, labelled ``paced``. The last line
is always the no-pause run's.

The baseline, measured in this process afterwards on the same database, is the
bare claim: one UPDATE of the first fresh lead of a caller, through the partial
index, and its COMMIT.

Targets: server p95 <= 25 ms, double claims 0. The last line is
``dial: leads=… callers=… p50_ms=… p95_ms=… p99_ms=… double_claims=…``.
"""

from __future__ import annotations

import argparse
import atexit
import multiprocessing
import os
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

_INSTANCE = Path(tempfile.mkdtemp(prefix="leadline-bench-dial-"))
atexit.register(shutil.rmtree, _INSTANCE, ignore_errors=True)
os.environ["LEADLINE_INSTANCE_PATH"] = str(_INSTANCE)
os.environ["LEADLINE_ENV"] = "development"

import sqlalchemy as sa  # noqa: E402
from flask_migrate import upgrade  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import LoginSession, Role, utcnow  # noqa: E402
from app.users import create_user, default_workspace  # noqa: E402
from leads.dial_models import CallAttempt  # noqa: E402
from leads.models import Lead  # noqa: E402

# 14:30 UTC on a Wednesday: 09:30 New York, 08:30 Chicago, 07:30 Denver, 06:30 Los Angeles.
DIAL_NOW = "2026-01-14T14:30:00"
AREAS = (
    ("212", "America/New_York"), ("305", "America/New_York"), ("312", "America/Chicago"),
    ("214", "America/Chicago"), ("416", "America/Toronto"), ("303", "America/Denver"),
    ("602", "America/Phoenix"), ("213", "America/Los_Angeles"),
    ("206", "America/Los_Angeles"), ("808", "Pacific/Honolulu"),
)  # fmt: skip
BATCH = 5_000
_LEAD_ID = re.compile(r'data-lead-id="(\d+)"')
_TOKEN = re.compile(r'name="token" value="([0-9a-f]{32})"')
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


# -- databases ------------------------------------------------------------------


def database_config() -> dict[str, Any]:
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        return {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{_INSTANCE / 'bench.db'}",
            "SQLALCHEMY_BINDS": {"pipeline": f"sqlite:///{_INSTANCE / 'bench-pipeline.db'}"},
        }
    url = sa.make_url(re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+psycopg://", base))
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    names = [f"leadline_bench_{secrets.token_hex(4)}{suffix}" for suffix in ("", "_pipeline")]
    with admin.connect() as connection:
        for name in names:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            for name in names:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    atexit.register(drop)
    urls = [url.set(database=n).render_as_string(hide_password=False) for n in names]
    return {"SQLALCHEMY_DATABASE_URI": urls[0], "SQLALCHEMY_BINDS": {"pipeline": urls[1]}}


def lead_rows(count: int, workspace_id: int, owner_ids: list[int]):
    now = utcnow()
    for n in range(count):
        area, zone = AREAS[n % len(AREAS)]
        yield {
            "workspace_id": workspace_id, "owner_id": owner_ids[n % len(owner_ids)],
            "first_name": f"Lead{n}", "status": "new", "phone_raw": None,
            "phone_e164": f"+1{area}{2_000_000 + n // len(AREAS):07d}",
            "phone_region": "CA" if area == "416" else "US", "phone_time_zones": [zone],
            "time_zone": zone, "diallable": True, "other_phones": [], "email_valid": False,
            "custom_fields": {}, "created_at": now, "updated_at": now,
            "dial_attempts": 0, "dial_done": False,
        }  # fmt: skip


def build(app, leads: int, callers: int) -> list[int]:
    """Migrate, add the callers and their leads; returns the callers' login session ids."""
    with app.app_context():
        upgrade()
        workspace = default_workspace()
        users = [
            create_user(workspace, email=f"caller{i}@example.com", name=f"Caller {i}",
                        roles={Role.CALLER}, password=None)[0]
            for i in range(callers)
        ]  # fmt: skip
        db.session.commit()
        began, batch = time.perf_counter(), []
        for row in lead_rows(leads, workspace.id, [u.id for u in users]):
            batch.append(row)
            if len(batch) == BATCH:
                db.session.execute(sa.insert(Lead.__table__), batch)
                db.session.commit()
                batch = []
        if batch:
            db.session.execute(sa.insert(Lead.__table__), batch)
            db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(sa.text("VACUUM ANALYZE leads"))
        print(f"built {leads} leads in {time.perf_counter() - began:.1f} s", flush=True)
        sessions = []
        for user in users:
            row = LoginSession(id=secrets.token_urlsafe(32), user_id=user.id)
            db.session.add(row)
            sessions.append(row.id)
        db.session.commit()
        return sessions


# -- one caller -------------------------------------------------------------------


def caller(config: dict, session_id: str, seconds: float, think: float, results) -> None:
    times: list[tuple[float, float]] = []
    served: list[int] = []
    try:
        work(config, session_id, seconds, think, times, served)
    except Exception as exc:  # reported by the parent, whatever it is
        results.put((times, served, repr(exc)))
    else:
        results.put((times, served, None))


def work(
    config: dict, session_id: str, seconds: float, think: float, times: list, served: list
) -> None:
    app = create_app(config)
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = session_id
        session["_fresh"] = True
    page = client.get("/dial/session").get_data(as_text=True)
    headers = {"HX-Request": "true", "X-CSRFToken": _CSRF.search(page).group(1)}
    card = client.post("/dial/next", headers=headers).get_data(as_text=True)
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        token, lead_id = _TOKEN.search(card), _LEAD_ID.search(card)
        if token is None or lead_id is None:
            break  # the queue ran dry
        served.append(int(lead_id.group(1)))
        data = {"token": token.group(1), "outcome": "no_answer", "duration": "30"}
        began, cpu = time.perf_counter(), time.process_time()
        response = client.post("/dial/dispose", data=data, headers=headers)
        # Server time, and the CPU this process spent on it (queueing for a core excluded).
        times.append((time.perf_counter() - began, time.process_time() - cpu))
        if response.status_code != 200:
            raise RuntimeError(f"save-and-next answered {response.status}")
        card = response.get_data(as_text=True)
        if think:
            time.sleep(think)


# -- the baseline -----------------------------------------------------------------


def bare_claims(app, count: int) -> list[float]:
    """The floor: one conditional UPDATE of a caller's first fresh lead, and COMMIT."""
    statement = sa.text(
        "UPDATE leads SET dial_lease_token = :token, dial_leased_by_id = :owner, "
        "dial_lease_until = :until WHERE id = (SELECT id FROM leads WHERE workspace_id = :ws "
        "AND owner_id = :owner AND dial_attempts = 0 AND dial_done = false "
        "AND dial_lease_token IS NULL ORDER BY id LIMIT 1)"
    )
    with app.app_context():
        owner, workspace = db.session.execute(
            sa.select(Lead.owner_id, Lead.workspace_id).limit(1)
        ).one()
        db.session.commit()
        times = []
        for _ in range(count):
            began = time.perf_counter()
            db.session.execute(
                statement,
                {"token": secrets.token_hex(16), "owner": owner, "ws": workspace,
                 "until": utcnow()},
            )  # fmt: skip
            db.session.commit()
            times.append(time.perf_counter() - began)
        return times


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--callers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--think-ms", type=float, default=0.0)
    args = parser.parse_args()
    config = {**database_config(), "DIAL_NOW": DIAL_NOW}
    app = create_app(config)
    config["REDIS_URL"] = app.config["REDIS_URL"]  # the callers share this process's Redis
    sessions = build(app, args.leads, args.callers)
    timed, served = run_callers(config, sessions, args.seconds, think=0.0)
    times, cpu = [wall for wall, _ in timed], [spent for _, spent in timed]
    paced = []
    if args.think_ms:
        paced_timed, paced_served = run_callers(
            config, sessions, args.seconds, args.think_ms / 1000
        )
        paced = [wall for wall, _ in paced_timed]
        served += paced_served
    with app.app_context():
        calls = db.session.scalar(sa.select(sa.func.count(CallAttempt.id)))
        called = db.session.scalar(sa.select(sa.func.count(sa.distinct(CallAttempt.lead_id))))
    double_claims = (len(served) - len(set(served))) + (calls - called)
    baseline = bare_claims(app, 2_000)
    p50 = percentile(times, 0.50)
    if paced:
        print(
            f"paced: think_ms={args.think_ms:.0f} requests={len(paced)} "
            f"p50_ms={percentile(paced, 0.50):.2f} p95_ms={percentile(paced, 0.95):.2f} "
            f"p99_ms={percentile(paced, 0.99):.2f}"
        )
    print(
        f"database={sa.make_url(config['SQLALCHEMY_DATABASE_URI']).get_backend_name()} "
        f"requests={len(times)} throughput={len(times) / args.seconds:.0f}/s "
        f"bare_claim_p50_ms={percentile(baseline, 0.5):.3f} "
        f"ratio_p50_vs_bare_claim={p50 / percentile(baseline, 0.5):.1f} "
        f"mean_ms={statistics.fmean(times) * 1000:.2f} "
        f"cpu_ms_p50={percentile(cpu, 0.50):.2f} cpu_ms_mean={statistics.fmean(cpu) * 1000:.2f}"
    )
    print(
        f"dial: leads={args.leads} callers={args.callers} p50_ms={p50:.2f} "
        f"p95_ms={percentile(times, 0.95):.2f} p99_ms={percentile(times, 0.99):.2f} "
        f"double_claims={double_claims}"
    )


def run_callers(
    config: dict, sessions: list[str], seconds: float, think: float
) -> tuple[list[tuple[float, float]], list[int]]:
    """One process per caller for ``seconds``; their (server, CPU) times and the leads served."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    processes = [
        context.Process(target=caller, args=(config, s, seconds, think, results)) for s in sessions
    ]
    for process in processes:
        process.start()
    times, served, errors = [], [], []
    for _ in processes:
        chunk_times, chunk_served, error = results.get(timeout=seconds + 300)
        times += chunk_times
        served += chunk_served
        errors += [error] if error else []
    if errors:
        sys.exit("callers failed: " + "; ".join(errors))
    for process in processes:
        process.join(timeout=60)
    return times, served


if __name__ == "__main__":
    main()
