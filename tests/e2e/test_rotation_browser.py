"""A marketer sets up rotation in the browser, imports a list and watches the leads land
with the right reps; the rep marked away gets nothing; a rep sees the new-leads badge."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from app.extensions import db
from app.models import Role, User
from leads.models import Lead
from leads.rotation_models import RepAwayPeriod
from tests.conftest import PASSWORD
from tests.e2e.test_import_browser import _worker_env

if TYPE_CHECKING:
    from tests.e2e.conftest import ConsoleLog, LiveServer

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def _sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _tick(page: Page, name: str, weight: str | None = None) -> None:
    row = page.locator("#pool tr", has_text=name)
    row.get_by_role("checkbox").check()
    if weight:
        row.get_by_role("textbox").fill(weight)


def test_a_marketer_configures_rotation_and_imported_leads_land_with_the_right_reps(
    page: Page,
    make_user: Callable[..., User],
    console: ConsoleLog,
    live_server: LiveServer,
    database_urls: dict,
    redis_url: str,
    tmp_path: Path,
) -> None:
    marketer = make_user(Role.MARKETER, name="Mia Marketer", email="mia@example.com").email
    ann = make_user(Role.REP, name="Ann Texas", email="ann@example.com")
    bob = make_user(Role.REP, name="Bob Texas", email="bob@example.com")
    dan = make_user(Role.REP, name="Dan Away", email="dan@example.com")
    cara = make_user(Role.REP, name="Cara Rest", email="cara@example.com")
    today = date.today()
    db.session.add(RepAwayPeriod(user_id=dan.id, starts_on=today - timedelta(days=2),
                                 ends_on=today + timedelta(days=2)))  # fmt: skip
    db.session.commit()
    ids = {u.name: u.id for u in (ann, bob, dan, cara)}
    db.session.close()  # hold no SQLite lock while the server and worker write

    _sign_in(page, marketer)
    page.get_by_role("link", name="Rotation").click()
    expect(page.get_by_text("No rules yet")).to_be_visible()
    page.get_by_role("link", name="Create the first rule").click()

    # A bad pool is refused with the reason, keeping what was typed.
    page.get_by_label("Name").fill("Texas")
    page.get_by_label("State / region").fill("TX")
    page.get_by_role("button", name="Save rule").click()
    expect(page.get_by_text("Choose at least one rep for the pool.")).to_be_visible()
    expect(page.get_by_label("State / region")).to_have_value("TX")
    for name in ("Ann Texas", "Bob Texas", "Dan Away"):
        _tick(page, name)
    page.get_by_role("button", name="Save rule").click()
    expect(page.get_by_text("Rule Texas saved.")).to_be_visible()
    # The preview names who gets the next leads, and why Dan is skipped.
    preview = page.locator("#preview")
    expect(preview.locator("li strong").first).to_have_text("Ann Texas")
    expect(preview).to_contain_text("Dan Away: away")

    page.get_by_role("link", name="Rules").click()
    page.get_by_role("link", name="New rule").click()
    page.get_by_label("Name").fill("Everyone else")
    page.get_by_label("Fallback pool").check()
    _tick(page, "Cara Rest")
    page.get_by_role("button", name="Save rule").click()
    expect(page.get_by_text("Rule Everyone else saved.")).to_be_visible()

    rows = ["First Name,Last Name,Email,State"]
    rows += [f"Tex{n},Lead,tex{n}@example.com,TX" for n in range(6)]
    rows += [f"Cal{n},Lead,cal{n}@example.com,CA" for n in range(2)]
    upload = tmp_path / "fair.csv"
    upload.write_text("\n".join(rows) + "\n", encoding="utf-8")
    page.get_by_role("link", name="Imports").click()
    page.get_by_role("link", name="Import leads").first.click()
    page.set_input_files("#file", str(upload))
    page.get_by_role("button", name="Upload and preview").click()
    page.get_by_label("…or a new list named").fill("Trade fair")
    page.get_by_role("button", name="Import", exact=True).click()
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "rq", "worker", "--burst"], cwd=ROOT,
        env=_worker_env(live_server, database_urls, redis_url),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    expect(page.locator("#progress")).to_contain_text("Import finished.", timeout=90_000)
    assert worker.wait(timeout=60) == 0  # the import's job, then the rotation it enqueued

    page.get_by_role("link", name="Rotation").click()
    expect(page.locator("#waiting h2")).to_contain_text("Waiting for an owner: 0")
    page.get_by_role("link", name="Report").click()
    expect(page.locator("#report")).to_contain_text("Ann Texas")

    given = Counter(
        (state, owner)
        for state, owner in db.session.execute(sa.select(Lead.state, Lead.owner_id)).all()
    )
    db.session.close()
    assert given == {("TX", ids["Ann Texas"]): 3, ("TX", ids["Bob Texas"]): 3,
                     ("CA", ids["Cara Rest"]): 2}  # fmt: skip

    # Ann signs in and sees her new leads on the badge.
    page.get_by_role("button", name="Sign out").click()
    _sign_in(page, "ann@example.com")
    expect(page.locator("#new-leads-badge")).to_have_text("3 new")
    # The refused form answers 422 on purpose; the browser logs that, nothing else.
    assert [e for e in console.errors if "status of 422" not in e] == []
