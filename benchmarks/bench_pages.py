"""The leads page at a million leads in SQLite, against a bare Flask page.

    .venv/bin/python benchmarks/bench_pages.py [--leads 1000000] [--rounds 5]
        [--seconds-per-round 2] [--db-dir DIR] [--keep] [--diagnose]

Both pages are served in this process, in alternating rounds, through plain WSGI
calls (no server, no sockets), so the ratio compares what the app does per
request with what any Flask page costs:

- list: GET /leads?status=new as a signed-in admin: login session, role check,
  the keyset query, the owner and list look-ups and the full Jinja page;
- bare: a Flask route rendering a 50-row table from a list in memory with Jinja.

Extra lines compare a deep page (?after=<id near the end>), a search (?q=smith)
and the htmx fragment of the list with the same bare page.

The target is list/bare >= 0.5. The last line is
``pages: leads=… list_rps=… bare_rps=… ratio=…``.
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import io
import os
import pstats
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

# The app reads these when it is created: keep the developer's instance/ folder
# (databases, secret key, embedded Redis) out of the benchmark.
_INSTANCE = Path(tempfile.mkdtemp(prefix="leadline-bench-instance-"))
atexit.register(shutil.rmtree, _INSTANCE, ignore_errors=True)
os.environ["LEADLINE_INSTANCE_PATH"] = str(_INSTANCE)
os.environ["LEADLINE_ENV"] = "development"

import sqlalchemy as sa  # noqa: E402
from flask import Flask, render_template  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from jinja2 import DictLoader  # noqa: E402
from werkzeug.test import EnvironBuilder  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import LoginSession, Role, utcnow  # noqa: E402
from app.users import default_workspace  # noqa: E402
from leads.demo import (  # noqa: E402
    DAYS_OF_HISTORY,
    OWNER_ROLES,
    batched,
    ensure_demo_lists,
    ensure_demo_team,
    ensure_demo_users,
    generate_lead_rows,
)
from leads.models import Lead, LeadStatus  # noqa: E402

DB_NAME, PIPELINE_NAME = "bench-leads.db", "bench-pipeline.db"
SEED = 42
# Normalizing a lead costs ~0.15 ms; a million would take minutes. A pool of
# real generated rows is varied instead: another surname, the email with a
# "+n" tag, a US/Canadian number moved to another exchange.
POOL_SIZE = 20_000
INSERT_BATCH = 1_000
COMMIT_EVERY = 50_000
PROGRESS_EVERY = 100_000
# Exchanges for the copies: any but the N11 service codes and the pool's own 555.
EXCHANGES = tuple(str(n) for n in range(201, 1000) if n % 100 != 11 and n != 555)

BARE_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Leads</title></head>
<body><main><h1>Leads</h1>
<table class="table"><thead><tr><th>Name</th><th>Company</th><th>Phone</th><th>Email</th>
<th>Status</th><th>Owner</th><th>List</th></tr></thead><tbody>
{% for row in rows %}<tr>
<td><a href="{{ url_for('detail', lead_id=row.id) }}">{{ row.name }}</a></td>
<td>{{ row.company }}</td><td>{{ row.phone }}</td><td>{{ row.email }}</td>
<td>{{ row.status }}</td><td>{{ row.owner }}</td><td>{{ row.list }}</td></tr>
{% endfor %}</tbody></table></main></body></html>"""


# --------------------------------------------------------------------------
# The database
# --------------------------------------------------------------------------


def database_urls(folder: Path) -> dict[str, Any]:
    return {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / DB_NAME}",
        "SQLALCHEMY_BINDS": {"pipeline": f"sqlite:///{folder / PIPELINE_NAME}"},
    }


def existing_lead_count(folder: Path) -> int | None:
    """Leads in a database left by an earlier run, or None when there is none."""
    path = folder / DB_NAME
    if not path.exists():
        return None
    try:
        with sqlite3.connect(path) as connection:
            return connection.execute("SELECT count(*) FROM leads").fetchone()[0]
    except sqlite3.Error:
        return None


