"""A marketer imports a real, Excel-resaved list in the browser, watches it run,
exports the result and undoes the import."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect

from app.extensions import db
from app.models import Role, User
from tests.conftest import PASSWORD

if TYPE_CHECKING:
    from tests.e2e.conftest import ConsoleLog, LiveServer

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
LIST_FILE = ROOT.parent / "shared" / "data" / "leads" / "customers-10000.excel-resave-crlf.csv"


def _worker_env(live_server: LiveServer, database_urls: dict, redis_url: str) -> dict[str, str]:
    # The worker must see what the server sees: same databases, Redis and uploads folder.
    return {
        **os.environ,
        "LEADLINE_INSTANCE_PATH": str(live_server.log_path.parent),
        "DATABASE_URL": database_urls["SQLALCHEMY_DATABASE_URI"],
        "PIPELINE_DATABASE_URL": database_urls["SQLALCHEMY_BINDS"]["pipeline"],
        "REDIS_URL": redis_url,
    }


def _start_worker(env: dict[str, str]) -> subprocess.Popen:
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "rq", "worker", "--burst"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip


@pytest.mark.skipif(not LIST_FILE.exists(), reason=f"{LIST_FILE} is not here")
def test_a_marketer_imports_exports_and_undoes_a_list(
    page: Page,
    make_user: Callable[..., User],
    console: ConsoleLog,
    live_server: LiveServer,
    database_urls: dict,
    redis_url: str,
    tmp_path: Path,
) -> None:
    email = make_user(Role.MARKETER, name="Mia Marketer", email="mia@example.com").email
    db.session.close()  # hold no SQLite lock while the server and worker write
    worker_env = _worker_env(live_server, database_urls, redis_url)
    page.on("dialog", lambda dialog: dialog.accept())  # the "are you sure?" of Undo

    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Imports").click()
    expect(page.get_by_text("No imports yet")).to_be_visible()
    page.get_by_role("link", name="Import leads").first.click()
    page.set_input_files("#file", str(LIST_FILE))
    page.get_by_role("button", name="Upload and preview").click()

    # The preview shows the file as it will be read, with suggested columns.
    expect(page.locator("table.mapping thead th").first).to_have_text(re.compile("Index", re.I))
    expect(page.locator("#target_2")).to_have_value("first_name")
    page.get_by_label("…or a new list named").fill("Customers")
    page.get_by_role("button", name="Import", exact=True).click()

    progress = page.locator("#progress")
    expect(progress).to_contain_text("Waiting for a worker")
    worker = _start_worker(worker_env)
    # The widget polls by itself until the run ends, then stops.
    expect(progress).to_contain_text("Import finished.", timeout=90_000)
    assert worker.wait(timeout=60) == 0
    created = int(progress.locator(".counts div").first.locator("dd").inner_text().replace(",", ""))
    assert created > 9000

    page.get_by_role("link", name="See the leads").click()
    expect(page.locator("#results .count")).to_contain_text("lead")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    exported = tmp_path / "export.csv"
    download.value.save_as(exported)
    text = exported.read_text(encoding="utf-8-sig")
    assert len(text.splitlines()) == created + 1

    page.get_by_role("link", name="Imports").click()
    page.get_by_role("link", name=LIST_FILE.name).click()
    page.get_by_role("button", name="Undo import").click()
    worker = _start_worker(worker_env)
    expect(page.locator("#progress")).to_contain_text("Import undone.", timeout=90_000)
    assert worker.wait(timeout=60) == 0
    page.get_by_role("link", name="Leads", exact=True).click()
    expect(page.get_by_text("No leads yet")).to_be_visible()
    assert console.errors == []
