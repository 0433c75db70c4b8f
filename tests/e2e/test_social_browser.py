"""The social queue in a real browser: a rep on a tablet works tasks by keyboard."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from app.extensions import db
from app.models import Role, User, utcnow
from leads.models import Activity, ActivityType, Lead
from leads.social import create_task
from leads.tasks import Network, SocialAction, Task
from tests.conftest import PASSWORD

if TYPE_CHECKING:  # only for annotations: importing a conftest again would run it twice
    from tests.e2e.conftest import ConsoleLog, NewContext

pytestmark = pytest.mark.e2e

TABLET = {"width": 768, "height": 1024}
MIN_TARGET_HEIGHT = 44


def _rep_with_tasks(make_user: Callable[..., User]) -> str:
    rep = make_user(Role.REP, name="Rita Rep", email="rita@example.com")
    names = ("Grace Hopper", "Alan Turing", "Edsger Dijkstra")
    for age, name in enumerate(names):
        first, last = name.split()
        profile = f"https://www.linkedin.com/in/{first.lower()}"
        lead = Lead(workspace_id=rep.workspace_id, owner_id=rep.id, first_name=first,
                    last_name=last, linkedin_url=profile)  # fmt: skip
        db.session.add(lead)
        db.session.flush()
        # Older tasks first: Grace is due longest, so she is served first.
        create_task(lead, Network.LINKEDIN, SocialAction.CONNECT, rep,
                    due_at=utcnow() - timedelta(hours=len(names) - age))  # fmt: skip
    db.session.commit()
    email = rep.email
    # The test process must not hold SQLite's write lock while the server writes.
    db.session.close()
    return email


def _sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/leads$"))


def test_rep_works_two_tasks_by_keyboard_on_a_tablet(
    new_context: NewContext, make_user: Callable[..., User], console: ConsoleLog, tmp_path: Path
) -> None:
    page = new_context(viewport=TABLET).new_page()
    _sign_in(page, _rep_with_tasks(make_user))
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.locator(".nav-badge")).to_have_text("3")
    nav.get_by_role("link", name=re.compile("Social")).click()
    expect(page).to_have_url(re.compile(r"/social$"))
    page.wait_for_load_state()  # the shortcuts script has run, not just the URL changed

    task = page.locator("#social-task")
    expect(task.get_by_role("heading", level=2)).to_have_text("Grace Hopper")
    profile = task.get_by_role("link", name=re.compile("Open LinkedIn profile"))
    expect(profile).to_have_attribute("href", "https://www.linkedin.com/in/grace")
    expect(profile).to_have_attribute("target", "_blank")
    expect(profile).to_have_attribute("rel", re.compile(r"\bnoopener\b"))
    page.screenshot(path=tmp_path / "social-768.png", full_page=True)
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= TABLET["width"], f"the page is {scroll_width}px wide"
    heights = task.locator("button, a.button").evaluate_all(
        "els => els.map(e => [e.textContent.trim(), e.getBoundingClientRect().height])"
    )
    assert len(heights) >= 8, heights
    assert [h for h in heights if h[1] < MIN_TARGET_HEIGHT] == []

    # "?" lists the shortcuts; Escape closes the list.
    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("Log “Connected”")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()

    page.evaluate("window.__sameDocument = true")
    page.keyboard.press("3")  # Connected
    expect(task.get_by_role("heading", level=2)).to_have_text("Alan Turing")
    expect(task).to_contain_text("Logged: connected.")
    expect(task).to_contain_text("1 of 25 touches today")
    expect(nav.locator(".nav-badge")).to_have_text("2")

    page.keyboard.press("h")  # snooze an hour
    expect(task.get_by_role("heading", level=2)).to_have_text("Edsger Dijkstra")
    page.keyboard.press("2")  # No profile
    expect(task).to_contain_text("Logged: no profile.")
    expect(task.locator(".social-empty")).to_contain_text("Everything is snoozed.")
    expect(nav.locator(".nav-badge")).to_be_hidden()
    assert page.evaluate("window.__sameDocument") is True  # each step was one swap

    touches = db.session.execute(
        sa.select(Lead.first_name, Activity.data["outcome"].as_string())
        .join(Activity, Activity.lead_id == Lead.id)
        .where(Activity.type == ActivityType.SOCIAL_TOUCH.value)
        .order_by(Activity.id)
    ).all()
    assert touches == [("Grace", "connected"), ("Edsger", "no_profile")]
    assert (
        db.session.scalar(sa.select(Task.status).join(Lead).where(Lead.first_name == "Alan"))
        == "snoozed"
    )
    db.session.close()
    assert console.errors == []


def test_a_second_tab_is_told_the_task_was_handled(
    new_context: NewContext, make_user: Callable[..., User], console: ConsoleLog
) -> None:
    context = new_context(viewport=TABLET)
    first = context.new_page()
    _sign_in(first, _rep_with_tasks(make_user))
    first.goto("/social")
    second = context.new_page()
    second.goto("/social")
    expect(second.locator("#social-task h2")).to_have_text("Grace Hopper")

    first.keyboard.press("1")
    expect(first.locator("#social-task h2")).to_have_text("Alan Turing")
    second.keyboard.press("4")
    expect(second.locator("#social-task")).to_contain_text("already handled")
    expect(second.locator("#social-task h2")).to_have_text("Alan Turing")
    count = db.session.scalar(
        sa.select(sa.func.count(Activity.id)).where(
            Activity.type == ActivityType.SOCIAL_TOUCH.value
        )
    )
    db.session.close()
    assert count == 1
    assert console.errors == []