def discard_database(folder: Path) -> None:
    for name in (DB_NAME, PIPELINE_NAME):
        for suffix in ("", "-wal", "-shm"):
            (folder / f"{name}{suffix}").unlink(missing_ok=True)


def build_database(app: Flask, target: int) -> None:
    """Run the real migrations, then fill the default workspace with ``target`` leads."""
    with app.app_context():
        upgrade()
        workspace = default_workspace()
        users = ensure_demo_users(workspace)
        ensure_demo_team(workspace, users)
        lists = ensure_demo_lists(workspace)
        db.session.commit()
        owner_ids = [r.user.id for r in users if r.role in OWNER_ROLES]
        pool = list(
            generate_lead_rows(
                min(POOL_SIZE, target),
                SEED,
                workspace.id,
                owner_ids,
                [lead_list.id for lead_list, _ in lists],
            )
        )
        insert_rows(varied_rows(pool, target), target)


def varied_rows(pool: list[dict[str, Any]], target: int) -> Iterator[dict[str, Any]]:
    """``target`` distinct rows made from the pool; copy 0 is the pool itself."""
    size = len(pool)
    start = utcnow() - timedelta(days=DAYS_OF_HISTORY)
    step = timedelta(days=DAYS_OF_HISTORY) / max(target, 1)
    for index in range(target):
        copy, row = divmod(index, size)
        lead = dict(pool[row])
        if copy:
            _vary(lead, copy, pool[(index * 7919) % size])
        lead["external_id"] = f"bench-{index}"
        lead["created_at"] = lead["updated_at"] = start + step * index
        yield lead


def _vary(lead: dict[str, Any], copy: int, other: dict[str, Any]) -> None:
    if lead["last_name"] and other["last_name"]:
        lead["last_name"] = other["last_name"]
    if lead["email_key"]:
        # Generated addresses never hold "+", so "+copy" keeps every key unique.
        local, domain = lead["email"].rsplit("@", 1)
        lead["email"] = lead["email_raw"] = f"{local}+{copy}@{domain}"
        lead["email_key"] = lead["email"].lower()
    e164 = lead["phone_e164"]
    if e164 and e164.startswith("+1") and copy < len(EXCHANGES):
        area, line, exchange = e164[2:5], e164[8:], EXCHANGES[copy]
        lead["phone_e164"] = f"+1{area}{exchange}{line}"
        lead["phone_raw"] = f"({area}) {exchange}-{line}"
    elif e164:
        for name in (
            "phone_raw",
            "phone_e164",
            "phone_extension",
            "phone_region",
            "phone_type",
            "time_zone",
        ):
            lead[name] = None
        lead["phone_time_zones"], lead["diallable"] = [], False


def insert_rows(rows: Iterator[dict[str, Any]], target: int) -> None:
    # Through the session: outside a request the app begins SQLite transactions
    # as writers, so a second connection would wait for the session's lock.
    statement = sa.insert(Lead.__table__)
    began, done = time.perf_counter(), 0
    for batch in batched(rows, INSERT_BATCH):
        db.session.execute(statement, batch)
        done += len(batch)
        if done % COMMIT_EVERY == 0 or done == target:
            db.session.commit()
        if done % PROGRESS_EVERY == 0 or done == target:
            rate = done / (time.perf_counter() - began)
            print(f"built {done}/{target} leads ({rate:.0f} rows/s)", flush=True)
    db.session.commit()


# --------------------------------------------------------------------------
# The two apps and their requests
# --------------------------------------------------------------------------


def signed_in_cookie(app: Flask) -> str:
    """A session cookie for the demo admin, as the login form would leave it."""
    with app.app_context():
        admin = next(r.user for r in ensure_demo_users(default_workspace()) if r.role is Role.ADMIN)
        row = LoginSession(id=os.urandom(24).hex(), user_id=admin.id)
        db.session.add(row)
        db.session.commit()
        session_id = row.id
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = session_id
        session["_fresh"] = True
    # The first page stores the CSRF token in the session, as a browser's would.
    response = client.get("/leads?status=new")
    assert response.status_code == 200, response.status
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    return f"{cookie.key}={cookie.value}"


