"""Browser fixtures: the real app under gunicorn, driven by the system's Chromium.

The server runs as production runs it (gunicorn, two workers, its own process)
on the databases and Redis of the test session, so data a test creates through
the ``app``/``make_user`` fixtures is what the browser sees.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
# Debian's chromium, never a browser Playwright would download: the machines
# that run this have no outside network.
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium keeps dialling Google services, and with no network
    # its log fills with refused connections that hide the real errors.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_SECONDS = 30
STOP_GRACE_SECONDS = 10
ACTION_TIMEOUT_MS = 10_000


def chromium_path() -> tuple[str | None, str]:
    """The browser to launch and, when there is none, why."""
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        if Path(configured).is_file():
            return configured, ""
        return None, f"CHROMIUM_PATH={configured} does not exist"
    found = shutil.which("chromium")
    if found:
        return found, ""
    return None, "no Chromium found: install the 'chromium' package or set CHROMIUM_PATH"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Decided once at collection, so a machine without a browser skips the
    # browser tests with the reason instead of starting a server for nothing.
    path, reason = chromium_path()
    if path:
        return
    skip = pytest.mark.skip(reason=f"browser tests skipped: {reason}")
    for item in items:
        if item.get_closest_marker("e2e"):
            item.add_marker(skip)


# -- the server ----------------------------------------------------------------


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:]) or "(no output)"

    def check_alive(self) -> None:
        """Fail with gunicorn's own words when the server has died."""
        code = self.process.poll()
        if code is not None:
            pytest.fail(
                f"gunicorn exited with code {code}; its output ends with:\n{self.log_tail()}",
                pytrace=False,
            )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(url: str) -> bool:
    """True once anything answers HTTP at url; the status does not matter."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # /healthz says 503 while no RQ worker runs, which is fine here
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    # gunicorn runs in a process group of its own, so one signal reaches the
    # master and both workers.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="session")
def live_server(
    _migrated_app: Flask,
    database_urls: dict[str, Any],
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    """gunicorn serving wsgi:app on a free port; depends on _migrated_app for the schema."""
    instance = tmp_path_factory.mktemp("server-instance")
    log_path = instance / "gunicorn.log"
    port = _free_port()
    env = {
        **os.environ,
        "LEADLINE_ENV": "test",
        "LEADLINE_INSTANCE_PATH": str(instance),
        "DATABASE_URL": database_urls["SQLALCHEMY_DATABASE_URI"],
        "PIPELINE_DATABASE_URL": database_urls["SQLALCHEMY_BINDS"]["pipeline"],
        "REDIS_URL": redis_url,
        # Given, as in production: otherwise both workers race to create the key
        # file, and a worker reading it half-written signs cookies differently.
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-m", "gunicorn", "--workers", "2",
               "--bind", f"127.0.0.1:{port}", "wsgi:app"]  # fmt: skip
    with open(log_path, "wb") as log:
        # A file, not a pipe: nobody reads a pipe while tests run, and a full
        # pipe would freeze the server mid-test.
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            process_group=0,
        )  # fmt: skip
    server = LiveServer(f"http://127.0.0.1:{port}", process, log_path)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _answers(f"{server.url}/healthz"):
            server.check_alive()
            if time.monotonic() > deadline:
                pytest.fail(
                    f"gunicorn did not answer within {STARTUP_SECONDS}s:\n{server.log_tail()}",
                    pytrace=False,
                )
            time.sleep(0.1)
        yield server
    finally:
        _stop(process)


# -- the browser ---------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    path, reason = chromium_path()
    if not path:
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class ConsoleLog:
    """Errors the pages reported: CSP violations, failed loads, uncaught exceptions."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught {error}"))

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        where = message.location.get("url") or "?"
        self.errors.append(f"{message.text} (at {where})")


@pytest.fixture
def console() -> ConsoleLog:
    return ConsoleLog()


NewContext = Callable[..., BrowserContext]


@pytest.fixture
def new_context(
    app: Flask, browser: Browser, live_server: LiveServer, console: ConsoleLog
) -> Iterator[NewContext]:
    """Factory for isolated browser profiles (own cookies) pointed at the server.

    Depends on ``app`` so every test starts from empty tables and a flushed Redis.
    """
    contexts: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        live_server.check_alive()
        context = browser.new_context(base_url=live_server.url, **options)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.on("page", console.watch)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
    live_server.check_alive()


@pytest.fixture
def page(new_context: NewContext) -> Page:
    return new_context().new_page()
