"""A rep qualifies a lead, finds its deal on the board, wins it and sees the lead follow."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect

from app.extensions import db
from app.models import Role, User
from leads.models import Lead, LeadStatus
from tests.conftest import PASSWORD

if TYPE_CHECKING:
    from tests.e2e.conftest import ConsoleLog, NewContext

pytestmark = pytest.mark.e2e


def _rep_with_lead(make_user: Callable[..., User]) -> tuple[str, int]:
    rep = make_user(Role.REP, name="Rita Rep", email="rita@example.com")
    lead = Lead(workspace_id=rep.workspace_id, first_name="Dana", last_name="Scully",
                company="Fox Mulder Consulting", email="dana@example.com", owner_id=rep.id,
                status=LeadStatus.CONNECTED.value)  # fmt: skip
    db.session.add(lead)
    db.session.commit()
    found = (rep.email, lead.id)
    db.session.close()  # hold no SQLite transaction while the server writes
    return found


def test_promote_then_win_on_the_board_on_a_tablet(
    new_context: NewContext, make_user: Callable[..., User], console: ConsoleLog
) -> None:
    email, lead_id = _rep_with_lead(make_user)
    page: Page = new_context(viewport={"width": 768, "height": 1024}).new_page()
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/leads$"))

    page.goto(f"/leads/{lead_id}")
    panel = page.locator("#qualification")
    with page.expect_response(lambda r: r.url.endswith("/promote")) as refused:
        panel.get_by_role("button", name="Promote to pipeline").click()
    assert refused.value.status == 422
    expect(panel).to_contain_text("Before this lead can be promoted")
    expect(panel).to_contain_text("Timing is not confirmed")
    for item in ("Budget", "Authority", "Need", "Timing"):
        with page.expect_response(lambda r: r.url.endswith("/qualification")):
            panel.get_by_label(item).check()
    expect(panel).not_to_contain_text("is not confirmed")
    panel.get_by_role("button", name="Promote to pipeline").click()
    expect(page.locator(".flash")).to_contain_text("Dana Scully is in the pipeline.")
    expect(page.get_by_role("region", name="Contact details")).to_contain_text("Handed off")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Pipeline").click()
    qualified = page.get_by_role("region", name="Qualified")
    card = qualified.locator(".deal-card", has_text="Fox Mulder Consulting")
    expect(card).to_have_count(1)

    # Keyboard way: the card's stage list and Move button.
    card.get_by_label(re.compile("Move .* to")).select_option(label="Proposal")
    card.get_by_role("button", name="Move").click()
    proposal = page.get_by_role("region", name="Proposal")
    expect(proposal.locator(".deal-card")).to_have_count(1)

    won = page.get_by_role("region", name="Won")
    # Pointer way, on a desktop-wide screen where every column is in view: drag the
    # card onto the Won column.
    page.set_viewport_size({"width": 1600, "height": 900})
    # The card moves at once; wait for the server's board before leaving the page.
    with page.expect_response(lambda r: r.url.endswith("/move")) as moved:
        proposal.locator(".deal-card .sub").drag_to(won)
    assert moved.value.status == 200
    expect(won.locator(".deal-card", has_text="Fox Mulder Consulting")).to_have_count(1)
    expect(proposal.locator(".deal-card")).to_have_count(0)

    page.goto(f"/leads/{lead_id}")
    expect(page.get_by_role("region", name="Contact details")).to_contain_text("Won")
    timeline = page.get_by_role("region", name="Timeline")
    expect(timeline).to_contain_text("Deal “Fox Mulder Consulting” won (Proposal → Won)")
    expect(timeline).to_contain_text("Qualified → Proposal")
    # The refused promotion's 422 is the one error the browser reports.
    assert [e for e in console.errors if "/promote" not in e] == []
