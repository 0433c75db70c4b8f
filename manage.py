#!/usr/bin/env python3
"""Run or test Leadline on a machine that has nothing but Python 3.11 and pip.

    python3 manage.py run [--host 127.0.0.1] [--port 5000]
    python3 manage.py test [pytest arguments...]

Both create and maintain the project's .venv first, then re-run themselves
inside it.  Only the standard library is imported at the top of this file,
because the first run happens before any dependency is installed.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".leadline-installed"
INSTANCE = ROOT / "instance"
STOP_GRACE_SECONDS = 10


# -- virtual environment -----------------------------------------------------


def run_logged(cmd: list[str], log_name: str) -> None:
    """Run cmd with its output in instance/<log_name>; on failure show the tail and exit."""
    INSTANCE.mkdir(exist_ok=True)
    log_path = INSTANCE / log_name
    with open(log_path, "a") as log:
        log.write(f"\n$ {' '.join(cmd)}\n")
        log.flush()
        result = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-25:]
        print("\n".join(tail), file=sys.stderr)
        sys.exit(f"Command failed: {' '.join(cmd)} (full output in {log_path})")


def bootstrap(extras: set[str]) -> None:
    """Create .venv and install the project into it when needed, then re-exec inside it."""
    fresh = not VENV_PYTHON.exists()
    if fresh:
        print("Creating virtual environment…", flush=True)
        if subprocess.run([sys.executable, "-m", "venv", str(VENV)]).returncode != 0:
            sys.exit("Could not create .venv (on Debian/Ubuntu: apt-get install python3-venv).")
    # The stamp records which pyproject.toml and extras were installed, so an
    # unchanged project starts instantly and an edited one is reinstalled.
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = STAMP.read_text().split() if STAMP.exists() else []
    if not (stamp[:1] == [digest] and extras <= set(stamp[1:])):
        print("Installing dependencies (first run takes a minute)…", flush=True)
        pip = [str(VENV_PYTHON), "-m", "pip", "--disable-pip-version-check"]
        if fresh or not stamp:  # the pip bundled with venv is often too old for editable installs
            run_logged([*pip, "install", "--upgrade", "pip"], "pip.log")
        target = f".[{','.join(sorted(extras))}]" if extras else "."
        run_logged([*pip, "install", "-e", target], "pip.log")
        STAMP.write_text(" ".join([digest, *sorted(extras)]) + "\n")
    if Path(sys.prefix).resolve() != VENV.resolve():
        os.execv(VENV_PYTHON, [str(VENV_PYTHON), str(ROOT / "manage.py"), *sys.argv[1:]])


# -- run -----------------------------------------------------------------------


def port_is_free(host: str, port: int) -> bool:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, proto) as probe:
        # Same option gunicorn uses, so a port in TIME_WAIT does not count as taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError:
            return False
    return True


def flask(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "wsgi", *args]


def relay(name: str, stream: IO[str]) -> None:
    for line in stream:
        print(f"{name} | {line}", end="" if line.endswith("\n") else "\n", flush=True)


def process_tree() -> dict[int, list[int]]:
    """Map each PID to its children (Linux /proc; elsewhere empty, so only groups are used)."""
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):  # it exited while we were looking
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(stat.parent.name))
    return tree


def kill_everything(children: dict[str, subprocess.Popen[str]], spare: set[int]) -> list[int]:
    """SIGKILL the children's process groups and every other descendant of ours.

    Process groups catch gunicorn's workers, but an RQ work-horse puts itself in
    a group of its own, so walk the process tree too (spare = the Redis server).
    """
    tree, stack, doomed = process_tree(), [os.getpid()], []
    while stack:
        for pid in tree.get(stack.pop(), []):
            if pid not in spare:
                doomed.append(pid)
                stack.append(pid)
    for pid in [*(c.pid for c in children.values()), *doomed]:
        for kill, target in ((os.killpg, pid), (os.kill, pid)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill(target, signal.SIGKILL)
    return doomed


def supervise(commands: dict[str, list[str]], env: dict[str, str], spare: set[int]) -> int:
    """Run the commands until Ctrl-C/SIGTERM or until one of them exits; return the exit code."""
    children: dict[str, subprocess.Popen[str]] = {}
    stopping = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        if stopping.is_set():
            os.write(2, b"\nForcing shutdown.\n")  # print() is not safe in a signal handler
            kill_everything(children, spare)
        stopping.set()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    readers = []
    for name, cmd in commands.items():
        if stopping.is_set():
            break
        # A process group of its own: the terminal's Ctrl-C reaches only this
        # supervisor, which then stops the children in order, and one killpg()
        # also reaches their own children (gunicorn workers).
        child = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, errors="replace", process_group=0,
        )  # fmt: skip
        children[name] = child
        readers.append(threading.Thread(target=relay, args=(name, child.stdout), daemon=True))
        readers[-1].start()

    died = None
    while died is None and not stopping.wait(0.2):
        died = next((name for name, c in children.items() if c.poll() is not None), None)
    if died:
        print(
            f"{died} exited with code {children[died].returncode}; stopping Leadline.", flush=True
        )
    stopping.set()  # from here on, another Ctrl-C means "kill now"
    for child in children.values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGTERM)
    # Let workers finish the jobs in flight, then make sure nothing is left.
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in children.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(max(0.0, deadline - time.monotonic()))
    doomed = kill_everything(children, spare)
    for child in children.values():
        child.wait()
    # Orphans re-parented to us (see become_subreaper) are ours to reap, or
    # they would linger as zombies until init collects them.
    for pid in doomed:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    for reader in readers:
        reader.join(timeout=2)
    return 1 if died else 0


def become_subreaper() -> None:
    # Linux: orphans of our children (a work-horse whose worker crashed) are
    # re-parented to us instead of init, so kill_everything() still finds them.
    with contextlib.suppress(OSError, AttributeError):  # not Linux: process groups only
        ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def run(host: str, port: int) -> int:
    if not port_is_free(host, port):
        print(f"Port {port} on {host} is already in use; stop that program or pass --port.")
        return 1
    INSTANCE.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    redis = None
    if not env.get("REDIS_URL"):
        from app.embedded_redis import EmbeddedRedis, EmbeddedRedisError

        redis = EmbeddedRedis(INSTANCE)
        try:
            redis.start()
        except EmbeddedRedisError as exc:
            print(f"Could not start the embedded Redis: {exc}", file=sys.stderr)
            return 1
        env["REDIS_URL"] = redis.url
    try:
        # Redis is started before these so the app they load finds REDIS_URL
        # set, rather than starting (and stopping) a server of its own.
        for step in (flask("db", "upgrade"), flask("users", "bootstrap-admin")):
            if subprocess.run(step, cwd=ROOT, env=env).returncode != 0:
                print(f"Failed: {' '.join(step[2:])}", file=sys.stderr)
                return 1
        become_subreaper()
        bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        web = [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", bind]
        commands = {
            "web": [*web, "--access-logfile", "-", "wsgi:app"],
            "worker": flask("rq", "worker"),
            "cron": flask("rq", "cron"),
        }
        print(f"Leadline is running at http://{host}:{port} — press Ctrl-C to stop.", flush=True)
        spare = {redis.pid} if redis and redis.pid else set()
        return supervise(commands, env, spare)
    finally:
        if redis is not None:
            redis.stop()


# -- test ----------------------------------------------------------------------


def find_chromium() -> str | None:
    """The system Chromium the browser tests drive, installing it with apt-get when we can."""
    system = Path("/usr/bin/chromium")
    found = str(system) if system.exists() else shutil.which("chromium")
    why = "no Chromium found; installing it needs root and apt-get"
    if not found and os.geteuid() == 0 and shutil.which("apt-get"):
        why = "apt-get did not provide chromium"
        print("Installing Chromium for the browser tests…", flush=True)
        apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
            result = subprocess.run(cmd, env=apt_env, capture_output=True, text=True)
            if result.returncode != 0:
                why = f"{' '.join(cmd)} failed: {(result.stderr.strip() or '?').splitlines()[-1]}"
                break
        found = shutil.which("chromium")
    if not found:
        print(f"Browser tests will be skipped ({why}). Install your system's 'chromium' package.")
    return found


def test(pytest_args: list[str]) -> None:
    chromium = os.environ.get("CHROMIUM_PATH") or find_chromium()
    if chromium:
        os.environ["CHROMIUM_PATH"] = chromium
    os.execv(sys.executable, [sys.executable, "-m", "pytest", *pytest_args])


def main() -> int:
    parser = argparse.ArgumentParser(description="Run or test Leadline.")
    commands = parser.add_subparsers(dest="command", required=True)
    run_cmd = commands.add_parser("run", help="start the web app, worker and scheduler")
    run_cmd.add_argument("--host", default="127.0.0.1")
    run_cmd.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    commands.add_parser("test", help="run the test suite (extra arguments go to pytest)")
    args, rest = parser.parse_known_args()
    if args.command == "run" and rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    os.chdir(ROOT)
    bootstrap({"test"} if args.command == "test" else set())
    if args.command == "test":
        test(rest)
    try:
        return run(args.host, args.port)
    except KeyboardInterrupt:  # Ctrl-C during migrations, before the supervisor took over
        return 130


if __name__ == "__main__":
    sys.exit(main())
