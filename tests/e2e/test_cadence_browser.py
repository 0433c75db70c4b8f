"""The cadence builder in a real browser: htmx steps, inline template errors, preview, enrolment."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from app.extensions import db
from app.models import Role, Team, User
from cadences.models import Cadence, Enrollment
from leads.models import Lead
from tests.conftest import PASSWORD

if TYPE_CHECKING:
    from tests.e2e.conftest import ConsoleLog

pytestmark = pytest.mark.e2e


def _sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/leads$"))


def test_build_a_cadence_preview_and_enrol(
    page: Page, make_user: Callable[..., User], console: ConsoleLog
) -> None:
    marketer = make_user(Role.MARKETER, name="Mara Marketer", email="mara@example.com")
    lead = Lead(
        workspace_id=marketer.workspace_id,
        first_name="Grace",
        company="Navy Labs",
        email="grace@example.com",
        email_key="grace@example.com",
        owner_id=marketer.id,
    )
    db.session.add(lead)
    db.session.commit()
    lead_id = lead.id
    db.session.close()  # SQLite: the server must be free to write
    page.on("dialog", lambda dialog: dialog.accept())
    _sign_in(page, "mara@example.com")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Cadences").click()
    expect(page.get_by_text("No cadences yet")).to_be_visible()
    page.get_by_label("New cadence").fill("Webinar follow-up")
    page.get_by_role("button", name="Create cadence").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Webinar follow-up")
    expect(page.get_by_text("No steps yet")).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    # A typo in a merge field: refused next to the field, with what was typed kept.
    page.get_by_label("Type").select_option("email")
    page.get_by_label("Subject, variant A").fill("Thanks for joining, {{ frist_name }}")
    page.get_by_label("Body, variant A").fill(
        "Hi {{ first_name | default('there') }},\nslides attached."
    )
    page.get_by_role("button", name="Add step").click()
    expect(page.locator("#builder")).to_contain_text("line 1: unknown merge field {{ frist_name }}")
    expect(page.get_by_label("Subject, variant A")).to_have_value(
        "Thanks for joining, {{ frist_name }}"
    )

    # Fixed, previewed against the real lead, then added.
    page.get_by_label("Subject, variant A").fill("Thanks for joining, {{ first_name }}")
    page.get_by_label("Preview variant A against lead #").fill(str(lead_id))
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview")).to_contain_text("Thanks for joining, Grace")
    page.get_by_role("button", name="Add step").click()
    expect(page.locator("ol.steps > li")).to_have_count(1)

    page.get_by_label("Type").select_option("wait")
    page.get_by_label("Wait (wait steps)").fill("0")
    page.get_by_role("button", name="Add step").click()
    expect(page.locator("#builder")).to_contain_text("zero or negative waits are not allowed")
    page.get_by_label("Wait (wait steps)").fill("2")
    page.get_by_role("button", name="Add step").click()
    steps = page.locator("ol.steps > li")
    expect(steps).to_have_count(2)  # the swap has landed: the form below is the new one
    page.get_by_label("Type").select_option("call")
    page.get_by_label("Instructions (call, social and task steps)").fill("Ask how the trial goes")
    page.get_by_role("button", name="Add step").click()
    expect(steps).to_have_count(3)
    expect(steps.nth(1)).to_contain_text("2 business days")

    steps.nth(2).get_by_role("button", name="Move up").click()
    expect(steps.nth(1)).to_contain_text("Ask how the trial goes")
    steps.nth(0).get_by_role("button", name="Remove").click()
    expect(steps).to_have_count(2)
    expect(steps.nth(0)).to_contain_text("Call")

    page.get_by_label("One lead, by id").fill(str(lead_id))
    page.get_by_role("button", name="Enrol", exact=True).click()
    expect(page.locator("#enrol")).to_contain_text("Grace is enrolled.")
    page.get_by_label("One lead, by id").fill(str(lead_id))
    page.get_by_role("button", name="Enrol", exact=True).click()
    expect(page.locator("#enrol")).to_contain_text("already in the cadence")
    assert page.evaluate("window.__sameDocument") is True  # every step above was an htmx swap

    page.set_viewport_size({"width": 768, "height": 1024})
    page.reload()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 768, f"the builder scrolls sideways at tablet width ({width}px)"
    # Chromium logs every 4xx response; the refusals above are 422s on purpose.
    assert [e for e in console.errors if "status of 422" not in e] == []

    cadence = db.session.scalar(sa.select(Cadence).where(Cadence.name == "Webinar follow-up"))
    assert [s.kind for s in cadence.steps] == ["call", "wait"]
    assert db.session.scalar(sa.select(sa.func.count(Enrollment.id))) == 1


def test_a_social_step_an_assignment_rule_and_birthday_emails(
    page: Page, make_user: Callable[..., User], console: ConsoleLog
) -> None:
    marketer = make_user(Role.MARKETER, name="Mara Marketer", email="mara@example.com")
    team = Team(workspace_id=marketer.workspace_id, name="East")
    db.session.add(team)
    db.session.commit()
    team_id = team.id
    db.session.close()
    _sign_in(page, "mara@example.com")
    page.goto("/cadences")
    page.get_by_label("New cadence").fill("Social first")
    page.get_by_role("button", name="Create cadence").click()

    page.get_by_label("Type").select_option("social")
    page.get_by_label("Network (social steps)").select_option("x")
    page.get_by_label("Action (social steps)").select_option("connect")
    page.get_by_role("button", name="Add step").click()
    expect(page.locator("ol.steps > li")).to_contain_text("Connect on X")

    page.get_by_label("Enrol leads when they are assigned").check()
    page.get_by_label("and whose new owner is in team").select_option(label="East")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#settings")).to_contain_text("Settings saved.")
    page.reload()
    expect(page.get_by_label("Enrol leads when they are assigned")).to_be_checked()
    expect(page.get_by_label("and whose new owner is in team")).to_have_value(str(team_id))

    page.goto("/cadences")
    page.get_by_role("link", name="Birthdays").click()
    page.get_by_label("A templated email, sent automatically").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("Choose the template to send")
    expect(page.get_by_label("A templated email, sent automatically")).to_be_checked()
    assert [e for e in console.errors if "status of 422" not in e] == []

    cadence = db.session.scalar(sa.select(Cadence).where(Cadence.name == "Social first"))
    assert [(s.kind, s.network, s.social_action) for s in cadence.steps] == [
        ("social", "x", "connect")
    ]
    assert (cadence.assign_rule.list_id, cadence.assign_rule.team_id) == (None, team_id)
