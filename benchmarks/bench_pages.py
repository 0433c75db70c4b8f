"""The leads page at a million leads in SQLite, against a bare Flask page.

    .venv/bin/python benchmarks/bench_pages.py [--leads 1000000] [--rounds 5]
        [--seconds-per-round 2] [--db-dir DIR] [--keep] [--diagnose] [--no-served]

Both pages are first called in this process, in alternating rounds, through plain
WSGI calls (no server, no sockets), so the ratio compares what the app does per
request with what any Flask page costs:

- list: GET /leads?status=new as a signed-in admin: login session, role check,
  the keyset query, the owner and list look-ups and the full Jinja page;
- bare: a Flask route rendering a 50-row table from a list in memory with Jinja.

Extra lines compare a deep page (?after=<id near the end>), a search (?q=smith)
and the htmx fragment of the list with the same bare page.

Then, unless --no-served, the same two pages are served over HTTP as production
serves them (gunicorn, two sync workers each) and loaded by a fixed number of
concurrent clients, one new connection per request: the ``served:`` line is what
a browser sees, where the fixed cost of HTTP narrows the gap between the pages.

The target is in-process list/bare >= 0.5. The last line is
``pages: leads=… list_rps=… bare_rps=… ratio=…``, the in-process figures.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import cProfile
import http.client
import inspect
import io
import json
import os
import pstats
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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
from gunicorn.config import KNOWN_SETTINGS  # noqa: E402
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

# Served mode: production's server and worker count, and enough clients that a
# worker never idles while its next request is on the way.
SERVED_WORKERS = 2
SERVED_CLIENTS = 4
SERVED_WARMUP_SECONDS = 1.0
SERVER_START_SECONDS = 30
SERVER_STOP_SECONDS = 10
# Both pages hold a header row and 50 lead rows; fewer means a login or error
# page came back, which must not count as a served page.
MIN_TABLE_ROWS = 50

# The bare page for gunicorn, which imports it by name from a folder: filled in
# with the source of bare_app() itself, so both modes time the same app.
BARE_MODULE = '''"""The bare page of benchmarks/bench_pages.py, served by gunicorn."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Flask, render_template
from jinja2 import DictLoader

BARE_TEMPLATE = {template!r}


{bare_app}