def page_rows(app: Flask) -> list[dict[str, Any]]:
    """The first page of new leads, as plain values for the bare page."""
    with app.app_context():
        leads = db.session.scalars(
            sa.select(Lead)
            .where(Lead.status == LeadStatus.NEW.value)
            .order_by(Lead.id.desc())
            .limit(50)
        )
        return [
            {
                "id": lead.id,
                "name": lead.display_name,
                "company": lead.company or "",
                "phone": lead.phone_e164 or lead.phone_raw or "",
                "email": lead.email or lead.email_raw or "",
                "status": lead.status_label,
                "owner": lead.owner.name if lead.owner else "—",
                "list": lead.lead_list.name if lead.lead_list else "—",
            }
            for lead in leads
        ]


def bare_app(rows: list[dict[str, Any]]) -> Flask:
    bare = Flask("bare")
    bare.jinja_loader = DictLoader({"table.html": BARE_TEMPLATE})

    @bare.get("/leads")
    def index():
        return render_template("table.html", rows=rows)

    @bare.get("/leads/<int:lead_id>")
    def detail(lead_id: int):
        return str(lead_id)

    return bare


def deep_cursor(app: Flask) -> int:
    """An id with about a thousand older new leads behind it: one of the last pages."""
    with app.app_context():
        return db.session.scalar(
            sa.select(Lead.id)
            .where(Lead.status == LeadStatus.NEW.value)
            .order_by(Lead.id)
            .offset(1000)
            .limit(1)
        )


def wsgi_call(
    app: Flask, url: str, cookie: str | None = None, headers: dict[str, str] | None = None
) -> Callable[[], None]:
    """A request as a bare WSGI call: the environ is built once, the body consumed."""
    path, _, query = url.partition("?")
    headers = {**(headers or {}), **({"Cookie": cookie} if cookie else {})}
    environ = EnvironBuilder(path=path, query_string=query, headers=headers).get_environ()
    statuses: list[str] = []

    def start_response(status: str, _headers: list, _exc_info: Any = None) -> None:
        statuses.append(status)

    def call() -> None:
        body = app(dict(environ, **{"wsgi.input": io.BytesIO()}), start_response)
        try:
            for _chunk in body:
                pass
        finally:
            if hasattr(body, "close"):
                body.close()
        if statuses.pop() != "200 OK":
            raise RuntimeError(f"{url} did not answer 200")

    return call


def requests_per_second(call: Callable[[], None], seconds: float) -> float:
    done, began = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - began) < seconds:
        call()
        done += 1
    return done / elapsed


def run_rounds(
    targets: dict[str, Callable[[], None]], rounds: int, seconds: float
) -> dict[str, float]:
    """Medians over rounds; the order rotates so no target always runs first."""
    results: dict[str, list[float]] = defaultdict(list)
    names = list(targets)
    for number in range(rounds):
        order = names[number % len(names) :] + names[: number % len(names)]
        for name in order:
            results[name].append(requests_per_second(targets[name], seconds))
        line = " ".join(f"{name}_rps={results[name][-1]:.0f}" for name in names)
        print(f"round {number + 1}/{rounds}: {line}", flush=True)
    return {name: statistics.median(values) for name, values in results.items()}


# --------------------------------------------------------------------------
# Diagnosis: what a list request spends its time on
# --------------------------------------------------------------------------


def diagnose(app: Flask, targets: dict[str, Callable[[], None]], requests: int = 300) -> None:
    for name in ("list", "deep", "search"):
        _print_queries(app, name, targets[name])
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(requests):
        targets["list"]()
    profile.disable()
    _print_profile(profile)


