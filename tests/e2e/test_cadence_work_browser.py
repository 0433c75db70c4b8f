"""A rep enrols a lead from its card; the runner's work shows in the social queue and My tasks."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect

from app.extensions import db
from app.models import Role, User
from cadences.jobs import process
from cadences.models import Cadence, CadenceStep
from cadences.runner import lease_due
from leads.models import Lead
from tests.conftest import PASSWORD

if TYPE_CHECKING:
    from tests.e2e.conftest import ConsoleLog

pytestmark = pytest.mark.e2e

ALWAYS_OPEN = {"window_start": 0, "window_end": 24 * 60, "business_days_only": False}


def _run_due_steps() -> int:
    """What the cron tick and a worker do, in this process."""
    tasks = 0
    while ids := lease_due(1000):
        db.session.commit()
        tasks += process(ids)["tasks"]
    db.session.close()  # SQLite: the server must be free to write
    return tasks


def test_enrol_from_the_card_then_work_the_queues(
    page: Page, make_user: Callable[..., User], console: ConsoleLog
) -> None:
    rep = make_user(Role.REP, name="Rhea Rep", email="rhea@example.com")
    lead = Lead(
        workspace_id=rep.workspace_id,
        first_name="Ada",
        company="Engines Ltd",
        linkedin_url="https://www.linkedin.com/in/ada-example",
        owner_id=rep.id,
    )
    cadence = Cadence(workspace_id=rep.workspace_id, name="Warm intro", created_by_id=rep.id)
    cadence.steps = [
        CadenceStep(position=0, kind="social", instructions="Like a recent post", **ALWAYS_OPEN),
        CadenceStep(position=1, kind="task", instructions="Send the case study", **ALWAYS_OPEN),
    ]
    db.session.add_all([lead, cadence])
    db.session.commit()
    lead_id = lead.id
    db.session.close()

    page.goto("/login")
    page.get_by_label("Email").fill("rhea@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/leads$"))
    page.goto(f"/leads/{lead_id}")
    panel = page.locator("#cadence-panel")
    panel.get_by_label("Enrol in").select_option(label="Warm intro")
    panel.get_by_role("button", name="Enrol").click()
    expect(panel).to_contain_text("Enrolled in “Warm intro”")
    expect(panel.get_by_role("button", name="Replied")).to_be_visible()

    assert _run_due_steps() == 2
    assert _run_due_steps() == 0  # run again: nothing twice

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Social").click()
    expect(page.locator("#social-task")).to_contain_text("Ada")
    expect(page.locator("#social-task")).to_contain_text("LinkedIn View profile")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Tasks").click()
    row = page.locator("#my-tasks tr", has_text="Send the case study")
    expect(row).to_contain_text("Ada")
    row.get_by_role("button", name="Done").click()
    expect(page.locator("#my-tasks")).to_contain_text("No tasks due")
    assert console.errors == []
