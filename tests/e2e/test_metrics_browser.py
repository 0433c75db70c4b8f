"""A manager reads the team's week, finds the best hour to call a list, drills into one
rep's connects and exports the table, in a real browser under the strict CSP."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from app.extensions import db
from app.models import Role, utcnow
from leads.dial_models import CallAttempt
from leads.models import LeadList
from tests.conftest import PASSWORD
from tests.leads.metrics_factories import random_calls

if TYPE_CHECKING:
    from tests.e2e.conftest import ConsoleLog

pytestmark = pytest.mark.e2e


def test_manager_week_best_hour_drill_down_and_export(page: Page, make_user, workspace,
                                                      console: ConsoleLog) -> None:
    manager = make_user(Role.MANAGER, name="Mia Manager", email="mia@example.com")
    reps = [make_user(Role.CALLER, name=f"Rep {n}") for n in range(3)]
    hot = LeadList(workspace_id=workspace.id, name="Hot list")
    db.session.add(hot)
    db.session.commit()
    # The last six days, so every call is inside "7 days" whatever the time of day.
    random_calls(workspace.id, [r.id for r in reps], [hot.id, None],
                 utcnow() - timedelta(days=6), 6, 3000)  # fmt: skip
    connects = db.session.scalar(sa.select(sa.func.count(CallAttempt.id)).where(
        CallAttempt.caller_id == reps[0].id, CallAttempt.category.in_(
            ["conversation", "call_back", "meeting_booked", "qualified", "not_interested",
             "do_not_call"])))  # fmt: skip
    email, hot_id = manager.email, hot.id
    db.session.close()

    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Metrics").click()
    expect(page).to_have_url(re.compile(r"/metrics/team$"))
    expect(page.get_by_role("heading", name="7 days at a glance")).to_be_visible()
    board = page.locator("#table-leaderboard")
    expect(board.locator("tbody tr")).to_have_count(3)

    # Best time to call the hot list: the heatmap alone is swapped by htmx.
    page.get_by_label("Heatmap for list").select_option(label="Hot list")
    expect(page).to_have_url(re.compile(rf"heat_list={hot_id}"))
    expect(page.locator("#heatmap svg.heatmap rect.heat-cell").first).to_be_visible()
    expect(page.locator("#heatmap")).to_contain_text("Connect rate by the lead's local hour")

    # Drill into Rep 0's connects, then export the calls behind the figure.
    row = board.locator("tbody tr", has=page.get_by_role("rowheader", name="Rep 0"))
    row.locator("td").nth(1).get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Connects by Rep 0")
    expect(page.locator("#calls-count")).to_contain_text(f"{connects:,} call")
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:2] == ["Started", "Rep"] and len(rows) - 1 == connects
    assert {r[1] for r in rows[1:]} == {"Rep 0"}

    # Usable on a tablet: nothing wider than the screen but the tables' own scroll.
    page.set_viewport_size({"width": 768, "height": 1024})
    page.goto("/metrics/team")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 768, width
    assert console.errors == []