app = bare_app(json.loads((Path(__file__).parent / "rows.json").read_text()))
'''


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
    targets: dict[str, Callable[[], None]],
    rounds: int,
    seconds: float,
    measure: Callable[[Callable[[], None], float], float] = requests_per_second,
    label: str = "round",
) -> dict[str, float]:
    """Medians over rounds; the order rotates so no target always runs first."""
    results: dict[str, list[float]] = defaultdict(list)
    names = list(targets)
    for number in range(rounds):
        order = names[number % len(names) :] + names[: number % len(names)]
        for name in order:
            results[name].append(measure(targets[name], seconds))
        line = " ".join(f"{name}_rps={results[name][-1]:.0f}" for name in names)
        print(f"{label} {number + 1}/{rounds}: {line}", flush=True)
    return {name: statistics.median(values) for name, values in results.items()}


# --------------------------------------------------------------------------
# Served: the same pages through gunicorn, over sockets
# --------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def log_tail(self, lines: int = 20) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:]) or "(no output)"

    def check_alive(self) -> None:
        code = self.process.poll()
        if code is not None:
            raise RuntimeError(
                f"the {self.name} server exited with code {code}; its log ends with:\n"
                f"{self.log_tail()}"
            )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(name: str, module: str, folder: Path, env: dict[str, str]) -> Server:
    port = free_port()
    log_path = _INSTANCE / f"gunicorn-{name}.log"
    command = [sys.executable, "-m", "gunicorn", "--workers", str(SERVED_WORKERS),
               "--bind", f"127.0.0.1:{port}", "--chdir", str(folder)]  # fmt: skip
    if any(setting.name == "control_socket_disable" for setting in KNOWN_SETTINGS):
        # From gunicorn 25.1 every server binds one control socket path per user by
        # default: ours would take it from each other and from any server the
        # developer runs, and remove it when they stop. The bench never uses it.
        command.append("--no-control-socket")
    command.append(module)
    with open(log_path, "wb") as log:
        # A file, not a pipe: nobody reads a pipe during the rounds, and a full one
        # would stall the server. A process group of its own: the terminal's Ctrl-C
        # reaches only the bench, which then stops the server and its workers.
        process = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            process_group=0,
        )  # fmt: skip
    return Server(name, process, port, log_path)


def stop_server(server: Server) -> None:
    # SIGTERM to the group: the master stops its workers after their current
    # request; SIGKILL only for a server that does not stop in time.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(SERVER_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()


@contextlib.contextmanager
def signals_raise_exit() -> Iterator[None]:
    """While servers run, SIGTERM and SIGHUP raise SystemExit, so finally blocks stop them."""

    # By default either signal ends Python at once, skipping finally blocks and
    # leaving both servers running with nobody to stop them.
    def handler(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = {}
    for number in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(number) is not signal.SIG_IGN:  # nohup: keep ignoring
            previous[number] = signal.signal(number, handler)
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def http_get(port: int, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """One request on a connection of its own, as gunicorn's sync workers close each one."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_until_serving(server: Server, path: str) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while True:
        server.check_alive()
        try:
            http_get(server.port, path, {})
            return  # any answer will do; the warm-up checks the pages themselves
        except (OSError, http.client.HTTPException):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the {server.name} server did not answer within {SERVER_START_SECONDS}s; "
                    f"its log ends with:\n{server.log_tail()}"
                ) from None
            time.sleep(0.1)


def served_call(server: Server, path: str, cookie: str | None = None) -> Callable[[], None]:
    """A request over HTTP that fails unless a full table of leads came back."""
    headers = {"Connection": "close", **({"Cookie": cookie} if cookie else {})}

    def call() -> None:
        status, body = http_get(server.port, path, headers)
        if status != 200:
            raise RuntimeError(f"{server.name} server: {path} answered {status}, not 200")
        if body.count(b"<tr>") < MIN_TABLE_ROWS:
            raise RuntimeError(f"{server.name} server: {path} answered without 50 table rows")

    return call


def concurrent_rps(call: Callable[[], None], seconds: float) -> float:
    """Requests per second from SERVED_CLIENTS threads calling in a loop for ``seconds``."""
    done = [0] * SERVED_CLIENTS
    errors: list[BaseException] = []
    stop = threading.Event()
    began = time.perf_counter()
    deadline = began + seconds

    def client(index: int) -> None:
        try:
            while not stop.is_set() and time.perf_counter() < deadline:
                call()
                done[index] += 1
        except BaseException as exc:  # raised again below, in the main thread
            errors.append(exc)
            stop.set()

    # Daemons, so Ctrl-C in the main thread does not wait for the clients' loops.
    clients = [
        threading.Thread(target=client, args=(index,), daemon=True)
        for index in range(SERVED_CLIENTS)
    ]
    try:
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join()
    finally:
        stop.set()
    elapsed = time.perf_counter() - began
    if errors:
        raise errors[0]
    return sum(done) / elapsed


def write_bare_module(folder: Path, rows: list[dict[str, Any]]) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "rows.json").write_text(json.dumps(rows))
    source = BARE_MODULE.format(template=BARE_TEMPLATE, bare_app=inspect.getsource(bare_app))
    (folder / "bare_page.py").write_text(source)


def served_rates(
    app: Flask, cookie: str, rows: list[dict[str, Any]], rounds: int, seconds: float
) -> dict[str, float]:
    """List and bare pages, each served by its own gunicorn, in alternating rounds."""
    bare_folder = _INSTANCE / "bare-page"
    write_bare_module(bare_folder, rows)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # The databases, Redis and key of the in-process app: the cookie signed in
    # this process names a login session in these databases.
    list_env = {
        **env,
        "LEADLINE_INSTANCE_PATH": str(_INSTANCE),
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "PIPELINE_DATABASE_URL": app.config["SQLALCHEMY_BINDS"]["pipeline"],
        "REDIS_URL": app.config["REDIS_URL"],
        "SECRET_KEY": app.config["SECRET_KEY"],
    }
    print(
        f"serving both pages with gunicorn ({SERVED_WORKERS} workers each) to "
        f"{SERVED_CLIENTS} concurrent clients",
        flush=True,
    )
    servers: list[Server] = []
    with signals_raise_exit():
        try:
            servers.append(start_server("list", "wsgi:app", PROJECT_ROOT, list_env))
            servers.append(start_server("bare", "bare_page:app", bare_folder, env))
            list_server, bare_server = servers
            wait_until_serving(list_server, "/healthz")
            wait_until_serving(bare_server, "/leads")
            targets = {
                "list": served_call(list_server, "/leads?status=new", cookie),
                "bare": served_call(bare_server, "/leads"),
            }
            for call in targets.values():  # warm up every worker, not just the first
                concurrent_rps(call, SERVED_WARMUP_SECONDS)
            return run_rounds(targets, rounds, seconds, concurrent_rps, "served round")
        finally:
            for server in servers:
                stop_server(server)


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
    parser.add_argument(
        "--served",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time both pages served by gunicorn over HTTP (default: on)",
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
    rows = page_rows(app)
    bare = bare_app(rows)
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
    # After the in-process rounds, so the servers cannot disturb those figures.
    if args.served:
        served = served_rates(app, cookie, rows, args.rounds, args.seconds_per_round)
        print(
            f"served: list_rps={served['list']:.0f} bare_rps={served['bare']:.0f} "
            f"ratio={served['list'] / served['bare']:.2f}"
        )
    print(
        f"pages: leads={args.leads} list_rps={rps['list']:.0f} bare_rps={rps['bare']:.0f} "
        f"ratio={rps['list'] / rps['bare']:.2f}"
    )


if __name__ == "__main__":
    main()