def _print_queries(app: Flask, name: str, call: Callable[[], None]) -> None:
    statements: list[tuple[str, Any]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many) -> None:
        statements.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        call()
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)
    print(f"{name}: {len(statements)} statements per request")
    raw = sqlite3.connect(engine.url.database)
    for statement, parameters in statements:
        print("  " + " ".join(statement.split())[:160])
        if statement.lstrip().upper().startswith("SELECT"):
            plan = raw.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
            for row in plan:
                print(f"      plan: {row[-1]}")
    raw.close()


def _print_profile(profile: cProfile.Profile) -> None:
    """Shares of the list request's own time, by package and by function."""
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in stats.values())
    by_package: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    for (filename, line, function), entry in stats.items():
        by_package[_package(filename)] += entry[2]
        by_function[f"{_package(filename)}:{Path(filename).name}:{line}:{function}"] += entry[2]
    print("list request time by package (own time, share):")
    for package, spent in by_package.most_common(12):
        print(f"  {spent / total:6.1%}  {package}")
    print("list request time by function (own time, share):")
    for function, spent in by_function.most_common(15):
        print(f"  {spent / total:6.1%}  {function}")


def _package(filename: str) -> str:
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins"
    path = Path(filename)
    if "site-packages" in path.parts:
        return path.parts[path.parts.index("site-packages") + 1]
    if PROJECT_ROOT in path.parents:
        return str(path.relative_to(PROJECT_ROOT).parts[0])
    if path.name.endswith(".html"):
        return "templates"
    return "stdlib"


# --------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds-per-round", type=float, default=2.0)
    parser.add_argument("--db-dir", type=Path, help="keep and reuse the database here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary database")
    parser.add_argument(
        "--diagnose",
        action="store_true",
        help="print each query with its plan and a profile of the list page",
    )
    return parser.parse_args()


def database_folder(args: argparse.Namespace) -> Path:
    if args.db_dir:
        args.db_dir.mkdir(parents=True, exist_ok=True)
        return args.db_dir.resolve()
    folder = Path(tempfile.mkdtemp(prefix="leadline-bench-db-"))
    if args.keep:
        print(f"database kept in {folder}")
    else:
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def prepare_app(folder: Path, target: int) -> Flask:
    have = existing_lead_count(folder)
    if have is not None and have != target:
        print(f"discarding the database in {folder}: it holds {have} leads, not {target}")
        discard_database(folder)
    app = create_app(database_urls(folder))
    if have == target:
        print(f"reusing {target} leads in {folder / DB_NAME}")
        with app.app_context():
            upgrade()
    else:
        build_database(app, target)
    return app


def main() -> None:
    args = parse_args()
    app = prepare_app(database_folder(args), args.leads)
    cookie = signed_in_cookie(app)
    bare = bare_app(page_rows(app))
    targets = {
        "list": wsgi_call(app, "/leads?status=new", cookie),
        "bare": wsgi_call(bare, "/leads"),
        "deep": wsgi_call(app, f"/leads?status=new&after={deep_cursor(app)}", cookie),
        "search": wsgi_call(app, "/leads?q=smith", cookie),
        # What a filter change or "Older" fetches: the results block only.
        "fragment": wsgi_call(app, "/leads?status=new", cookie, {"HX-Request": "true"}),
    }
    for call in targets.values():  # warm up: templates compiled, caches filled
        for _ in range(20):
            call()
    if args.diagnose:
        diagnose(app, targets)
    rps = run_rounds(targets, args.rounds, args.seconds_per_round)
    for name in ("deep", "search", "fragment"):
        print(f"{name}: rps={rps[name]:.0f} ratio={rps[name] / rps['bare']:.2f}")
    print(
        f"pages: leads={args.leads} list_rps={rps['list']:.0f} bare_rps={rps['bare']:.0f} "
        f"ratio={rps['list'] / rps['bare']:.2f}"
    )


if __name__ == "__main__":
    main()
